//! The records of master data and adjustment slips (`feeds.md`), as parsed values.

use super::*;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// 取引先: an operating company, billed and paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    pub code: PartnerCode,
    pub name: Text,
    pub registration_number: Option<RegistrationNumber>,
    pub email: Option<Email>,
    pub notify: bool,
    /// 登録名: the name registered with the registration number, when it differs from `name`.
    pub registered_name: Option<Text>,
}

/// Who issues documents (the platform), or a processor named on them.
#[derive(Debug, Clone, Default)]
pub struct Issuer {
    pub name: String,
    pub registration_number: String,
}

/// 店舗: an arcade of one partner, for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    pub code: StoreCode,
    pub partner: PartnerCode,
    pub name: Text,
}

/// タイトル: a game.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title {
    pub code: TitleCode,
    pub name: Text,
}

/// Which store held a key-chip, and for which title, over an interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeychipAssignment {
    pub keychip: KeychipId,
    pub store: StoreCode,
    pub title: TitleCode,
    pub validity: Validity,
}

/// A charge of a title over an interval: billed per count, or a commission per count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub code: ChargeCode,
    pub title: TitleCode,
    pub kind: ChargeKind,
    pub item_name: Text,
    pub charge_name: Text,
    pub unit_price: UnitPrice,
    pub tax_rate: Percent,
    pub validity: Validity,
    /// ALL.Net区分: a search filter of 請求明細.
    pub allnet_class: Option<Text>,
}

/// A product sold at the cabinet over an interval, its price in whole yen, tax included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub code: ProductCode,
    pub title: TitleCode,
    pub product_name: Text,
    pub category: Text,
    pub settlement: Settlement,
    pub unit_price: Yen,
    pub validity: Validity,
}

/// A rate, in force from `valid_from` until the next one of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub name: RateName,
    pub value: Percent,
    pub valid_from: NaiveDate,
}

/// 調整伝票: a manual correction entered by finance for a month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdjustmentSlip {
    pub slip_no: SlipNo,
    pub partner: PartnerCode,
    pub store: StoreCode,
    pub keychip: Option<KeychipId>,
    pub item_no: Text,
    pub item_name: Text,
    pub adjusted_month: Month,
    pub transfer_date: NaiveDate,
    pub quantity: i64,
    pub unit_price: Yen,
    pub amount: Yen,
    pub kind: AdjustmentKind,
    pub description: Text,
}

/// All master data, each table by its key (`feeds.md`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MasterData {
    pub partners: BTreeMap<PartnerCode, Partner>,
    pub stores: BTreeMap<StoreCode, Store>,
    pub titles: BTreeMap<TitleCode, Title>,
    pub keychips: BTreeMap<(KeychipId, NaiveDate), KeychipAssignment>,
    pub charges: BTreeMap<(ChargeCode, NaiveDate), Charge>,
    pub products: BTreeMap<(ProductCode, NaiveDate), Product>,
    pub rates: BTreeMap<(RateName, NaiveDate), Rate>,
}

/// The row of `rows` (keyed by code and `valid_from`) in force on `date`: the last that starts
/// on or before it, if it has not ended (one code's intervals never overlap).
fn in_force<'a, K: Ord + Clone, V>(
    rows: &'a BTreeMap<(K, NaiveDate), V>,
    code: &K,
    date: NaiveDate,
    validity: impl Fn(&V) -> Validity,
) -> Option<&'a V> {
    let (_, row) = rows
        .range((code.clone(), NaiveDate::MIN)..=(code.clone(), date))
        .next_back()?;
    validity(row).contains(date).then_some(row)
}

impl MasterData {
    /// Which store held key-chip `id` on `date`.
    pub fn keychip_on(&self, id: &KeychipId, date: NaiveDate) -> Option<&KeychipAssignment> {
        in_force(&self.keychips, id, date, |k| k.validity)
    }

    /// Charge `code` as in force on `date`.
    pub fn charge_on(&self, code: &ChargeCode, date: NaiveDate) -> Option<&Charge> {
        in_force(&self.charges, code, date, |c| c.validity)
    }

    /// Product `code` as in force on `date`.
    pub fn product_on(&self, code: &ProductCode, date: NaiveDate) -> Option<&Product> {
        in_force(&self.products, code, date, |p| p.validity)
    }
}
