//! The rules of `statements.md`, on the daily counts a close bills: attribution to stores and
//! partners, prices, the statement tables, the payment totals (A1–G2, PAY) and the invoices.
//! Money is exact: yen as integers, prices and rates as decimals, and every rounding is
//! [`half_up`] or [`truncate`] where the spec names it.

use super::events::{DailyPlays, DailyPurchases};
use super::CloseError;
use crate::domain::*;
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::{BTreeMap, BTreeSet};

/// The rates a statement uses: those in force on the last day of the closing month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    pub aimepay_fee: Decimal,
    pub emoney_fee: Decimal,
    pub consumption_tax: Decimal,
}

impl Rates {
    /// The rates of a statement as its tables record them (`payment_totals`).
    pub fn items(&self) -> [(&'static str, Decimal); 3] {
        [
            ("aimepay_fee", self.aimepay_fee),
            ("emoney_fee", self.emoney_fee),
            ("consumption_tax", self.consumption_tax),
        ]
    }

    pub fn on(master: &MasterData, date: NaiveDate) -> Result<Rates, String> {
        let rate = |name: RateName| {
            master
                .rates
                .values()
                .filter(|r| r.name == name && r.valid_from <= date)
                .max_by_key(|r| r.valid_from)
                .map(|r| r.value.0)
                .ok_or_else(|| format!("no {name} rate is in force on {date}"))
        };
        Ok(Rates {
            aimepay_fee: rate(RateName::AimepayFee)?,
            emoney_fee: rate(RateName::EmoneyFee)?,
            consumption_tax: rate(RateName::ConsumptionTax)?,
        })
    }
}

/// Where an event belongs: its store and partner on its date.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Place {
    pub partner: PartnerCode,
    pub store: StoreCode,
    pub play_month: Month,
    pub keychip: String,
}

/// What was played or bought on one key-chip on one day: a charge's plays, or a product's
/// purchases by one payment method.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Usage {
    Plays {
        charge: String,
    },
    /// The payment method is unknown only for platform sales read back from a close's
    /// 参考情報 (which does not split them by method).
    Purchases {
        product: String,
        method: Option<PaymentMethod>,
    },
}

/// A day's count of one usage, attributed to the store that held the key-chip that day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedDay {
    pub place: Place,
    pub date: NaiveDate,
    pub usage: Usage,
    pub count: i64,
}

/// The count of each day of a detail row (the daily views).
pub type Days = BTreeMap<NaiveDate, i64>;

/// 請求明細: per partner, store, play month, key-chip, charge and unit price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingDetail {
    pub place: Place,
    pub charge: Charge,
    pub count: i64,
    pub amount: i64,
    pub days: Days,
}

impl BillingDetail {
    /// The daily view: each day's count and its own half-up amount.
    pub fn daily(&self) -> impl Iterator<Item = (NaiveDate, i64, i64)> + '_ {
        let price = self.charge.unit_price.0;
        self.days
            .iter()
            .map(move |(&date, &count)| (date, count, day_amount(count, price)))
    }
}

/// 支払明細: a commission charge, or an operator's product per payment method and price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentDetail {
    pub place: Place,
    pub title: TitleCode,
    /// The charge (commissions) or the product.
    pub code: String,
    pub product_name: Text,
    pub category: Text,
    pub method: Option<PaymentMethod>,
    pub count: i64,
    /// `None` for commissions (shown `-`).
    pub unit_price: Option<i64>,
    pub amount: Option<i64>,
    pub refund_unit_price: Decimal,
    pub refund_amount: i64,
    pub days: Days,
}

impl PaymentDetail {
    /// The charge (commissions) and the product (sales): one of them is set.
    pub fn codes(&self) -> (Option<&str>, Option<&str>) {
        match self.method {
            None => (Some(&self.code), None),
            Some(_) => (None, Some(&self.code)),
        }
    }

    /// The table's key order: where, title, charge or product (sales first), method, price.
    fn key(&self) -> PaymentKey<'_> {
        (
            &self.place,
            &self.title,
            self.codes(),
            self.method,
            self.unit_price,
            self.refund_unit_price,
        )
    }
}

type PaymentKey<'a> = (
    &'a Place,
    &'a TitleCode,
    (Option<&'a str>, Option<&'a str>),
    Option<PaymentMethod>,
    Option<i64>,
    Decimal,
);

/// A day of a payment detail: count, amount (none for commissions) and refund amount.
pub type PaymentDay = (NaiveDate, i64, Option<i64>, i64);

impl PaymentDetail {
    /// The daily view, each day rounded on its own.
    pub fn daily(&self) -> impl Iterator<Item = PaymentDay> + '_ {
        self.days.iter().map(|(&date, &count)| {
            (
                date,
                count,
                self.unit_price
                    .map(|price| day_amount(count, Decimal::from(price))),
                day_amount(count, self.refund_unit_price),
            )
        })
    }
}

/// 参考情報: a platform product per unit price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceRow {
    pub place: Place,
    pub title: TitleCode,
    pub product: ProductCode,
    pub product_name: Text,
    pub category: Text,
    pub count: i64,
    pub unit_price: i64,
    pub amount: i64,
    pub days: Days,
}

impl ReferenceRow {
    pub fn daily(&self) -> impl Iterator<Item = (NaiveDate, i64, i64)> + '_ {
        let price = Decimal::from(self.unit_price);
        self.days
            .iter()
            .map(move |(&date, &count)| (date, count, day_amount(count, price)))
    }
}

/// 支払合計 of one partner, over all titles (`title` none) or one title.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentTotals {
    pub a1: i64,
    pub a2: i64,
    pub b1: i64,
    pub b2: i64,
    pub b3: i64,
    pub b4: i64,
    pub c1: i64,
    pub d1: i64,
    pub e1: i64,
    pub f1: i64,
    pub f2: i64,
    pub f3: i64,
    pub f4: i64,
    pub g1: i64,
    pub g2: i64,
    pub pay: i64,
}

impl PaymentTotals {
    pub fn is_zero(&self) -> bool {
        *self == PaymentTotals::default()
    }

    /// The items in the statement's order, with their labels: A1 … G2, then PAY.
    pub fn items(&self) -> [(&'static str, i64); 16] {
        [
            ("A1", self.a1),
            ("A2", self.a2),
            ("B1", self.b1),
            ("B2", self.b2),
            ("B3", self.b3),
            ("B4", self.b4),
            ("C1", self.c1),
            ("D1", self.d1),
            ("E1", self.e1),
            ("F1", self.f1),
            ("F2", self.f2),
            ("F3", self.f3),
            ("F4", self.f4),
            ("G1", self.g1),
            ("G2", self.g2),
            ("PAY", self.pay),
        ]
    }
}

/// A line of an invoice: a charge of a play month at a unit price, or a billed slip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    pub item_name: String,
    pub charge_name: String,
    pub play_month: Option<Month>,
    pub count: i64,
    pub unit_price: Decimal,
    pub amount: i64,
    pub tax_rate: Decimal,
    pub slip_no: Option<String>,
}

/// 請求書 of one partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// The voided invoice this one reissues.
    pub replaces: Option<String>,
    pub partner: PartnerCode,
    pub invoice_no: String,
    pub lines: Vec<InvoiceLine>,
    /// Per tax rate: the subtotal (tax excluded) and the tax, computed once per invoice.
    pub taxes: Vec<(Decimal, i64, i64)>,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
}

/// Every table of a close, in the order of their keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statements {
    /// The rates the statements were computed with, recorded in `payment_totals`.
    pub rates: Rates,
    pub billing: Vec<BillingDetail>,
    pub payments: Vec<PaymentDetail>,
    pub reference: Vec<ReferenceRow>,
    /// Per partner: all titles (`None`) first, then each title.
    pub totals: BTreeMap<PartnerCode, Vec<(Option<TitleCode>, PaymentTotals)>>,
    pub slips: Vec<AdjustmentSlip>,
    pub invoices: Vec<Invoice>,
}

impl Invoice {
    /// The invoice as the database records it when issued.
    pub fn record(&self) -> crate::db::InvoiceRecord {
        crate::db::InvoiceRecord {
            invoice_no: self.invoice_no.clone(),
            partner_code: self.partner.to_string(),
            subtotal: self.subtotal,
            tax: self.tax,
            total: self.total,
            status: "ISSUED".into(),
            replaces: self.replaces.clone(),
            void_reason: None,
        }
    }
}

impl Statements {
    /// Whether any event played or bought in `month` is billed.
    pub fn has_events_of(&self, month: Month) -> bool {
        let billing = self.billing.iter().map(|b| &b.place);
        let payments = self.payments.iter().map(|p| &p.place);
        let reference = self.reference.iter().map(|r| &r.place);
        billing
            .chain(payments)
            .chain(reference)
            .any(|place| place.play_month == month)
    }

    /// A partner's payment totals over all titles.
    pub fn totals_of(&self, partner: &PartnerCode) -> Option<&PaymentTotals> {
        self.totals
            .get(partner)
            .and_then(|rows| rows.iter().find(|(title, _)| title.is_none()))
            .map(|(_, totals)| totals)
    }
}

fn in_force<'a, T>(
    rows: impl Iterator<Item = &'a T>,
    date: NaiveDate,
    validity: impl Fn(&T) -> Validity,
) -> Option<&'a T>
where
    T: 'a,
{
    rows.into_iter().find(|r| validity(r).contains(date))
}

/// Attribute a key-chip's day to its store and partner, by the master data as it is now.
fn place(master: &MasterData, keychip: &str, date: NaiveDate) -> Option<Place> {
    let id = KeychipId::parse(keychip).ok()?;
    let held = master
        .keychips
        .range((id.clone(), NaiveDate::MIN)..=(id, NaiveDate::MAX));
    let assignment = in_force(held.map(|(_, k)| k), date, |k| k.validity)?;
    let store = master.stores.get(&assignment.store)?;
    Some(Place {
        partner: store.partner.clone(),
        store: store.code.clone(),
        play_month: Month::of(date),
        keychip: keychip.to_owned(),
    })
}

/// Attribute every billed day to the store that held its key-chip on that day; the days that
/// no store held are listed as the error.
pub fn attribute(
    master: &MasterData,
    plays: &[DailyPlays],
    purchases: &[DailyPurchases],
) -> Result<Vec<PlacedDay>, Vec<String>> {
    let days = plays
        .iter()
        .map(|d| {
            let usage = Usage::Plays {
                charge: d.charge.clone(),
            };
            (&d.keychip, d.date, usage, d.count)
        })
        .chain(purchases.iter().map(|d| {
            let usage = Usage::Purchases {
                product: d.product.clone(),
                method: Some(d.method),
            };
            (&d.keychip, d.date, usage, d.quantity)
        }));
    let mut placed = Vec::new();
    let mut unheld = Vec::new();
    for (keychip, date, usage, count) in days {
        match place(master, keychip, date) {
            Some(place) => placed.push(PlacedDay {
                place,
                date,
                usage,
                count,
            }),
            None => unheld.push(format!("key-chip {keychip} on {date}: no store held it")),
        }
    }
    if unheld.is_empty() {
        Ok(placed)
    } else {
        unheld.sort();
        unheld.dedup();
        Err(unheld)
    }
}

/// A product's refund unit price: its price less the fee, half-up to 2 decimal places.
fn refund_unit_price(price: i64, fee: Decimal) -> Decimal {
    let refund = Decimal::from(price) * (Decimal::ONE_HUNDRED - fee) / Decimal::ONE_HUNDRED;
    refund.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// half-up(`count` × `price`) of one day of a detail row whose month was computed with
/// checked arithmetic: a day's count is part of its month's, so its amount fits too.
fn day_amount(count: i64, price: Decimal) -> i64 {
    amount(count, price).expect("a day's amount is within its month's")
}

/// half-up(`count` × `price`), checked.
fn amount(count: i64, price: Decimal) -> Result<i64, Overflow> {
    Ok(half_up(times(count, price)?)?.0)
}

/// Count a day into the detail row of `key`, starting the row from `start`.
fn count_day<K: Ord, V>(
    rows: &mut BTreeMap<K, (V, Days)>,
    key: K,
    start: impl FnOnce() -> V,
    day: &PlacedDay,
) {
    *rows
        .entry(key)
        .or_insert_with(|| (start(), Days::new()))
        .1
        .entry(day.date)
        .or_default() += day.count;
}

fn total(days: &Days) -> Result<i64, Overflow> {
    checked_sum(days.values().copied())
}

/// The error of a figure of `partner`'s that does not fit.
fn overflow(partner: &PartnerCode) -> impl Fn(Overflow) -> CloseError + '_ {
    move |_| CloseError::Overflow(partner.to_string())
}

/// Compute every table of a close from the days it bills, attributed. Days whose charge or
/// product is not in force are listed as the error; a figure that does not fit names its
/// partner.
pub fn statements(
    master: &MasterData,
    rates: Rates,
    days: &[PlacedDay],
    slips: Vec<AdjustmentSlip>,
    first_invoice_number: u32,
) -> Result<Statements, CloseError> {
    let mut unpriced = Vec::new();
    // A row per unit price (by value: 100 and 100.00 are one price) and, for billing, per tax
    // rate: a change of either inside a month makes two rows, each day priced as it was.
    let mut billing: BTreeMap<(Place, ChargeCode, Decimal, Decimal), (Charge, Days)> =
        BTreeMap::new();
    let mut commissions: BTreeMap<(Place, ChargeCode, Decimal), (Charge, Days)> = BTreeMap::new();
    // Platform sales are not split by payment method: their key has none.
    type ProductKey = (Place, ProductCode, Option<PaymentMethod>, i64);
    let mut sold: BTreeMap<ProductKey, (Product, Days)> = BTreeMap::new();
    for day in days {
        match &day.usage {
            Usage::Plays { charge } => {
                let charges = master
                    .charges
                    .values()
                    .filter(|c| c.code.as_str() == charge);
                let Some(charge) = in_force(charges, day.date, |c| c.validity) else {
                    unpriced.push(format!("charge {charge} is not in force on {}", day.date));
                    continue;
                };
                let (place, code, price) =
                    (day.place.clone(), charge.code.clone(), charge.unit_price.0);
                match charge.kind {
                    ChargeKind::Billing => {
                        let key = (place, code, price, charge.tax_rate.0);
                        count_day(&mut billing, key, || charge.clone(), day);
                    }
                    ChargeKind::Commission => {
                        count_day(
                            &mut commissions,
                            (place, code, price),
                            || charge.clone(),
                            day,
                        );
                    }
                }
            }
            Usage::Purchases { product, method } => {
                let products = master
                    .products
                    .values()
                    .filter(|p| p.code.as_str() == product);
                let Some(product) = in_force(products, day.date, |p| p.validity) else {
                    unpriced.push(format!("product {product} is not in force on {}", day.date));
                    continue;
                };
                let method = match product.settlement {
                    Settlement::Platform => None,
                    Settlement::Operator if method.is_none() => {
                        unpriced.push(format!(
                            "product {} was sold on {} by an unknown payment method",
                            product.code, day.date
                        ));
                        continue;
                    }
                    Settlement::Operator => *method,
                };
                let key = (
                    day.place.clone(),
                    product.code.clone(),
                    method,
                    product.unit_price.0,
                );
                count_day(&mut sold, key, || product.clone(), day);
            }
        }
    }
    if !unpriced.is_empty() {
        unpriced.sort();
        unpriced.dedup();
        return Err(CloseError::Unbillable(unpriced));
    }

    let mut billed = Vec::new();
    for ((place, _, price, _), (charge, days)) in billing {
        let count = total(&days).map_err(overflow(&place.partner))?;
        billed.push(BillingDetail {
            amount: amount(count, price).map_err(overflow(&place.partner))?,
            count,
            place,
            charge,
            days,
        });
    }
    let mut payments = Vec::new();
    for ((place, _, price), (charge, days)) in commissions {
        let count = total(&days).map_err(overflow(&place.partner))?;
        payments.push(PaymentDetail {
            title: charge.title.clone(),
            code: charge.code.to_string(),
            product_name: charge.item_name.clone(),
            category: charge.charge_name.clone(),
            method: None,
            count,
            unit_price: None,
            amount: None,
            refund_unit_price: price,
            refund_amount: amount(count, price).map_err(overflow(&place.partner))?,
            place,
            days,
        });
    }
    let mut reference = Vec::new();
    for ((place, _, method, price), (product, days)) in sold {
        let partner = place.partner.clone();
        let overflow = overflow(&partner);
        let count = total(&days).map_err(&overflow)?;
        let sales = count
            .checked_mul(price)
            .ok_or(Overflow)
            .map_err(&overflow)?;
        match product.settlement {
            Settlement::Operator => {
                let fee = match method {
                    Some(PaymentMethod::Aimepay) => rates.aimepay_fee,
                    _ => rates.emoney_fee,
                };
                let refund_unit_price = refund_unit_price(price, fee);
                payments.push(PaymentDetail {
                    title: product.title.clone(),
                    code: product.code.to_string(),
                    product_name: product.product_name.clone(),
                    category: product.category.clone(),
                    method,
                    count,
                    unit_price: Some(price),
                    amount: Some(sales),
                    refund_unit_price,
                    refund_amount: amount(count, refund_unit_price).map_err(&overflow)?,
                    place,
                    days,
                });
            }
            Settlement::Platform => reference.push(ReferenceRow {
                title: product.title.clone(),
                product: product.code.clone(),
                product_name: product.product_name.clone(),
                category: product.category.clone(),
                count,
                unit_price: price,
                amount: sales,
                place,
                days,
            }),
        }
    }
    payments.sort_by(|a, b| a.key().cmp(&b.key()));
    reference.sort_by(|a, b| {
        let key = |r: &ReferenceRow| (r.place.clone(), r.title.clone(), r.product.clone());
        key(a).cmp(&key(b))
    });

    let totals = all_totals(&payments, &slips, rates)?;
    let invoices = invoices(&billed, &slips, rates, first_invoice_number)?;
    Ok(Statements {
        rates,
        billing: billed,
        payments,
        reference,
        totals,
        slips,
        invoices,
    })
}

/// Per partner: its payment totals over all titles (`None`) first, then each title.
type PartnerTotals = BTreeMap<PartnerCode, Vec<(Option<TitleCode>, PaymentTotals)>>;

/// The payment totals of every partner with payment details or slips: all titles, then each.
fn all_totals(
    payments: &[PaymentDetail],
    slips: &[AdjustmentSlip],
    rates: Rates,
) -> Result<PartnerTotals, CloseError> {
    let partners: BTreeSet<&PartnerCode> = payments
        .iter()
        .map(|p| &p.place.partner)
        .chain(slips.iter().map(|s| &s.partner))
        .collect();
    partners
        .into_iter()
        .map(|partner| {
            let own: Vec<&PaymentDetail> = payments
                .iter()
                .filter(|p| &p.place.partner == partner)
                .collect();
            let own_slips: Vec<(AdjustmentKind, i64)> = slips
                .iter()
                .filter(|s| &s.partner == partner)
                .map(|s| (s.kind, s.amount.0))
                .collect();
            let figures = |title: Option<&TitleCode>| -> Vec<PaymentFigures> {
                own.iter()
                    .filter(|p| title.is_none_or(|t| &p.title == t))
                    .map(|p| p.figures())
                    .collect()
            };
            let overflow = overflow(partner);
            let all = payment_totals(&figures(None), &own_slips, rates).map_err(&overflow)?;
            let mut rows = vec![(None, all)];
            let titles: BTreeSet<&TitleCode> = own.iter().map(|p| &p.title).collect();
            for title in titles {
                let totals =
                    payment_totals(&figures(Some(title)), &[], rates).map_err(&overflow)?;
                rows.push((Some(title.clone()), totals));
            }
            Ok((partner.clone(), rows))
        })
        .collect()
}

/// What 支払合計 reads of a payment detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentFigures {
    /// None for commissions.
    pub method: Option<PaymentMethod>,
    pub count: i64,
    pub amount: Option<i64>,
    pub refund_unit_price: Decimal,
}

impl PaymentDetail {
    pub fn figures(&self) -> PaymentFigures {
        PaymentFigures {
            method: self.method,
            count: self.count,
            amount: self.amount,
            refund_unit_price: self.refund_unit_price,
        }
    }
}

/// 支払合計 (statements.md): A1 to G2 and PAY from payment details and the kinds and amounts
/// of adjustment slips; every sum checked.
pub fn payment_totals(
    payments: &[PaymentFigures],
    slips: &[(AdjustmentKind, i64)],
    rates: Rates,
) -> Result<PaymentTotals, Overflow> {
    let t = rates.consumption_tax;
    let sold = |method: PaymentMethod| {
        checked_sum(
            payments
                .iter()
                .filter(|p| p.method == Some(method))
                .filter_map(|p| p.amount),
        )
    };
    let slipped = |kind: AdjustmentKind| {
        checked_sum(
            slips
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, amount)| *amount),
        )
    };
    let add = |a: i64, b: i64| a.checked_add(b).ok_or(Overflow);
    let sub = |a: i64, b: i64| a.checked_sub(b).ok_or(Overflow);
    let a1 = sold(PaymentMethod::Aimepay)?;
    let a2 = percent_of(a1, rates.aimepay_fee)?.0;
    let b1 = sold(PaymentMethod::Emoney)?;
    let b2 = percent_of(b1, rates.emoney_fee)?.0;
    let b3 = percent_of(b2, t)?.0;
    let b4 = add(b2, b3)?;
    let mut commission = Decimal::ZERO;
    for p in payments.iter().filter(|p| p.method.is_none()) {
        commission = commission
            .checked_add(times(p.count, p.refund_unit_price)?)
            .ok_or(Overflow)?;
    }
    let c1 = truncate(commission)?.0;
    let (d1, e1) = (
        slipped(AdjustmentKind::Payment)?,
        slipped(AdjustmentKind::Refund)?,
    );
    let (f1, f2) = (a2, e1);
    let f3 = sub(f1, f2)?;
    let f4 = tax_included(f3, t)?.0;
    let g1 = add(c1, d1)?;
    let g2 = tax_included(g1, t)?.0;
    let pay = add(sub(sub(add(a1, b1)?, b4)?, f3)?, g1)?;
    Ok(PaymentTotals {
        a1,
        a2,
        b1,
        b2,
        b3,
        b4,
        c1,
        d1,
        e1,
        f1,
        f2,
        f3,
        f4,
        g1,
        g2,
        pay,
    })
}

/// The highest invoice number: numbers are 7-digit strings.
pub const LAST_INVOICE_NUMBER: u32 = 9_999_999;

/// Where a line sits on an invoice: the charges' lines by charge, play month, unit price and
/// tax rate (prices and rates by value), then the billed slips by number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LineKey {
    Charge(String, Month, Decimal, Decimal),
    Slip(String),
}

/// One invoice per partner with billing details or billing slips, numbered from `first` in
/// ascending partner code order.
fn invoices(
    billing: &[BillingDetail],
    slips: &[AdjustmentSlip],
    rates: Rates,
    first: u32,
) -> Result<Vec<Invoice>, CloseError> {
    let mut lines: BTreeMap<&PartnerCode, BTreeMap<LineKey, InvoiceLine>> = BTreeMap::new();
    for detail in billing {
        let charge = &detail.charge;
        let key = LineKey::Charge(
            charge.code.to_string(),
            detail.place.play_month,
            charge.unit_price.0,
            charge.tax_rate.0,
        );
        let line = lines
            .entry(&detail.place.partner)
            .or_default()
            .entry(key)
            .or_insert_with(|| InvoiceLine {
                item_name: charge.item_name.to_string(),
                charge_name: charge.charge_name.to_string(),
                play_month: Some(detail.place.play_month),
                count: 0,
                unit_price: charge.unit_price.0,
                amount: 0,
                tax_rate: charge.tax_rate.0,
                slip_no: None,
            });
        let overflow = overflow(&detail.place.partner);
        line.count = checked_sum([line.count, detail.count]).map_err(&overflow)?;
        line.amount = checked_sum([line.amount, detail.amount]).map_err(&overflow)?;
    }
    for slip in slips.iter().filter(|s| s.kind == AdjustmentKind::Billing) {
        lines.entry(&slip.partner).or_default().insert(
            LineKey::Slip(slip.slip_no.to_string()),
            InvoiceLine {
                item_name: slip.item_name.to_string(),
                charge_name: slip.description.to_string(),
                play_month: None,
                count: slip.quantity,
                unit_price: Decimal::from(slip.unit_price.0),
                amount: slip.amount.0,
                tax_rate: rates.consumption_tax,
                slip_no: Some(slip.slip_no.to_string()),
            },
        );
    }
    let count = lines.len() as u64;
    if count > 0 && u64::from(first) + count - 1 > u64::from(LAST_INVOICE_NUMBER) {
        return Err(CloseError::InvoiceNumbers {
            first,
            needed: count,
        });
    }
    lines
        .into_iter()
        .enumerate()
        .map(|(i, (partner, lines))| invoice(partner, first + i as u32, lines))
        .collect()
}

/// A partner's invoice from its lines: per tax rate the subtotal and the tax, once each.
fn invoice(
    partner: &PartnerCode,
    number: u32,
    lines: BTreeMap<LineKey, InvoiceLine>,
) -> Result<Invoice, CloseError> {
    let overflow = overflow(partner);
    let lines: Vec<InvoiceLine> = lines.into_values().collect();
    let mut by_rate: BTreeMap<Decimal, i64> = BTreeMap::new();
    for line in &lines {
        let subtotal = by_rate.entry(line.tax_rate).or_default();
        *subtotal = checked_sum([*subtotal, line.amount]).map_err(&overflow)?;
    }
    let taxes = by_rate
        .into_iter()
        .map(|(rate, subtotal)| Ok((rate, subtotal, percent_of(subtotal, rate)?.0)))
        .collect::<Result<Vec<(Decimal, i64, i64)>, Overflow>>()
        .map_err(&overflow)?;
    let subtotal = checked_sum(taxes.iter().map(|t| t.1)).map_err(&overflow)?;
    let tax = checked_sum(taxes.iter().map(|t| t.2)).map_err(&overflow)?;
    Ok(Invoice {
        replaces: None,
        partner: partner.clone(),
        invoice_no: format!("{number:07}"),
        lines,
        taxes,
        subtotal,
        tax,
        total: checked_sum([subtotal, tax]).map_err(&overflow)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates() -> Rates {
        Rates {
            aimepay_fee: Decimal::from(5),
            emoney_fee: Decimal::from(3),
            consumption_tax: Decimal::from(10),
        }
    }

    fn sales(
        method: Option<PaymentMethod>,
        count: i64,
        amount: Option<i64>,
        refund: Decimal,
    ) -> PaymentFigures {
        PaymentFigures {
            method,
            count,
            amount,
            refund_unit_price: refund,
        }
    }

    #[test]
    fn the_guides_statement_from_the_rules_alone() {
        let payments = [
            sales(Some(PaymentMethod::Aimepay), 1, Some(12_100), Decimal::ZERO),
            sales(Some(PaymentMethod::Emoney), 1, Some(51_000), Decimal::ZERO),
            sales(None, 55_940, None, Decimal::new(4, 1)),
        ];
        let t = payment_totals(&payments, &[], rates()).unwrap();
        let items: Vec<i64> = t.items().iter().map(|(_, v)| *v).collect();
        assert_eq!(
            items,
            [
                12_100, 605, 51_000, 1_530, 153, 1_683, 22_376, 0, 0, 605, 0, 605, 55, 22_376,
                2_034, 83_188
            ]
        );
    }

    #[test]
    fn refunds_and_amounts_round_half_up_not_to_even() {
        // メダル5000円(電子マネー): 5,000 less 3 % → 4,850; a 110-yen item by AimePay → 104.50 → 105.
        assert_eq!(
            refund_unit_price(5_000, Decimal::from(3)),
            Decimal::from(4_850)
        );
        let aime = refund_unit_price(110, Decimal::from(5));
        assert_eq!(aime, Decimal::new(10_450, 2));
        assert_eq!(amount(1, aime).unwrap(), 105);
        // 5 plays at 32.5 yen: 162.5 → 163 (banker's rounding would give 162).
        assert_eq!(amount(5, Decimal::new(325, 1)).unwrap(), 163);
        // The guide's commission lines: 3,860 → 1,544; 94 → 37.6 → 38.
        assert_eq!(amount(3_860, Decimal::new(4, 1)).unwrap(), 1_544);
        assert_eq!(amount(94, Decimal::new(4, 1)).unwrap(), 38);
    }

    fn charge(code: &str, price: Decimal, rate: i64) -> Charge {
        let text = |t: &str| Text::parse_bounded(t, 1, 100).unwrap();
        Charge {
            code: ChargeCode::parse(code).unwrap(),
            title: TitleCode::parse("CHUNI").unwrap(),
            kind: ChargeKind::Billing,
            item_name: text("CHUNITHMシリーズ"),
            charge_name: text(code),
            unit_price: UnitPrice(price),
            tax_rate: Percent(Decimal::from(rate)),
            validity: Validity::new(NaiveDate::MIN, None).unwrap(),
            allnet_class: None,
        }
    }

    #[test]
    fn tax_is_computed_once_per_invoice_and_rate_not_per_line() {
        let place = Place {
            partner: PartnerCode::parse("229999000").unwrap(),
            store: StoreCode::parse("S1").unwrap(),
            play_month: Month::parse("2026-09").unwrap(),
            keychip: "A72E0000001".into(),
        };
        let detail = |code: &str, price: Decimal, rate: i64, amount: i64| BillingDetail {
            place: place.clone(),
            charge: charge(code, price, rate),
            count: 1,
            amount,
            days: Days::new(),
        };
        // Lines of 163, 89 and 75 at 10 %, and 55 at 8 %: per line the 10 % taxes would be
        // 16 + 8 + 7 = 31; once per rate they are truncate(32.7) = 32, and 8 % gives 4.
        let billing = [
            detail("A", Decimal::from(163), 10, 163),
            detail("B", Decimal::from(89), 10, 89),
            detail("C", Decimal::from(75), 10, 75),
            detail("D", Decimal::from(55), 8, 55),
        ];
        let invoice = &invoices(&billing, &[], rates(), 1_700_000).unwrap()[0];
        assert_eq!(
            invoice.taxes,
            [(Decimal::from(8), 55, 4), (Decimal::from(10), 327, 32)]
        );
        assert_eq!(
            (invoice.subtotal, invoice.tax, invoice.total),
            (382, 36, 418)
        );
        let per_line: i64 = billing
            .iter()
            .map(|d| percent_of(d.amount, d.charge.tax_rate.0).unwrap().0)
            .sum();
        assert_ne!(per_line, invoice.tax);
    }

    fn day(text: &str) -> NaiveDate {
        parse_date(text).unwrap()
    }

    /// A charge of `kind` in force from `from` to `to`, its price and tax rate as written.
    fn priced(kind: ChargeKind, price: &str, rate: &str, from: &str, to: Option<&str>) -> Charge {
        Charge {
            kind,
            unit_price: UnitPrice::parse(price).unwrap(),
            tax_rate: Percent::parse(rate).unwrap(),
            validity: Validity::new(day(from), to.map(day)).unwrap(),
            ..charge("C", Decimal::ZERO, 10)
        }
    }

    fn master_with(charges: &[Charge]) -> MasterData {
        let mut master = MasterData::default();
        for c in charges {
            master
                .charges
                .insert((c.code.clone(), c.validity.from), c.clone());
        }
        master
    }

    fn placed(date: &str, count: i64) -> PlacedDay {
        PlacedDay {
            place: Place {
                partner: PartnerCode::parse("229999000").unwrap(),
                store: StoreCode::parse("S1").unwrap(),
                play_month: Month::of(day(date)),
                keychip: "A72E0000001".into(),
            },
            date: day(date),
            usage: Usage::Plays { charge: "C".into() },
            count,
        }
    }

    fn close_of(charges: &[Charge], days: &[PlacedDay]) -> Result<Statements, CloseError> {
        statements(&master_with(charges), rates(), days, Vec::new(), 1_700_000)
    }

    #[test]
    fn a_commission_priced_anew_mid_month_makes_two_rows_each_day_at_its_price() {
        let commission = ChargeKind::Commission;
        let charges = [
            priced(commission, "0.4", "10", "2026-01-01", Some("2026-09-15")),
            priced(commission, "0.5", "10", "2026-09-16", None),
        ];
        let days = [placed("2026-09-10", 100), placed("2026-09-20", 100)];
        let s = close_of(&charges, &days).unwrap();
        let rows: Vec<(i64, Decimal, i64)> = s
            .payments
            .iter()
            .map(|p| (p.count, p.refund_unit_price, p.refund_amount))
            .collect();
        assert_eq!(
            rows,
            [(100, Decimal::new(4, 1), 40), (100, Decimal::new(5, 1), 50)]
        );
        assert_eq!(s.totals_of(&days[0].place.partner).unwrap().c1, 90);
    }

    #[test]
    fn a_tax_rate_change_at_one_price_makes_two_rows_and_two_taxes() {
        // Japan's 8 → 10 % of October 2019, the price unchanged.
        let billing = ChargeKind::Billing;
        let charges = [
            priced(billing, "100", "8", "2019-01-01", Some("2019-09-30")),
            priced(billing, "100", "10", "2019-10-01", None),
        ];
        let days = [placed("2019-09-30", 3), placed("2019-10-01", 2)];
        let s = close_of(&charges, &days).unwrap();
        let rows: Vec<(i64, Decimal)> = s
            .billing
            .iter()
            .map(|b| (b.count, b.charge.tax_rate.0))
            .collect();
        assert_eq!(rows, [(3, Decimal::from(8)), (2, Decimal::from(10))]);
        let invoice = &s.invoices[0];
        assert_eq!(invoice.lines.len(), 2, "a line never mixes two rates");
        assert_eq!(
            invoice.taxes,
            [(Decimal::from(8), 300, 24), (Decimal::from(10), 200, 20)]
        );
    }

    #[test]
    fn a_price_is_grouped_by_its_value_not_its_text() {
        let billing = ChargeKind::Billing;
        let charges = [
            priced(billing, "100", "10", "2026-01-01", Some("2026-09-15")),
            priced(billing, "100.00", "10", "2026-09-16", None),
        ];
        let days = [placed("2026-09-10", 1), placed("2026-09-20", 2)];
        let s = close_of(&charges, &days).unwrap();
        assert_eq!(s.billing.len(), 1);
        assert_eq!((s.billing[0].count, s.billing[0].amount), (3, 300));
        assert_eq!(s.invoices[0].lines.len(), 1);
    }

    #[test]
    fn an_amount_that_does_not_fit_names_its_partner() {
        let billing = ChargeKind::Billing;
        let charges = [priced(billing, "1000", "10", "2026-01-01", None)];
        // Two days whose counts do not add up in 64 bits, and a count whose amount does not.
        for days in [
            vec![placed("2026-09-10", i64::MAX), placed("2026-09-11", 1)],
            vec![placed("2026-09-10", i64::MAX / 10)],
        ] {
            let error = close_of(&charges, &days).unwrap_err();
            assert!(
                matches!(&error, CloseError::Overflow(p) if p == "229999000"),
                "{error}"
            );
        }
        // Taxes on a subtotal near the limit overflow the invoice's total, not silently.
        let charges = [priced(billing, "1", "10", "2026-01-01", None)];
        let error = close_of(&charges, &[placed("2026-09-10", i64::MAX - 1)]).unwrap_err();
        assert!(matches!(error, CloseError::Overflow(_)), "{error}");
    }

    #[test]
    fn invoice_numbers_past_seven_digits_are_an_error() {
        let billing = ChargeKind::Billing;
        let charges = [priced(billing, "100", "10", "2026-01-01", None)];
        let master = master_with(&charges);
        let days = [placed("2026-09-10", 1)];
        let last = statements(&master, rates(), &days, Vec::new(), LAST_INVOICE_NUMBER).unwrap();
        assert_eq!(last.invoices[0].invoice_no, "9999999");
        let error =
            statements(&master, rates(), &days, Vec::new(), LAST_INVOICE_NUMBER + 1).unwrap_err();
        assert!(
            matches!(error, CloseError::InvoiceNumbers { .. }),
            "{error}"
        );
    }
}
