//! Pricing: 請求明細, 支払明細 and 参考情報 (`statements.md`, "請求明細 — billing details",
//! "支払明細 — payment details", "参考情報 — reference info"). A day's counts are priced by the
//! charge or product in force that day, so a price (or tax rate) that changes inside a month
//! makes two rows; a row's amount is half-up(count × unit price), and each day of its daily view
//! is rounded on its own. An operator's sale pays back its price less the fee (`EMONEY_FEE` or
//! `AIMEPAY_FEE`), half-up to 2 decimal places.

use super::attribution::{attributed, Place, PlacedDay, Usage};
use super::events::{DailyPlays, DailyPurchases};
use super::statements::overflow;
use super::CloseError;
use crate::domain::*;
use ahash::AHashMap;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::borrow::Borrow;
use std::collections::BTreeMap;

/// The count of each day of a detail row (the daily views).
pub type Days = BTreeMap<NaiveDate, i64>;

/// 請求明細: per partner, store, play month, key-chip, charge and unit price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingDetail {
    pub place: Place,
    pub charge: Charge,
    pub count: i64,
    pub amount: Yen,
    pub days: Days,
}

impl BillingDetail {
    /// The daily view: each day's count and its own half-up amount.
    pub fn daily(&self) -> impl Iterator<Item = (NaiveDate, i64, Yen)> + '_ {
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
    pub unit_price: Option<Yen>,
    pub amount: Option<Yen>,
    pub refund_unit_price: Decimal,
    pub refund_amount: Yen,
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
    Option<Yen>,
    Decimal,
);

/// A day of a payment detail: count, amount (none for commissions) and refund amount.
pub type PaymentDay = (NaiveDate, i64, Option<Yen>, Yen);

impl PaymentDetail {
    /// The daily view, each day rounded on its own.
    pub fn daily(&self) -> impl Iterator<Item = PaymentDay> + '_ {
        self.days.iter().map(|(&date, &count)| {
            (
                date,
                count,
                self.unit_price
                    .map(|price| day_amount(count, Decimal::from(price.0))),
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
    pub unit_price: Yen,
    pub amount: Yen,
    pub days: Days,
}

impl ReferenceRow {
    pub fn daily(&self) -> impl Iterator<Item = (NaiveDate, i64, Yen)> + '_ {
        let price = Decimal::from(self.unit_price.0);
        self.days
            .iter()
            .map(move |(&date, &count)| (date, count, day_amount(count, price)))
    }
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

/// half-up(`count` × `price`) of one day of a detail row whose month was computed with
/// checked arithmetic: a day's count is part of its month's, so its amount fits too.
fn day_amount(count: i64, price: Decimal) -> Yen {
    amount(count, price).expect("a day's amount is within its month's")
}

/// half-up(`count` × `price`), checked.
pub(super) fn amount(count: i64, price: Decimal) -> Result<Yen, Overflow> {
    half_up(times(count, price)?)
}

/// Which place a day was counted at, as a number that tells the places of one count apart
/// without hashing their codes: the address of the key-chip's master row that held it that day
/// (the master data does not move while a close counts), or, for days placed already (a
/// reissue), the index of the first day at that place.
pub(super) type PlaceId = usize;

/// A detail row while its days are counted: its place, play month, the charge's or product's
/// master row in force (by address) and the payment method. Two such rows may end as one
/// detail row (a key-chip's two master rows in one store, a charge's two rows at one price):
/// they are joined once counted ([`in_order`]).
type RowId = (PlaceId, Month, usize, Option<PaymentMethod>);

/// A detail row being counted: its id, where, what, and the count of each day.
#[derive(Debug, PartialEq)]
struct Counting<V> {
    id: RowId,
    place: Place,
    row: V,
    days: DayCounts,
}

/// The counts of a row's days while they are counted, in date order. The days come in the
/// order of their files' dates, so a day is mostly the row's last or a new one after it (a
/// late file's earlier day is put in its place): a list appended to, not a tree of nodes
/// allocated and searched at each of a month's millions of days.
#[derive(Debug, Default, PartialEq)]
struct DayCounts(Vec<(NaiveDate, i64)>);

impl DayCounts {
    fn add(&mut self, date: NaiveDate, count: i64) {
        match self.0.last_mut() {
            Some((last, counted)) if *last == date => *counted += count,
            Some((last, _)) if *last > date => {
                match self.0.binary_search_by_key(&date, |(day, _)| *day) {
                    Ok(at) => self.0[at].1 += count,
                    Err(at) => self.0.insert(at, (date, count)),
                }
            }
            _ => self.0.push((date, count)),
        }
    }

    fn first(&self) -> Option<NaiveDate> {
        self.0.first().map(|(date, _)| *date)
    }
}

/// Detail rows being counted (millions of days at a national network's size), in the order
/// they were started; put in the order of their keys once counted ([`in_order`]). The days
/// come file by file, each file's key-chips in the same order, so a day mostly goes to the row
/// after the last one counted: that row is tried first, walking the rows in order, and the
/// hash of ids (small entries: an id and a position) is probed only when it is not that one.
/// Probing a hash of the rows themselves (hundreds of bytes each) missed the cache at most
/// days.
#[derive(Debug)]
struct Rows<V> {
    rows: Vec<Counting<V>>,
    at: AHashMap<RowId, usize>,
    /// Where the row after the last one counted is.
    next: usize,
}

impl<V> Default for Rows<V> {
    fn default() -> Self {
        Rows {
            rows: Vec::new(),
            at: AHashMap::new(),
            next: 0,
        }
    }
}

/// The same rows with the same days, in whatever order they were started.
impl<V: PartialEq> PartialEq for Rows<V> {
    fn eq(&self, other: &Self) -> bool {
        let theirs = |row: &Counting<V>| other.at.get(&row.id).map(|&at| &other.rows[at]);
        self.rows.len() == other.rows.len() && self.rows.iter().all(|r| theirs(r) == Some(r))
    }
}

impl<V> Rows<V> {
    /// Count a day into the detail row `id`, starting the row from `start`.
    fn count_day(&mut self, id: RowId, start: impl FnOnce() -> V, day: &PlacedDay) {
        let Rows { rows, at, next } = self;
        let row = match rows.get(*next) {
            Some(row) if row.id == id => *next,
            _ => *at.entry(id).or_insert_with(|| {
                rows.push(Counting {
                    id,
                    place: day.place.clone(),
                    row: start(),
                    days: DayCounts::default(),
                });
                rows.len() - 1
            }),
        };
        rows[row].days.add(day.date, day.count);
        *next = row + 1;
    }

    /// Add the rows of another shard of the key-chips (a row's place holds its key-chip, so
    /// no row is in both).
    fn extend(&mut self, other: Rows<V>) {
        for row in other.rows {
            self.at.insert(row.id, self.rows.len());
            self.rows.push(row);
        }
    }
}

/// The counted rows by their detail key (`key` of the place and the row), in its order; rows
/// of one key joined, with the row of the earliest day (the first counted, as the days come
/// in the order of their dates).
fn in_order<K: Ord, V>(rows: Rows<V>, key: impl Fn(Place, &V) -> K) -> Vec<(K, (V, Days))> {
    let mut rows: Vec<(K, (V, DayCounts))> = rows
        .rows
        .into_iter()
        .map(|c| (key(c.place, &c.row), (c.row, c.days)))
        .collect();
    rows.sort_unstable_by(|(a, (_, a_days)), (b, (_, b_days))| {
        a.cmp(b).then_with(|| a_days.first().cmp(&b_days.first()))
    });
    let mut joined: Vec<(K, (V, DayCounts))> = Vec::with_capacity(rows.len());
    for (key, (row, days)) in rows {
        match joined.last_mut() {
            Some((last, (_, counted))) if *last == key => {
                for (date, count) in days.0 {
                    counted.add(date, count);
                }
            }
            _ => joined.push((key, (row, days))),
        }
    }
    let days = |counted: DayCounts| counted.0.into_iter().collect();
    joined
        .into_iter()
        .map(|(key, (row, counted))| (key, (row, days(counted))))
        .collect()
}

fn total(days: &Days) -> Result<i64, Overflow> {
    checked_sum(days.values().copied())
}

/// The address of a master row, which tells it apart while a close counts.
pub(super) fn row_id<T>(row: &T) -> usize {
    std::ptr::from_ref(row) as usize
}

/// The days counted into detail rows: a row per unit price (by value: 100 and 100.00 are one
/// price) and, for billing, per tax rate — a change of either inside a month makes two rows,
/// each day priced as it was — and the days that could not be priced. Platform sales are not
/// split by payment method.
#[derive(Default, Debug, PartialEq)]
pub(super) struct Counted {
    billing: Rows<Charge>,
    commissions: Rows<Charge>,
    sold: Rows<(Product, Option<PaymentMethod>)>,
    unpriced: Vec<String>,
}

impl Counted {
    fn count(
        in_force: &InForce,
        days: impl Iterator<Item = (PlaceId, impl Borrow<PlacedDay>)>,
    ) -> Counted {
        let mut counted = Counted::default();
        for (place, day) in days {
            if let Err(unpriced) = counted.count_day(in_force, place, day.borrow()) {
                counted.unpriced.push(unpriced);
            }
        }
        counted
    }

    fn count_day(
        &mut self,
        in_force: &InForce,
        place: PlaceId,
        day: &PlacedDay,
    ) -> Result<(), String> {
        let month = day.place.play_month;
        match &day.usage {
            Usage::Plays { charge } => {
                let Some(charge) = in_force.charge_on(charge, day.date) else {
                    return Err(format!("charge {charge} is not in force on {}", day.date));
                };
                let id = (place, month, row_id(charge), None);
                let rows = match charge.kind {
                    ChargeKind::Billing => &mut self.billing,
                    ChargeKind::Commission => &mut self.commissions,
                };
                rows.count_day(id, || charge.clone(), day);
            }
            Usage::Purchases { product, method } => {
                let Some(product) = in_force.product_on(product, day.date) else {
                    return Err(format!("product {product} is not in force on {}", day.date));
                };
                let method = match product.settlement {
                    Settlement::Platform => None,
                    Settlement::Operator if method.is_none() => {
                        return Err(format!(
                            "product {} was sold on {} by an unknown payment method",
                            product.code, day.date
                        ));
                    }
                    Settlement::Operator => *method,
                };
                let id = (place, month, row_id(product), method);
                self.sold.count_day(id, || (product.clone(), method), day);
            }
        }
        Ok(())
    }

    /// The rows of two shards of the key-chips (a row's place holds its key-chip, so no row is
    /// in both).
    pub(super) fn merge(mut self, other: Counted) -> Counted {
        self.billing.extend(other.billing);
        self.commissions.extend(other.commissions);
        self.sold.extend(other.sold);
        self.unpriced.extend(other.unpriced);
        self
    }
}

/// Which of `shards` counts the days of `keychip`.
fn shard_of(keychip: &KeychipId, shards: usize) -> usize {
    let hash = keychip
        .as_str()
        .bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
    hash % shards
}

/// The days a close bills: attributed already (a reissue reads a partner's back from the
/// close's daily views), or the daily counts read from the lake, attributed as they are
/// counted.
#[derive(Clone, Copy)]
pub enum BilledDays<'d> {
    Placed(&'d [PlacedDay]),
    Counted {
        plays: &'d [DailyPlays],
        purchases: &'d [DailyPurchases],
    },
}

impl BilledDays<'_> {
    /// The days of the `core`th of `cores` shards of the key-chips counted; those no store
    /// held are the error.
    pub(super) fn count_shard(
        self,
        in_force: &InForce,
        core: usize,
        cores: usize,
    ) -> Result<Counted, Vec<String>> {
        let mine = |keychip: &KeychipId| shard_of(keychip, cores) == core;
        match self {
            BilledDays::Placed(days) => {
                let mut first: AHashMap<&Place, PlaceId> = AHashMap::new();
                let shard = days
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| mine(&d.place.keychip));
                let shard = shard.map(|(i, d)| (*first.entry(&d.place).or_insert(i), d));
                Ok(Counted::count(in_force, shard))
            }
            BilledDays::Counted { plays, purchases } => {
                let plays = plays.iter().filter(|d| mine(&d.keychip));
                let purchases = purchases.iter().filter(|d| mine(&d.keychip));
                let mut unheld = Vec::new();
                let days = attributed(in_force, plays, purchases, &mut unheld);
                let counted = Counted::count(in_force, days);
                if unheld.is_empty() {
                    Ok(counted)
                } else {
                    Err(unheld)
                }
            }
        }
    }
}

/// The detail tables of a close, each in the order of its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Details {
    pub billing: Vec<BillingDetail>,
    pub payments: Vec<PaymentDetail>,
    pub reference: Vec<ReferenceRow>,
}

/// Price the days a close bills into its detail tables, counted on every core (each the
/// key-chips of its shard). Days that no store held, or whose charge or product is not in force, are
/// listed as the error (the first if there are both); a figure that does not fit names its
/// partner.
pub fn details(
    master: &MasterData,
    rates: Rates,
    days: BilledDays<'_>,
) -> Result<Details, CloseError> {
    let in_force = master.in_force();
    let parts = super::on_every_core(|core, cores| days.count_shard(&in_force, core, cores));
    let mut unheld = Vec::new();
    let mut counted = Counted::default();
    for part in parts {
        match part {
            Ok(part) => counted = counted.merge(part),
            Err(days) => unheld.extend(days),
        }
    }
    if !unheld.is_empty() {
        unheld.sort();
        unheld.dedup();
        return Err(CloseError::Unbillable(unheld));
    }
    let Counted {
        billing,
        commissions,
        sold,
        mut unpriced,
    } = counted;
    if !unpriced.is_empty() {
        unpriced.sort();
        unpriced.dedup();
        return Err(CloseError::Unbillable(unpriced));
    }

    let mut billed = Vec::new();
    let billing = in_order(billing, |place, charge| {
        let (code, price) = (charge.code.clone(), charge.unit_price.0);
        (place, code, price, charge.tax_rate.0)
    });
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
    let commissions = in_order(commissions, |place, charge| {
        (place, charge.code.clone(), charge.unit_price.0)
    });
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
    let sold = in_order(sold, |place, (product, method)| {
        (place, product.code.clone(), *method, product.unit_price)
    });
    for ((place, _, method, price), ((product, _), days)) in sold {
        let partner = place.partner.clone();
        let overflow = overflow(&partner);
        let count = total(&days).map_err(&overflow)?;
        let sales = count
            .checked_mul(price.0)
            .map(Yen)
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

    Ok(Details {
        billing: billed,
        payments,
        reference,
    })
}
