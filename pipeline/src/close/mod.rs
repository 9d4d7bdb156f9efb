//! The month-end close (`statements.md`, "The close"): bill every accepted event that no
//! earlier close billed and whose play date is on or before the last day of the month, compute
//! the statement tables, number the invoices, and commit.
//!
//! Commit protocol: the tables are computed (invoice numbers included, from the database as
//! it stands), written to the lake under their final names, and then one database transaction
//! records the close, its invoices and the batches it was the first to see. Until then no
//! command shows the close and no number is taken; a killed close is finished by running it
//! again, which writes the same bytes.

mod events;
mod statements;
mod tables;

pub use statements::{payment_totals, PaymentDetail, PaymentTotals, Rates, Statements};

use crate::db::{Database, DbError, InvoiceRecord};
use crate::domain::{Month, PartnerCode};
use crate::lake::{LakeError, Location};
use chrono::{Datelike, NaiveDate};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    #[error("closes run in sequence: the month to close is {expected}, not {asked}")]
    OutOfSequence { expected: Month, asked: Month },
    #[error("accepted events that no store held (fix the master data first):\n{}", .0.join("\n"))]
    Unattributed(Vec<String>),
    #[error("{0}")]
    Rates(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("lake: {0}")]
    Lake(#[from] LakeError),
    #[error("reading the lake: {0}")]
    Polars(#[from] polars::error::PolarsError),
}

/// What the close settles on: the first invoice number and the day payments are made.
#[derive(Debug, Clone, Copy)]
pub struct CloseSettings {
    pub invoice_number_start: u32,
    pub payment_day: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReport {
    pub month: Month,
    /// The month was closed before: nothing changed.
    pub already_closed: bool,
    pub invoices: Vec<InvoiceRecord>,
    /// Each partner's payment totals over all titles (empty when already closed).
    pub totals: BTreeMap<PartnerCode, PaymentTotals>,
}

/// `kakin close YYYY-MM`.
pub async fn close_month(
    db: &Database,
    lake: &Location,
    settings: CloseSettings,
    month: Month,
) -> Result<CloseReport, CloseError> {
    match db.last_closed_month().await? {
        Some(last) if month <= last => {
            let invoices = db.invoices_of(month).await?;
            return Ok(CloseReport {
                month,
                already_closed: true,
                invoices,
                totals: BTreeMap::new(),
            });
        }
        Some(last) if month != last.next() => {
            return Err(CloseError::OutOfSequence {
                expected: last.next(),
                asked: month,
            })
        }
        _ => {}
    }
    let master = db.master_data().await?;
    let rates = Rates::on(&master, month.last_day()).map_err(CloseError::Rates)?;
    let batches = db.committed_batches().await?;
    let local = lake.local_copy(&["plays/", "purchases/"]).await?;
    // polars runs its own runtime: it reads on a thread outside ours.
    let (plays, purchases) = std::thread::scope(|scope| {
        scope
            .spawn(|| events::billed(local.root(), month, &batches))
            .join()
    })
    .expect("reading the lake does not panic")?;
    let slips: Vec<_> = db
        .adjustment_slips()
        .await?
        .into_iter()
        .filter(|s| s.adjusted_month == month)
        .collect();
    let first_number = db
        .next_invoice_number(settings.invoice_number_start)
        .await?;
    let statements =
        statements::statements(&master, rates, &plays, &purchases, slips, first_number)
            .map_err(CloseError::Unattributed)?;

    let issue_date = month.next().first_day();
    let payment_date =
        NaiveDate::from_ymd_opt(issue_date.year(), issue_date.month(), settings.payment_day)
            .expect("payment_day is a day of every month");
    tables::write(lake, &master, month, issue_date, payment_date, &statements).await?;
    crate::failpoint("close-before-commit");
    let invoices: Vec<InvoiceRecord> = statements
        .invoices
        .iter()
        .map(|i| InvoiceRecord {
            invoice_no: i.invoice_no.clone(),
            partner_code: i.partner.to_string(),
            subtotal: i.subtotal,
            tax: i.tax,
            total: i.total,
            status: "ISSUED".into(),
        })
        .collect();
    let new_batches: Vec<String> = batches
        .into_iter()
        .filter(|(_, first)| first.is_none())
        .map(|(b, _)| b)
        .collect();
    db.commit_close(month, issue_date, &invoices, &new_batches)
        .await?;
    let totals = statements
        .totals
        .into_iter()
        .filter_map(|(partner, rows)| {
            rows.into_iter()
                .find(|(t, _)| t.is_none())
                .map(|(_, t)| (partner, t))
        })
        .collect();
    Ok(CloseReport {
        month,
        already_closed: false,
        invoices,
        totals,
    })
}
