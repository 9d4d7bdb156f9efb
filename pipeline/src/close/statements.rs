//! The rules of `statements.md`, on the daily counts a close bills: attribution to stores and
//! partners, prices, the statement tables, the payment totals (A1–G2, PAY) and the invoices.
//! Money is exact: yen as integers, prices and rates as decimals, and every rounding is
//! [`half_up`] or [`truncate`] where the spec names it.

use super::events::{DailyPlays, DailyPurchases};
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

/// 請求明細: per partner, store, play month, key-chip, charge and unit price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingDetail {
    pub place: Place,
    pub charge: Charge,
    pub count: i64,
    pub amount: i64,
}

/// 支払明細: a commission charge, or an operator's product per payment method and price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentDetail {
    pub place: Place,
    pub title: TitleCode,
    pub product_name: Text,
    pub category: Text,
    pub method: Option<PaymentMethod>,
    pub count: i64,
    /// `None` for commissions (shown `-`).
    pub unit_price: Option<i64>,
    pub amount: Option<i64>,
    pub refund_unit_price: Decimal,
    pub refund_amount: i64,
}

/// 参考情報: a platform product per unit price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceRow {
    pub place: Place,
    pub title: TitleCode,
    pub product_name: Text,
    pub category: Text,
    pub count: i64,
    pub unit_price: i64,
    pub amount: i64,
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statements {
    pub billing: Vec<BillingDetail>,
    pub payments: Vec<PaymentDetail>,
    pub reference: Vec<ReferenceRow>,
    /// Per partner: all titles (`None`) first, then each title.
    pub totals: BTreeMap<PartnerCode, Vec<(Option<TitleCode>, PaymentTotals)>>,
    pub slips: Vec<AdjustmentSlip>,
    pub invoices: Vec<Invoice>,
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

/// half-up to 2 decimal places (the refund unit price of a product).
fn half_up_cents(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

fn times(count: i64, price: Decimal) -> Decimal {
    Decimal::from(count) * price
}

/// Compute every table of the close of `month` from what it bills.
pub fn statements(
    master: &MasterData,
    rates: Rates,
    plays: &[DailyPlays],
    purchases: &[DailyPurchases],
    slips: Vec<AdjustmentSlip>,
    first_invoice_number: u32,
) -> Result<Statements, Vec<String>> {
    let mut unplaced = Vec::new();
    let mut billing: BTreeMap<(Place, ChargeCode, Decimal), (Charge, i64)> = BTreeMap::new();
    let mut commissions: BTreeMap<(Place, ChargeCode), (Charge, i64)> = BTreeMap::new();
    for day in plays {
        let Some(place) = place(master, &day.keychip, day.date) else {
            unplaced.push(format!(
                "key-chip {} on {}: no store held it",
                day.keychip, day.date
            ));
            continue;
        };
        let charges = master
            .charges
            .values()
            .filter(|c| c.code.as_str() == day.charge);
        let Some(charge) = in_force(charges, day.date, |c| c.validity) else {
            unplaced.push(format!(
                "charge {} is not in force on {}",
                day.charge, day.date
            ));
            continue;
        };
        match charge.kind {
            ChargeKind::Billing => {
                let key = (place, charge.code.clone(), charge.unit_price.0);
                billing.entry(key).or_insert_with(|| (charge.clone(), 0)).1 += day.count;
            }
            ChargeKind::Commission => {
                let key = (place, charge.code.clone());
                commissions
                    .entry(key)
                    .or_insert_with(|| (charge.clone(), 0))
                    .1 += day.count;
            }
        }
    }
    type ProductKey = (Place, ProductCode, Option<PaymentMethod>, i64);
    let mut sold: BTreeMap<ProductKey, (Product, i64)> = BTreeMap::new();
    for day in purchases {
        let Some(place) = place(master, &day.keychip, day.date) else {
            unplaced.push(format!(
                "key-chip {} on {}: no store held it",
                day.keychip, day.date
            ));
            continue;
        };
        let products = master
            .products
            .values()
            .filter(|p| p.code.as_str() == day.product);
        let Some(product) = in_force(products, day.date, |p| p.validity) else {
            unplaced.push(format!(
                "product {} is not in force on {}",
                day.product, day.date
            ));
            continue;
        };
        let key = (
            place,
            product.code.clone(),
            Some(day.method),
            day.unit_price,
        );
        sold.entry(key).or_insert_with(|| (product.clone(), 0)).1 += day.quantity;
    }
    if !unplaced.is_empty() {
        unplaced.sort();
        unplaced.dedup();
        return Err(unplaced);
    }

    let billing: Vec<BillingDetail> = billing
        .into_iter()
        .map(|((place, _, price), (charge, count))| BillingDetail {
            place,
            amount: half_up(times(count, price)).0,
            charge,
            count,
        })
        .collect();
    let mut payments = Vec::new();
    for ((place, _), (charge, count)) in commissions {
        payments.push(PaymentDetail {
            place,
            title: charge.title.clone(),
            product_name: charge.item_name.clone(),
            category: charge.charge_name.clone(),
            method: None,
            count,
            unit_price: None,
            amount: None,
            refund_unit_price: charge.unit_price.0,
            refund_amount: half_up(times(count, charge.unit_price.0)).0,
        });
    }
    let mut reference = Vec::new();
    for ((place, _, method, price), (product, count)) in sold {
        match product.settlement {
            Settlement::Operator => {
                let fee = match method {
                    Some(PaymentMethod::Aimepay) => rates.aimepay_fee,
                    _ => rates.emoney_fee,
                };
                let refund_unit_price = half_up_cents(
                    Decimal::from(price) * (Decimal::ONE_HUNDRED - fee) / Decimal::ONE_HUNDRED,
                );
                payments.push(PaymentDetail {
                    place,
                    title: product.title.clone(),
                    product_name: product.product_name.clone(),
                    category: product.category.clone(),
                    method,
                    count,
                    unit_price: Some(price),
                    amount: Some(count * price),
                    refund_unit_price,
                    refund_amount: half_up(times(count, refund_unit_price)).0,
                });
            }
            Settlement::Platform => reference.push(ReferenceRow {
                place,
                title: product.title.clone(),
                product_name: product.product_name.clone(),
                category: product.category.clone(),
                count,
                unit_price: price,
                amount: count * price,
            }),
        }
    }
    payments.sort_by(|a, b| {
        let key = |p: &PaymentDetail| {
            (
                p.place.clone(),
                p.title.clone(),
                p.product_name.clone(),
                p.method,
                p.unit_price,
            )
        };
        key(a).cmp(&key(b))
    });

    let totals = all_totals(&payments, &slips, rates);
    let invoices = invoices(&billing, &slips, rates, first_invoice_number);
    Ok(Statements {
        billing,
        payments,
        reference,
        totals,
        slips,
        invoices,
    })
}

/// The payment totals of every partner with payment details or slips: all titles, then each.
fn all_totals(
    payments: &[PaymentDetail],
    slips: &[AdjustmentSlip],
    rates: Rates,
) -> BTreeMap<PartnerCode, Vec<(Option<TitleCode>, PaymentTotals)>> {
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
            let own_slips: Vec<&AdjustmentSlip> =
                slips.iter().filter(|s| &s.partner == partner).collect();
            let mut rows = vec![(None, payment_totals(&own, &own_slips, rates))];
            let titles: BTreeSet<&TitleCode> = own.iter().map(|p| &p.title).collect();
            for title in titles {
                let of_title: Vec<&PaymentDetail> =
                    own.iter().copied().filter(|p| &p.title == title).collect();
                rows.push((Some(title.clone()), payment_totals(&of_title, &[], rates)));
            }
            (partner.clone(), rows)
        })
        .collect()
}

/// 支払合計 (statements.md): A1 to G2 and PAY from payment details and adjustment slips.
pub fn payment_totals(
    payments: &[&PaymentDetail],
    slips: &[&AdjustmentSlip],
    rates: Rates,
) -> PaymentTotals {
    let hundred = Decimal::ONE_HUNDRED;
    let t = rates.consumption_tax;
    let sold = |method: PaymentMethod| -> i64 {
        payments
            .iter()
            .filter(|p| p.method == Some(method))
            .filter_map(|p| p.amount)
            .sum()
    };
    let slipped = |kind: AdjustmentKind| -> i64 {
        slips
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.amount.0)
            .sum()
    };
    let a1 = sold(PaymentMethod::Aimepay);
    let a2 = truncate(Decimal::from(a1) * rates.aimepay_fee / hundred).0;
    let b1 = sold(PaymentMethod::Emoney);
    let b2 = truncate(Decimal::from(b1) * rates.emoney_fee / hundred).0;
    let b3 = truncate(Decimal::from(b2) * t / hundred).0;
    let b4 = b2 + b3;
    let commission: Decimal = payments
        .iter()
        .filter(|p| p.method.is_none())
        .map(|p| times(p.count, p.refund_unit_price))
        .sum();
    let c1 = truncate(commission).0;
    let (d1, e1) = (
        slipped(AdjustmentKind::Payment),
        slipped(AdjustmentKind::Refund),
    );
    let (f1, f2) = (a2, e1);
    let f3 = f1 - f2;
    let f4 = truncate(Decimal::from(f3) * t / (hundred + t)).0;
    let g1 = c1 + d1;
    let g2 = truncate(Decimal::from(g1) * t / (hundred + t)).0;
    let pay = a1 + b1 - b4 - f3 + g1;
    PaymentTotals {
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
    }
}

/// One invoice per partner with billing details or billing slips, numbered from `first` in
/// ascending partner code order.
fn invoices(
    billing: &[BillingDetail],
    slips: &[AdjustmentSlip],
    rates: Rates,
    first: u32,
) -> Vec<Invoice> {
    let mut lines: BTreeMap<&PartnerCode, BTreeMap<(String, Option<Month>, String), InvoiceLine>> =
        BTreeMap::new();
    for detail in billing {
        let key = (
            detail.charge.code.to_string(),
            Some(detail.place.play_month),
            detail.charge.unit_price.0.to_string(),
        );
        let line = lines
            .entry(&detail.place.partner)
            .or_default()
            .entry(key)
            .or_insert_with(|| InvoiceLine {
                item_name: detail.charge.item_name.to_string(),
                charge_name: detail.charge.charge_name.to_string(),
                play_month: Some(detail.place.play_month),
                count: 0,
                unit_price: detail.charge.unit_price.0,
                amount: 0,
                tax_rate: detail.charge.tax_rate.0,
                slip_no: None,
            });
        line.count += detail.count;
        line.amount += detail.amount;
    }
    for slip in slips.iter().filter(|s| s.kind == AdjustmentKind::Billing) {
        let key = (format!("~{}", slip.slip_no), None, String::new());
        lines.entry(&slip.partner).or_default().insert(
            key,
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
    lines
        .into_iter()
        .enumerate()
        .map(|(i, (partner, lines))| {
            let lines: Vec<InvoiceLine> = lines.into_values().collect();
            let mut by_rate: BTreeMap<Decimal, i64> = BTreeMap::new();
            for line in &lines {
                *by_rate.entry(line.tax_rate).or_default() += line.amount;
            }
            let taxes: Vec<(Decimal, i64, i64)> = by_rate
                .into_iter()
                .map(|(rate, subtotal)| {
                    (
                        rate,
                        subtotal,
                        truncate(Decimal::from(subtotal) * rate / Decimal::ONE_HUNDRED).0,
                    )
                })
                .collect();
            let subtotal = taxes.iter().map(|t| t.1).sum();
            let tax = taxes.iter().map(|t| t.2).sum();
            Invoice {
                partner: partner.clone(),
                invoice_no: format!("{:07}", first + i as u32),
                lines,
                taxes,
                subtotal,
                tax,
                total: subtotal + tax,
            }
        })
        .collect()
}
