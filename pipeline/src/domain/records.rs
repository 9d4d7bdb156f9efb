//! The records of master data and adjustment slips (`feeds.md`), as parsed values.

use super::*;
use ahash::AHashMap;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::hash::Hash;

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

/// The rows of one dated master table (keyed by code and `valid_from`) by code: each code's
/// validities, in the order they start, side by side in one vector, and the code's range of it
/// by a hash of the code (kept inline: a code is at most 32 characters). A lookup touches the
/// hash table and the code's validities, and the row only when it is in force.
struct ByCode<'a, K, V> {
    ranges: AHashMap<K, std::ops::Range<usize>>,
    rows: Vec<(Validity, &'a V)>,
}

impl<'a, K: Hash + Eq + Clone, V> ByCode<'a, K, V> {
    fn new(table: &'a BTreeMap<(K, NaiveDate), V>, validity: fn(&V) -> Validity) -> Self {
        let mut ranges: AHashMap<K, std::ops::Range<usize>> = AHashMap::new();
        let mut rows = Vec::with_capacity(table.len());
        // The table is in the order of its keys: a code's rows are together, by start.
        for (i, ((code, _), row)) in table.iter().enumerate() {
            ranges.entry(code.clone()).or_insert(i..i).end = i + 1;
            rows.push((validity(row), row));
        }
        ByCode { ranges, rows }
    }

    /// The row of `code` in force on `date`: the last that starts on or before it, if it has
    /// not ended (one code's intervals never overlap).
    fn on(&self, code: &K, date: NaiveDate) -> Option<&'a V> {
        let rows = &self.rows[self.ranges.get(code)?.clone()];
        let started = rows.partition_point(|(validity, _)| validity.from <= date);
        let (validity, row) = rows[..started].last()?;
        validity.contains(date).then_some(*row)
    }
}

/// The master data's dated rows, looked up by code and date, and the stores: a close looks up
/// every key-chip's day, its store, and every charge's and product's, millions at a national
/// network's size, so the codes are hashed once here instead of searched for in the tables'
/// B-trees at each lookup.
pub struct InForce<'a> {
    stores: AHashMap<&'a StoreCode, &'a Store>,
    keychips: ByCode<'a, KeychipId, KeychipAssignment>,
    charges: ByCode<'a, ChargeCode, Charge>,
    products: ByCode<'a, ProductCode, Product>,
}

impl<'a> InForce<'a> {
    /// Store `code` (not dated: looked up with every key-chip's day).
    pub fn store(&self, code: &StoreCode) -> Option<&'a Store> {
        self.stores.get(code).copied()
    }

    /// Which store held key-chip `id` on `date`.
    pub fn keychip_on(&self, id: &KeychipId, date: NaiveDate) -> Option<&'a KeychipAssignment> {
        self.keychips.on(id, date)
    }

    /// Charge `code` as in force on `date`.
    pub fn charge_on(&self, code: &ChargeCode, date: NaiveDate) -> Option<&'a Charge> {
        self.charges.on(code, date)
    }

    /// Product `code` as in force on `date`.
    pub fn product_on(&self, code: &ProductCode, date: NaiveDate) -> Option<&'a Product> {
        self.products.on(code, date)
    }
}

impl MasterData {
    /// The key-chips', charges' and products' rows, to be looked up by code and date.
    pub fn in_force(&self) -> InForce<'_> {
        InForce {
            stores: self.stores.iter().collect(),
            keychips: ByCode::new(&self.keychips, |k| k.validity),
            charges: ByCode::new(&self.charges, |c| c.validity),
            products: ByCode::new(&self.products, |p| p.validity),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn held(keychip: &str, store: &str, from: &str, to: Option<&str>) -> KeychipAssignment {
        KeychipAssignment {
            keychip: KeychipId::parse(keychip).unwrap(),
            store: StoreCode::parse(store).unwrap(),
            title: TitleCode::parse("SH4").unwrap(),
            validity: Validity::new(date(from), to.map(date)).unwrap(),
        }
    }

    #[test]
    fn the_row_in_force_is_the_last_started_and_not_ended() {
        let mut master = MasterData::default();
        for row in [
            held("A1", "S1", "2026-10-01", Some("2026-10-10")),
            held("A1", "S2", "2026-10-15", None),
            held("A2", "S3", "2026-10-05", None),
        ] {
            master
                .keychips
                .insert((row.keychip.clone(), row.validity.from), row);
        }
        let in_force = master.in_force();
        let store_on = |keychip: &str, day: &str| {
            let keychip = KeychipId::parse(keychip).unwrap();
            in_force
                .keychip_on(&keychip, date(day))
                .map(|k| k.store.to_string())
        };
        assert_eq!(store_on("A1", "2026-09-30"), None, "before its first row");
        assert_eq!(store_on("A1", "2026-10-01").as_deref(), Some("S1"));
        assert_eq!(store_on("A1", "2026-10-10").as_deref(), Some("S1"));
        assert_eq!(store_on("A1", "2026-10-12"), None, "between two rows");
        assert_eq!(store_on("A1", "2026-10-15").as_deref(), Some("S2"));
        assert_eq!(store_on("A1", "2027-01-01").as_deref(), Some("S2"));
        assert_eq!(store_on("A2", "2026-10-04"), None);
        assert_eq!(store_on("A2", "2026-10-05").as_deref(), Some("S3"));
        assert_eq!(store_on("A3", "2026-10-05"), None, "no such key-chip");
    }
}
