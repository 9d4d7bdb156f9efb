//! 請求書 (`statements.md`, "請求書 — invoices"): one invoice per partner with `BILLING`
//! details or `BILLING` slips, numbered in ascending partner code order from the configured
//! start (7 digits, never past 9999999). A line per charge, play month, unit price and tax rate
//! (prices and rates by value) summed over the partner's cabinets, and a line per billed slip;
//! per tax rate the subtotal and the tax, truncated once per invoice and rate, never per line.

use super::pricing::BillingDetail;
use super::statements::overflow;
use super::CloseError;
use crate::domain::*;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// A line of an invoice: a charge of a play month at a unit price, or a billed slip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    pub item_name: String,
    pub charge_name: String,
    pub play_month: Option<Month>,
    pub count: i64,
    pub unit_price: Decimal,
    pub amount: Yen,
    pub tax_rate: Percent,
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
    pub taxes: Vec<(Percent, Yen, Yen)>,
    pub subtotal: Yen,
    pub tax: Yen,
    pub total: Yen,
}

impl Invoice {
    /// The invoice as the database records it when issued.
    pub fn record(&self) -> crate::db::InvoiceRecord {
        crate::db::InvoiceRecord {
            invoice_no: self.invoice_no.clone(),
            partner_code: self.partner.to_string(),
            subtotal: self.subtotal.0,
            tax: self.tax.0,
            total: self.total.0,
            status: InvoiceStatus::Issued,
            replaces: self.replaces.clone(),
            void_reason: None,
        }
    }
}

/// The highest invoice number: numbers are 7-digit strings.
pub const LAST_INVOICE_NUMBER: u32 = 9_999_999;

/// Where a line sits on an invoice: the charges' lines by charge, play month, unit price and
/// tax rate (prices and rates by value), then the billed slips by number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LineKey {
    Charge(String, Month, Decimal, Percent),
    Slip(String),
}

/// One invoice per partner with billing details or billing slips, numbered from `first` in
/// ascending partner code order.
pub(super) fn invoices(
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
            charge.tax_rate,
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
                amount: Yen::ZERO,
                tax_rate: charge.tax_rate,
                slip_no: None,
            });
        let overflow = overflow(&detail.place.partner);
        line.count = checked_sum([line.count, detail.count]).map_err(&overflow)?;
        line.amount = line.amount.checked_add(detail.amount).map_err(&overflow)?;
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
                amount: slip.amount,
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
    let mut by_rate: BTreeMap<Percent, Yen> = BTreeMap::new();
    for line in &lines {
        let subtotal = by_rate.entry(line.tax_rate).or_default();
        *subtotal = subtotal.checked_add(line.amount).map_err(&overflow)?;
    }
    let taxes = by_rate
        .into_iter()
        .map(|(rate, subtotal)| Ok((rate, subtotal, rate.of(subtotal)?)))
        .collect::<Result<Vec<(Percent, Yen, Yen)>, Overflow>>()
        .map_err(&overflow)?;
    let subtotal = Yen::sum(taxes.iter().map(|t| t.1)).map_err(&overflow)?;
    let tax = Yen::sum(taxes.iter().map(|t| t.2)).map_err(&overflow)?;
    Ok(Invoice {
        replaces: None,
        partner: partner.clone(),
        invoice_no: format!("{number:07}"),
        lines,
        taxes,
        subtotal,
        tax,
        total: subtotal.checked_add(tax).map_err(&overflow)?,
    })
}
