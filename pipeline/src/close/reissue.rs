//! Void and reissue (`statements.md`, "Void and reissue"). A void marks an issued invoice
//! `VOID` with its reason; a reissue re-prices one partner's daily counts as the close recorded
//! them (its places included: events never move between partners) with the master data as it
//! is now, under a new number that names the one it replaces. Every other partner's rows stay
//! as they were, byte for byte.
//!
//! Both follow the close's protocol: the database records the rewrite as pending (a reissue's
//! number is taken there), the lake's tables are rewritten (under their final names,
//! deterministically), then the database records the change and forgets the pending rewrite in
//! one transaction, the commit point. A killed void or reissue is finished by the next writer,
//! before it takes any number ([`finish_rewrites`]).

use super::attribution::{Place, PlacedDay, Usage};
use super::invoicing::Invoice;
use super::pricing::BilledDays;
use super::statements::statements;
use super::{documents, emails, tables};
use super::{CloseError, CloseSettings};
use crate::db::{Database, InvoiceRecord, PendingRewrite, RewriteKind};
use crate::domain::{
    ChargeCode, InvoiceStatus, KeychipId, Month, Parse, ParseError, PartnerCode, PaymentMethod,
    ProductCode, StoreCode,
};
use crate::domain::{PaymentTotals, Rates};
use crate::lake::layout::{Area, StatementTable};
use crate::lake::schema::col;
use crate::lake::{Columns, Location};
use arrow_array::{Array, BooleanArray, RecordBatch, StringArray};
use std::sync::Arc;

/// `kakin invoice void NUMBER --reason TEXT`: the invoice as recorded after the void (an
/// invoice already void is left as it is).
pub async fn void_invoice(
    db: &Database,
    lake: &Location,
    settings: &CloseSettings,
    number: &str,
    reason: &str,
) -> Result<(Month, InvoiceRecord), CloseError> {
    let (month, record) = db
        .invoice(number)
        .await?
        .ok_or_else(|| CloseError::Refused(format!("there is no invoice {number}")))?;
    if record.status == InvoiceStatus::Void {
        return Ok((month, record));
    }
    db.begin_rewrite(&PendingRewrite {
        invoice_no: number.to_owned(),
        kind: RewriteKind::Void,
        month,
        partner_code: record.partner_code.clone(),
        reason: Some(reason.to_owned()),
    })
    .await?;
    let path = StatementTable::Invoices.path(Area::Closed, month);
    let invoices = lake
        .get_batch(&path)
        .await?
        .ok_or_else(|| CloseError::Refused(format!("the lake has no {path}")))?;
    lake.put_batch(&path, &voided(&invoices, number, reason)?)
        .await?;
    let master = db.master_data().await?;
    let notice = documents::Issue::of(&master, settings, month).void_notice(&record, reason)?;
    let documents = documents::issue(lake, month, vec![notice]).await?;
    crate::failpoint("void-before-commit");
    db.void_invoice(number, reason, &documents).await?;
    let (month, record) = db
        .invoice(number)
        .await?
        .expect("the invoice was just read");
    Ok((month, record))
}

/// The `invoices` table with `number` marked `VOID` for `reason`.
fn voided(invoices: &RecordBatch, number: &str, reason: &str) -> Result<RecordBatch, CloseError> {
    let columns_of = Columns::new(invoices);
    let is_it = |i: usize| columns_of.text(col::INVOICE_NO, i) == Some(number);
    let replace = |column: &str, value: &str| -> Arc<dyn Array> {
        let old = columns_of.texts(column);
        Arc::new(StringArray::from_iter(
            old.into_iter()
                .enumerate()
                .map(|(i, v)| if is_it(i) { Some(value.to_owned()) } else { v }),
        ))
    };
    let mut columns = invoices.columns().to_vec();
    for (name, value) in [
        (col::STATUS, InvoiceStatus::Void.as_str()),
        (col::VOID_REASON, reason),
    ] {
        let index = invoices.schema().index_of(name)?;
        columns[index] = replace(name, value);
    }
    Ok(RecordBatch::try_new(invoices.schema(), columns)?)
}

/// What `kakin close M --reissue PARTNER` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReissueReport {
    pub month: Month,
    pub partner: PartnerCode,
    /// The voided invoice replaced.
    pub replaces: String,
    pub invoice: InvoiceRecord,
    /// The reissue had been made before: nothing changed.
    pub already_reissued: bool,
    pub totals: Option<PaymentTotals>,
}

/// `kakin close M --reissue PARTNER`: reissue the partner's voided invoice of `month`.
pub async fn reissue(
    db: &Database,
    lake: &Location,
    settings: &CloseSettings,
    month: Month,
    partner: &PartnerCode,
) -> Result<ReissueReport, CloseError> {
    if db
        .last_closed_month()
        .await?
        .is_none_or(|last| month > last)
    {
        return Err(CloseError::Refused(format!("{month} is not closed")));
    }
    let latest = db
        .invoices_of(month)
        .await?
        .into_iter()
        .filter(|i| i.partner_code == partner.as_str())
        .max_by(|a, b| a.invoice_no.cmp(&b.invoice_no))
        .ok_or_else(|| {
            CloseError::Refused(format!("{partner} has no invoice in the close of {month}"))
        })?;
    if latest.status == InvoiceStatus::Issued {
        return match latest.replaces.clone() {
            Some(replaces) => Ok(ReissueReport {
                month,
                partner: partner.clone(),
                replaces,
                invoice: latest,
                already_reissued: true,
                totals: None,
            }),
            None => Err(CloseError::Refused(format!(
                "invoice {} of {partner} is issued: void it first (kakin invoice void {} --reason …)",
                latest.invoice_no, latest.invoice_no
            ))),
        };
    }

    let master = db.master_data().await?;
    let rates = Rates::on(&master, month.last_day()).map_err(CloseError::Rates)?;
    let days = recorded_days(lake, month, partner).await?;
    let slips: Vec<_> = db
        .adjustment_slips()
        .await?
        .into_iter()
        .filter(|s| s.adjusted_month == month && &s.partner == partner)
        .collect();
    let number = reissue_number(db, settings, month, partner).await?;
    let days = BilledDays::Placed(&days);
    let mut statements = statements(&master, rates, days, slips, number)?;
    let Some(invoice) = statements.invoices.first_mut() else {
        return Err(CloseError::Refused(format!(
            "{partner} has nothing to invoice for {month} any more"
        )));
    };
    invoice.replaces = Some(latest.invoice_no.clone());
    let invoice: Invoice = invoice.clone();
    // From here on the number is taken: no close takes it, and a killed run is finished.
    db.begin_rewrite(&PendingRewrite {
        invoice_no: invoice.invoice_no.clone(),
        kind: RewriteKind::Reissue,
        month,
        partner_code: partner.to_string(),
        reason: None,
    })
    .await?;

    let planned = documents::Issue::of(&master, settings, month).documents(&statements);
    let documents = documents::issue(lake, month, planned).await?;
    let written = tables::Written {
        dates: settings.dates(month),
        documents: &documents,
    };
    let rewritten = tables::close_tables(&master, written, &statements);
    for (name, table) in rewritten {
        let path = name.path(Area::Closed, month);
        let old = lake.get_batch(&path).await?;
        let new = table.finish();
        let spliced = match name {
            StatementTable::Invoices | StatementTable::InvoiceTaxes => {
                let keep = old
                    .map(|o| without_invoice(&o, &invoice.invoice_no))
                    .transpose()?;
                concat(keep.iter().chain([&new]))?
            }
            _ => match old {
                Some(old) => splice_partner(&old, partner, &new)?,
                None => new,
            },
        };
        lake.put_batch(&path, &spliced).await?;
    }
    crate::failpoint("reissue-before-commit");
    let record = invoice.record();
    let emails = emails::announcements(&master, settings, month, &statements, &documents);
    let issued = crate::db::Issued {
        invoices: std::slice::from_ref(&record),
        documents: &documents,
        emails: &emails,
    };
    db.commit_reissue(month, issued).await?;
    Ok(ReissueReport {
        month,
        partner: partner.clone(),
        replaces: latest.invoice_no,
        invoice: record,
        already_reissued: false,
        totals: statements.totals_of(partner).cloned(),
    })
}

/// The number of the partner's reissue of `month`: the one a killed reissue took, or the next.
async fn reissue_number(
    db: &Database,
    settings: &CloseSettings,
    month: Month,
    partner: &PartnerCode,
) -> Result<u32, CloseError> {
    let pending = db.pending_rewrites().await?.into_iter().find(|r| {
        r.kind == RewriteKind::Reissue && r.month == month && r.partner_code == partner.as_str()
    });
    Ok(match pending {
        Some(taken) => taken.invoice_no.parse().map_err(|_| {
            CloseError::Refused(format!("pending reissue number {}", taken.invoice_no))
        })?,
        None => {
            db.next_invoice_number(settings.invoice_number_start)
                .await?
        }
    })
}

/// Finish every void and reissue that a killed run left pending, oldest first: what the next
/// writer does before anything else, so that no number is taken twice and the lake shows no
/// rewrite that the database does not record. Returns what was finished.
pub async fn finish_rewrites(
    db: &Database,
    lake: &Location,
    settings: &CloseSettings,
) -> Result<Vec<PendingRewrite>, CloseError> {
    let pending = db.pending_rewrites().await?;
    for rewrite in &pending {
        match rewrite.kind {
            RewriteKind::Void => {
                let reason = rewrite.reason.as_deref().unwrap_or_default();
                void_invoice(db, lake, settings, &rewrite.invoice_no, reason).await?;
            }
            RewriteKind::Reissue => {
                let partner = PartnerCode::parse(&rewrite.partner_code)
                    .map_err(|e| CloseError::Refused(e.to_string()))?;
                reissue(db, lake, settings, rewrite.month, &partner).await?;
            }
        }
    }
    Ok(pending)
}

/// A partner's daily counts as the close of `month` recorded them in its daily views.
async fn recorded_days(
    lake: &Location,
    month: Month,
    partner: &PartnerCode,
) -> Result<Vec<PlacedDay>, CloseError> {
    let mut days = Vec::new();
    let daily = [
        StatementTable::BillingDaily,
        StatementTable::PaymentDaily,
        StatementTable::ReferenceDaily,
    ];
    for table in daily {
        let Some(batch) = lake.get_batch(&table.path(Area::Closed, month)).await? else {
            continue;
        };
        let rows = Columns::new(&batch);
        for i in 0..rows.len() {
            if rows.text(col::PARTNER_CODE, i) != Some(partner.as_str()) {
                continue;
            }
            let date = rows
                .date(col::PLAY_DATE, i)
                .expect("a daily row has its day");
            let charge = rows
                .has(col::CHARGE_CODE)
                .then(|| rows.text(col::CHARGE_CODE, i))
                .flatten();
            let product = rows
                .has(col::PRODUCT_CODE)
                .then(|| rows.text(col::PRODUCT_CODE, i))
                .flatten();
            // The close wrote these codes: they parse, or the table is not the close's.
            let parsed = |column: &str, e: ParseError| {
                CloseError::Refused(format!("{}: {column}: {e}", table.name()))
            };
            let usage = match (charge, product) {
                (Some(charge), _) => Usage::Plays {
                    charge: ChargeCode::parse(charge).map_err(|e| parsed(col::CHARGE_CODE, e))?,
                },
                (None, Some(product)) => Usage::Purchases {
                    product: ProductCode::parse(product)
                        .map_err(|e| parsed(col::PRODUCT_CODE, e))?,
                    method: rows
                        .has(col::PAYMENT_METHOD)
                        .then(|| rows.text(col::PAYMENT_METHOD, i))
                        .flatten()
                        .and_then(|m| PaymentMethod::parse(m).ok()),
                },
                (None, None) => unreachable!("a daily row names its charge or product"),
            };
            let store = rows.text(col::STORE_CODE, i).unwrap_or_default();
            let keychip = rows.text(col::KEYCHIP_ID, i).unwrap_or_default();
            days.push(PlacedDay {
                place: Place {
                    partner: partner.clone(),
                    store: StoreCode::parse(store).map_err(|e| parsed(col::STORE_CODE, e))?,
                    play_month: Month::of(date),
                    keychip: KeychipId::parse(keychip).map_err(|e| parsed(col::KEYCHIP_ID, e))?,
                },
                date,
                usage,
                count: rows.int(col::COUNT, i).unwrap_or_default(),
            });
        }
    }
    Ok(days)
}

/// The rows of `batch` where `column` satisfies `keep`.
fn rows_where(
    batch: &RecordBatch,
    column: &str,
    keep: impl Fn(Option<&str>) -> bool,
) -> Result<RecordBatch, CloseError> {
    let values = Columns::new(batch);
    let mask: BooleanArray = (0..values.len())
        .map(|row| Some(keep(values.text(column, row))))
        .collect();
    Ok(arrow_select::filter::filter_record_batch(batch, &mask)?)
}

fn without_invoice(batch: &RecordBatch, number: &str) -> Result<RecordBatch, CloseError> {
    rows_where(batch, col::INVOICE_NO, |n| n != Some(number))
}

fn concat<'a>(
    batches: impl IntoIterator<Item = &'a RecordBatch>,
) -> Result<RecordBatch, CloseError> {
    let batches: Vec<&RecordBatch> = batches.into_iter().collect();
    let schema = batches.last().expect("at least the new rows").schema();
    let aligned = batches
        .iter()
        .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(arrow_select::concat::concat_batches(&schema, &aligned)?)
}

/// A table of the close with the partner's rows replaced by `new`, in key order: the
/// partner-keyed tables are ordered by partner first; `adjustments` by slip number.
fn splice_partner(
    old: &RecordBatch,
    partner: &PartnerCode,
    new: &RecordBatch,
) -> Result<RecordBatch, CloseError> {
    let code = Some(partner.as_str());
    if old.schema().index_of(col::SLIP_NO).is_ok() {
        let others = rows_where(old, "partner_code", |p| p != code)?;
        let all = concat([&others, new])?;
        let slips = Columns::new(&all).texts(col::SLIP_NO);
        let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
        order.sort_by(|&a, &b| slips[a as usize].cmp(&slips[b as usize]));
        let indices = arrow_array::UInt32Array::from(order);
        return Ok(arrow_select::take::take_record_batch(&all, &indices)?);
    }
    let before = rows_where(old, "partner_code", |p| p < code)?;
    let after = rows_where(old, "partner_code", |p| p > code)?;
    concat([&before, new, &after])
}
