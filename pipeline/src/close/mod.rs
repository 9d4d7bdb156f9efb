//! The month-end close (`statements.md`, "The close"): bill every accepted event that no
//! earlier close billed and whose play date is on or before the last day of the month, compute
//! the statement tables, number the invoices, and commit. The month to date (`kakin refresh`)
//! and the preview (`kakin close --dry-run`) are the same computation, stopped earlier.
//!
//! Commit protocol: the tables are computed (invoice numbers included, from the database as
//! it stands), written to the lake under their final names, and then one database transaction
//! records the close, its invoices and the batches it was the first to see. Until then no
//! command shows the close and no number is taken; a killed close is finished by running it
//! again, which writes the same bytes.

mod attribution;
mod documents;
mod emails;
mod events;
mod invoicing;
mod pricing;
mod reissue;
mod statements;
mod sums;
mod tables;
mod totals;

pub use attribution::{Place, PlacedDay, Usage};
pub use documents::{verify, Verification};
pub use events::Billing;
pub use invoicing::{Invoice, InvoiceLine, LAST_INVOICE_NUMBER};
pub use pricing::{BilledDays, BillingDetail, PaymentDetail, ReferenceRow};
pub use reissue::{finish_rewrites, reissue, void_invoice, ReissueReport};
pub use statements::{statements, Statements};

use crate::db::{CommittedBatch, Database, DbError, DocumentRecord, InvoiceRecord, Issued};
use crate::domain::{
    InvoiceStatus, Issuer, MasterData, Month, Parse, PartnerCode, PaymentTotals, Rates, Yen,
};
use crate::lake::layout::{
    closing_month_of, Area, EventFile, EventTable, StatementTable, DAILY_SUMS, PROVISIONAL,
};
use crate::lake::{LakeError, LocalCopy, Location};
use chrono::{Datelike, NaiveDate};
use std::collections::BTreeMap;
use tables::StatementDates;

#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    #[error("closes run in sequence: the month to close is {expected}, not {asked}")]
    OutOfSequence { expected: Month, asked: Month },
    #[error("accepted events that cannot be billed (fix the master data first):\n{}", .0.join("\n"))]
    Unbillable(Vec<String>),
    #[error("{0}")]
    Rates(String),
    #[error("{0}")]
    Refused(String),
    /// The close would be unsafe to commit; finance may override (`--allow-empty`,
    /// `--despite-failed-ingest`).
    #[error("{0}")]
    Unsafe(String),
    #[error("the figures of partner {0} are out of range (an amount over 9,223,372,036,854,775,807 yen): check its counts and prices")]
    Overflow(String),
    #[error("invoice numbers are 7 digits: {needed} invoices from {first:07} would pass 9999999")]
    InvoiceNumbers { first: u32, needed: u64 },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("lake: {0}")]
    Lake(#[from] LakeError),
    #[error("reading the lake: {0}")]
    Polars(#[from] polars::error::PolarsError),
    #[error("rewriting a table: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("rendering a document: {0}")]
    Document(#[from] crate::documents::DocumentError),
}

/// What finance lets a close do that it otherwise refuses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Close a month that has no accepted event at all.
    pub allow_empty: bool,
    /// Close although the last ingest run failed or left files unread.
    pub despite_failed_ingest: bool,
}

/// What the close settles on: the first invoice number, the day payments are made, and who
/// the documents name as their issuer and as the e-money processor.
#[derive(Debug, Clone)]
pub struct CloseSettings {
    pub invoice_number_start: u32,
    pub payment_day: u32,
    pub issuer: Issuer,
    pub emoney_processor: Issuer,
    /// The domain of the emails' Message-IDs: the sender's (`mail_from`).
    pub mail_domain: String,
}

impl From<&crate::config::Settings> for CloseSettings {
    fn from(settings: &crate::config::Settings) -> CloseSettings {
        CloseSettings {
            invoice_number_start: settings.invoice_number_start,
            payment_day: settings.payment_day,
            issuer: Issuer {
                name: settings.issuer_name.clone(),
                registration_number: settings.issuer_registration_number.clone(),
            },
            emoney_processor: Issuer {
                name: settings.emoney_processor_name.clone(),
                registration_number: settings.emoney_processor_registration_number.clone(),
            },
            mail_domain: crate::notify::MailSettings::new(&settings.mail_from, "")
                .expect("mail_from is checked with the configuration")
                .domain()
                .to_owned(),
        }
    }
}

impl CloseSettings {
    /// The issue date (the first day of M + 1) and the payment date (`payment_day` of M + 1).
    fn dates(&self, month: Month) -> StatementDates {
        let issue = month.next().first_day();
        let payment = NaiveDate::from_ymd_opt(issue.year(), issue.month(), self.payment_day)
            .expect("payment_day is a day of every month");
        StatementDates { issue, payment }
    }
}

/// Every event file of the committed `batches`, with its batch's first close: as each batch
/// recorded them, or, for batches that recorded none (committed before batches did), found by
/// listing the event tables.
async fn event_files(
    lake: &Location,
    batches: &[CommittedBatch],
) -> Result<Vec<(EventFile, Option<Month>)>, CloseError> {
    let mut files = Vec::new();
    let mut unrecorded = BTreeMap::new();
    for batch in batches {
        match &batch.lake_files {
            Some(paths) => files.extend(
                paths
                    .iter()
                    .filter_map(|p| EventFile::parse(p))
                    .map(|f| (f, batch.first_close)),
            ),
            None => {
                unrecorded.insert(batch.batch.as_str(), batch.first_close);
            }
        }
    }
    if !unrecorded.is_empty() {
        for table in EventTable::ALL {
            for entry in lake.list(&format!("{}/", table.name())).await? {
                let Some(file) = EventFile::parse(&entry.path) else {
                    continue;
                };
                if let Some(first) = unrecorded.get(file.batch.as_str()) {
                    files.push((file, *first));
                }
            }
        }
    }
    Ok(files)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReport {
    pub month: Month,
    /// The month was closed before: nothing changed.
    pub already_closed: bool,
    pub invoices: Vec<InvoiceRecord>,
    /// Each partner's payment totals over all titles (empty when already closed).
    pub totals: BTreeMap<PartnerCode, PaymentTotals>,
    /// The documents the close issued.
    pub documents: Vec<DocumentRecord>,
}

/// What a computation reads the billed events from: each file's daily sums, summing the files
/// that have none yet (the month to date night after night, and the close, which finds most
/// of its month summed by the refreshes), or the event files themselves (a preview, which
/// writes nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Events,
    DailySums,
}

/// What a close computes from: the master data, the slips, the committed batches (with the
/// close that first saw each), their event files and a local copy of those that the
/// computations read, or of their daily sums (on S3 only those are fetched). Read once, it
/// serves every month a refresh computes.
struct Inputs {
    master: MasterData,
    slips: Vec<crate::domain::AdjustmentSlip>,
    batches: Vec<CommittedBatch>,
    /// Every committed event file, with the first close of its batch.
    files: Vec<(EventFile, Option<Month>)>,
    events: LocalCopy,
    source: Source,
}

impl Inputs {
    /// The inputs of the computations `billings`, their events read from `source`.
    async fn read(
        db: &Database,
        lake: &Location,
        billings: &[Billing],
        source: Source,
    ) -> Result<Inputs, CloseError> {
        let batches = db.committed_batches().await?;
        let files = event_files(lake, &batches).await?;
        let needed: Vec<&EventFile> = files
            .iter()
            .filter(|(file, first)| billings.iter().any(|b| b.bills(file, *first)))
            .map(|(file, _)| file)
            .collect();
        let events = match source {
            Source::Events => {
                let paths: Vec<String> = needed.iter().map(|f| f.path()).collect();
                lake.local_files(&paths).await?
            }
            Source::DailySums => sums::read(lake, &needed).await?,
        };
        Ok(Inputs {
            master: db.master_data().await?,
            slips: db.adjustment_slips().await?,
            batches,
            files,
            events,
            source,
        })
    }

    /// The event files `billing` bills.
    fn billed(&self, billing: Billing) -> Vec<&EventFile> {
        self.files
            .iter()
            .filter(|(file, first)| billing.bills(file, *first))
            .map(|(file, _)| file)
            .collect()
    }

    /// The committed batches no close has seen yet.
    fn new_batches(&self) -> Vec<String> {
        self.batches
            .iter()
            .filter(|b| b.first_close.is_none())
            .map(|b| b.batch.clone())
            .collect()
    }

    /// The statements of `billing.month` (its first invoice numbered `first_invoice_number`).
    fn compute(
        &self,
        first_invoice_number: u32,
        billing: Billing,
    ) -> Result<Statements, CloseError> {
        let started = std::time::Instant::now();
        let month = billing.month;
        let rates = Rates::on(&self.master, month.last_day()).map_err(CloseError::Rates)?;
        let billed = self.billed(billing);
        let sums = (self.source == Source::DailySums).then_some(DAILY_SUMS);
        // polars runs its own runtime: it reads on a thread outside ours.
        let (plays, purchases) = std::thread::scope(|scope| {
            scope
                .spawn(|| events::billed(self.events.root(), sums, &billed))
                .join()
        })
        .expect("reading the lake does not panic")?;
        tracing::debug!(elapsed = ?started.elapsed(), plays = plays.len(), purchases = purchases.len(), "daily counts read");
        let slips = self
            .slips
            .iter()
            .filter(|s| s.adjusted_month == month)
            .cloned()
            .collect();
        let days = BilledDays::Counted {
            plays: &plays,
            purchases: &purchases,
        };
        let statements = statements(&self.master, rates, days, slips, first_invoice_number)?;
        tracing::debug!(elapsed = ?started.elapsed(), "statements computed");
        Ok(statements)
    }
}

/// Run `work(core, cores)` on a thread for each core and collect the results in core order:
/// the close splits its millions of daily counts among them.
fn on_every_core<R: Send>(work: impl Fn(usize, usize) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        let work = &work;
        let workers: Vec<_> = (0..cores)
            .map(|core| scope.spawn(move || work(core, cores)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("the close's work does not panic"))
            .collect()
    })
}

/// Where `month` stands in the sequence of closes: closed already (with its invoices), or
/// the next to close.
async fn sequence(db: &Database, month: Month) -> Result<Option<CloseReport>, CloseError> {
    match db.last_closed_month().await? {
        Some(last) if month <= last => Ok(Some(CloseReport {
            month,
            already_closed: true,
            invoices: db.invoices_of(month).await?,
            totals: BTreeMap::new(),
            documents: documents_of(db, month).await?,
        })),
        Some(last) if month != last.next() => Err(CloseError::OutOfSequence {
            expected: last.next(),
            asked: month,
        }),
        _ => Ok(None),
    }
}

/// Why closing `month` with these statements may be a mistake: the last ingest run failed or
/// never finished (files may be unread), or the month has no accepted event at all (a close
/// is final: every event of the month would become a late event of the next close). What
/// finance `overrides` is left out.
async fn hazards(
    db: &Database,
    statements: &Statements,
    month: Month,
    overrides: Overrides,
) -> Result<Vec<String>, CloseError> {
    let mut hazards = Vec::new();
    let last_ingest = db.last_run_of("ingest").await?;
    if let Some(run) = last_ingest.filter(|r| r.outcome.as_deref() != Some("succeeded")) {
        if !overrides.despite_failed_ingest {
            let how = match (&run.outcome, &run.error) {
                (None, _) => "did not finish".to_owned(),
                (Some(outcome), error) => {
                    format!("{outcome}: {}", error.as_deref().unwrap_or("-"))
                }
            };
            hazards.push(format!(
                "the last ingest run (run {}, started {}) {how}; files may be unread                  (run kakin ingest again, or close with --despite-failed-ingest)",
                run.id, run.started_at
            ));
        }
    }
    if !overrides.allow_empty && !statements.has_events_of(month) {
        hazards.push(format!(
            "{month} has no accepted event: was its ingest run? (close it anyway with --allow-empty)"
        ));
    }
    Ok(hazards)
}

/// `kakin close YYYY-MM`: refused (nothing written, no number taken) while [`hazards`] finds
/// a reason that finance did not override.
pub async fn close_month(
    db: &Database,
    lake: &Location,
    settings: &CloseSettings,
    month: Month,
    overrides: Overrides,
) -> Result<CloseReport, CloseError> {
    if let Some(closed) = sequence(db, month).await? {
        return Ok(closed);
    }
    let first_number = db
        .next_invoice_number(settings.invoice_number_start)
        .await?;
    let billing = Billing::close_of(month);
    let inputs = Inputs::read(db, lake, &[billing], Source::DailySums).await?;
    let statements = &inputs.compute(first_number, billing)?;
    let hazards = hazards(db, statements, month, overrides).await?;
    if !hazards.is_empty() {
        return Err(CloseError::Unsafe(format!(
            "the close of {month} is refused: {}",
            hazards.join("; ")
        )));
    }
    let dates = settings.dates(month);
    let planned = documents::Issue::of(&inputs.master, settings, month).documents(statements);
    let documents = documents::issue(lake, month, planned).await?;
    tracing::debug!(documents = documents.len(), "documents issued");
    crate::failpoint("close-documents-written");
    let tables = tables::Written {
        dates,
        documents: &documents,
    };
    tables::write(
        lake,
        Area::Closed,
        &inputs.master,
        month,
        tables,
        statements,
    )
    .await?;
    tracing::debug!("tables written");
    crate::failpoint("close-before-commit");
    let invoices: Vec<InvoiceRecord> = statements.invoices.iter().map(Invoice::record).collect();
    let batches = inputs.new_batches();
    let emails = emails::announcements(&inputs.master, settings, month, statements, &documents);
    let issued = Issued {
        invoices: &invoices,
        documents: &documents,
        emails: &emails,
    };
    db.commit_close(month, dates.issue, issued, &batches)
        .await?;
    drop_provisional(lake, month).await?;
    sums::forget(lake, &inputs.billed(billing)).await?;
    Ok(CloseReport {
        month,
        already_closed: false,
        invoices,
        totals: all_titles(statements),
        documents,
    })
}

/// The documents issued for the close of `month` (by the close, voids and reissues).
async fn documents_of(db: &Database, month: Month) -> Result<Vec<DocumentRecord>, CloseError> {
    let all = db.documents().await?;
    Ok(all.into_iter().filter(|d| d.month == month).collect())
}

fn all_titles(statements: &Statements) -> BTreeMap<PartnerCode, PaymentTotals> {
    statements
        .totals
        .keys()
        .filter_map(|p| statements.totals_of(p).map(|t| (p.clone(), t.clone())))
        .collect()
}

/// One partner's figures in a preview, beside those of the previous close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewRow {
    pub partner: PartnerCode,
    pub invoice_total: Option<Yen>,
    pub previous_invoice_total: Option<Yen>,
    pub pay: Option<Yen>,
    pub previous_pay: Option<Yen>,
}

/// `kakin close M --dry-run`: the close computed through the same code, nothing written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub month: Month,
    /// Why the close itself would be refused (the dry run shows it and goes on).
    pub hazards: Vec<String>,
    /// The month is closed already: its figures are those recorded.
    pub already_closed: bool,
    pub invoices: Vec<InvoiceRecord>,
    pub rows: Vec<PreviewRow>,
}

/// `kakin close M --dry-run`: compute the close of `month` and compare each partner's invoice
/// total and PAY with the previous close's. Writes nothing and takes no number.
pub async fn preview_close(
    db: &Database,
    lake: &Location,
    settings: &CloseSettings,
    month: Month,
) -> Result<Preview, CloseError> {
    if let Some(closed) = sequence(db, month).await? {
        return Ok(Preview {
            month,
            hazards: Vec::new(),
            already_closed: true,
            invoices: closed.invoices,
            rows: Vec::new(),
        });
    }
    let first_number = db
        .next_invoice_number(settings.invoice_number_start)
        .await?;
    let billing = Billing::close_of(month);
    let inputs = Inputs::read(db, lake, &[billing], Source::Events).await?;
    let statements = inputs.compute(first_number, billing)?;
    let hazards = hazards(db, &statements, month, Overrides::default()).await?;
    let previous_invoices = db.invoices_of(month.previous()).await?;
    let previous_pay = previous_pay(lake, month.previous()).await?;
    let totals = all_titles(&statements);
    let mut partners: Vec<PartnerCode> = totals
        .keys()
        .cloned()
        .chain(statements.invoices.iter().map(|i| i.partner.clone()))
        .chain(previous_pay.keys().cloned())
        .chain(
            previous_invoices
                .iter()
                .filter_map(|i| PartnerCode::parse(&i.partner_code).ok()),
        )
        .collect();
    partners.sort();
    partners.dedup();
    let invoice_total = |partner: &PartnerCode| {
        statements
            .invoices
            .iter()
            .find(|i| &i.partner == partner)
            .map(|i| i.total)
    };
    let previous_invoice_total = |partner: &PartnerCode| {
        previous_invoices
            .iter()
            .find(|i| i.partner_code == partner.as_str() && i.status == InvoiceStatus::Issued)
            .map(|i| Yen(i.total))
    };
    let rows = partners
        .into_iter()
        .map(|partner| PreviewRow {
            invoice_total: invoice_total(&partner),
            previous_invoice_total: previous_invoice_total(&partner),
            pay: totals.get(&partner).map(|t| t.pay),
            previous_pay: previous_pay.get(&partner).copied(),
            partner,
        })
        .collect();
    Ok(Preview {
        month,
        hazards,
        already_closed: false,
        invoices: statements.invoices.iter().map(Invoice::record).collect(),
        rows,
    })
}

/// Each partner's PAY over all titles in the close of `month`, from the lake (none when the
/// month was not closed).
async fn previous_pay(
    lake: &Location,
    month: Month,
) -> Result<BTreeMap<PartnerCode, Yen>, CloseError> {
    let path = StatementTable::PaymentTotals.path(Area::Closed, month);
    Ok(match lake.get_batch(&path).await? {
        Some(totals) => tables::all_titles_pay(&totals),
        None => BTreeMap::new(),
    })
}

/// What a refresh computed for one open month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshReport {
    pub month: Month,
    /// The last play date it covers.
    pub until: NaiveDate,
    pub totals: BTreeMap<PartnerCode, PaymentTotals>,
}

/// `kakin refresh`: the month-to-date tables of every open month up to `yesterday` (JST),
/// under `provisional/`, through the close's own code; provisional tables of months closed
/// since are dropped.
pub async fn refresh(
    db: &Database,
    lake: &Location,
    settings: &CloseSettings,
    yesterday: NaiveDate,
) -> Result<Vec<RefreshReport>, CloseError> {
    let last_closed = db.last_closed_month().await?;
    let first_open = last_closed.map_or(Month::of(yesterday), Month::next);
    for entry in lake.list(PROVISIONAL).await? {
        let closed = closing_month_of(&entry.path)
            .is_some_and(|month| last_closed.is_some_and(|last| month <= last));
        if closed {
            lake.delete(&entry.path).await?;
        }
    }
    let open: Vec<Billing> = std::iter::successors(Some(first_open), |m| Some(m.next()))
        .take_while(|m| m.first_day() <= yesterday)
        .map(|month| Billing {
            month,
            until: month.last_day().min(yesterday),
            first_open,
        })
        .collect();
    if open.is_empty() {
        return Ok(Vec::new());
    }
    let inputs = Inputs::read(db, lake, &open, Source::DailySums).await?;
    let billed: Vec<&EventFile> = open.iter().flat_map(|b| inputs.billed(*b)).collect();
    sums::forget_all_but(lake, &billed).await?;
    let mut reports = Vec::new();
    for billing in open {
        let (month, until) = (billing.month, billing.until);
        let mut statements = inputs.compute(settings.invoice_number_start, billing)?;
        statements.invoices.clear();
        let dates = settings.dates(month);
        let tables = tables::Written {
            dates,
            documents: &[],
        };
        tables::write(
            lake,
            Area::Provisional,
            &inputs.master,
            month,
            tables,
            &statements,
        )
        .await?;
        reports.push(RefreshReport {
            month,
            until,
            totals: all_titles(&statements),
        });
    }
    Ok(reports)
}

/// Drop the month-to-date tables of a month once it is closed.
async fn drop_provisional(lake: &Location, month: Month) -> Result<(), CloseError> {
    for table in StatementTable::ALL
        .iter()
        .filter(|t| t.in_area(Area::Provisional))
    {
        lake.delete(&table.path(Area::Provisional, month)).await?;
    }
    Ok(())
}
