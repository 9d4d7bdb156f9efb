//! The commands: configuration, database, ledger, and the call into the pipeline.

use crate::{AdjustmentsCommand, Cli, Command, InvoiceCommand, MasterCommand};
use indicatif::{ProgressBar, ProgressStyle};
use pipeline::close::CloseError;
use pipeline::config::Settings;
use pipeline::db::{Database, Lease, RunId};
use pipeline::ingest::{self, FileOutcome, FileReport, IngestError, IngestReport};
use pipeline::lake::Location;
use pipeline::master::{self, ImportError, ImportReport};
use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How a command ended when it did not succeed.
pub enum Failure {
    /// Bad usage, bad configuration or invalid input: exit 2, nothing applied.
    Invalid(String),
    /// An import with invalid rows: every problem listed, nothing applied (exit 2).
    Problems { listing: String, count: usize },
    /// The job failed: exit 1.
    Failed(anyhow::Error),
}

impl Failure {
    pub fn report(self) -> ExitCode {
        match self {
            Failure::Problems { listing, .. } => Failure::Invalid(listing).report(),
            Failure::Invalid(message) => {
                eprint!("{message}");
                if !message.ends_with('\n') {
                    eprintln!();
                }
                ExitCode::from(2)
            }
            Failure::Failed(error) => {
                eprintln!("kakin: {error}");
                ExitCode::from(1)
            }
        }
    }

    fn ledger_outcome(&self) -> (&'static str, String) {
        match self {
            Failure::Problems { count, .. } => ("invalid", format!("{count} problem(s)")),
            Failure::Invalid(message) => ("invalid", message.clone()),
            Failure::Failed(error) => ("failed", format!("{error:#}")),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Failed(error)
    }
}

impl From<ImportError> for Failure {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::Invalid(problems) => Failure::Problems {
                listing: format!(
                    "{problems}{} problem(s): nothing was imported",
                    problems.0.len()
                ),
                count: problems.0.len(),
            },
            e => Failure::Failed(e.into()),
        }
    }
}

impl From<CloseError> for Failure {
    fn from(error: CloseError) -> Self {
        match error {
            CloseError::OutOfSequence { .. } | CloseError::Refused(_) => {
                Failure::Invalid(error.to_string())
            }
            e => Failure::Failed(e.into()),
        }
    }
}

impl From<IngestError> for Failure {
    fn from(error: IngestError) -> Self {
        Failure::Failed(error.into())
    }
}

/// What a job's report puts in the ledger.
pub trait Recorded {
    fn counts(&self) -> String;
    /// A failure the job reports after finishing its work (exit 1, recorded as failed).
    fn failure(&self) -> Option<String> {
        None
    }
}

impl Recorded for ImportReport {
    fn counts(&self) -> String {
        self.to_string()
    }
}

impl Recorded for IngestReport {
    fn counts(&self) -> String {
        let retries = &self.retries;
        format!(
            "{} files: {}; retried {}: {} accepted, {} still open",
            self.files
                .iter()
                .filter(|f| matches!(f.outcome, FileOutcome::Ingested(_)))
                .count(),
            self.totals(),
            retries.retried,
            retries.accepted,
            retries.still_open
        )
    }

    fn failure(&self) -> Option<String> {
        let changed = self.changed_files();
        let unreadable: Vec<String> = self
            .unreadable_files()
            .iter()
            .map(|(path, why)| format!("{path} ({why})"))
            .collect();
        let mut failures = Vec::new();
        if !changed.is_empty() {
            failures.push(format!(
                "files changed at a known path (not ingested; a correction is a new file): {}",
                changed.join(", ")
            ));
        }
        if !unreadable.is_empty() {
            failures.push(format!(
                "files that could not be read (not ingested; the next run retries them): {}",
                unreadable.join(", ")
            ));
        }
        if !self.unlisted.is_empty() {
            failures.push(format!(
                "objects that could not be listed: {}",
                self.unlisted.join("; ")
            ));
        }
        (!failures.is_empty()).then(|| failures.join("; "))
    }
}

/// How long a writer waits for the lease (`--wait`), set once at the start.
static WRITER_WAIT: OnceLock<Duration> = OnceLock::new();

pub async fn run(cli: Cli) -> Result<(), Failure> {
    WRITER_WAIT.get_or_init(|| Duration::from_secs(cli.wait));
    let settings =
        Settings::load(cli.config.as_deref()).map_err(|e| Failure::Invalid(e.to_string()))?;
    match cli.command {
        Command::Demo(args) => crate::demo::run(args).await,
        Command::Master {
            command: MasterCommand::Import { dir },
        } => {
            let (db, lake) = (connect(&settings).await?, open(&settings.lake_url)?);
            let arguments = dir.display().to_string();
            let job = master::import_master(&db, &lake, &dir);
            let report = ledgered(&settings, &db, "master import", &arguments, job).await?;
            println!("master data imported from {arguments}: {report}");
            Ok(())
        }
        Command::Adjustments {
            command: AdjustmentsCommand::Import { file },
        } => {
            let db = connect(&settings).await?;
            let arguments = file.display().to_string();
            let job = master::import_adjustments(&db, &file);
            let report = ledgered(&settings, &db, "adjustments import", &arguments, job).await?;
            println!("adjustment slips imported from {arguments}: {report}");
            Ok(())
        }
        Command::Ingest { date, incoming } => {
            let incoming = incoming.unwrap_or_else(|| settings.incoming_url.clone());
            run_ingest(&settings, &incoming, date).await
        }
        Command::Close {
            month,
            dry_run,
            reissue,
            allow_empty,
            despite_failed_ingest,
        } => match (dry_run, reissue) {
            (true, _) => crate::closing::preview(&settings, month).await,
            (false, Some(partner)) => crate::closing::reissue(&settings, month, &partner).await,
            (false, None) => {
                let overrides = pipeline::close::Overrides {
                    allow_empty,
                    despite_failed_ingest,
                };
                crate::closing::close(&settings, month, overrides).await
            }
        },
        Command::Refresh => crate::closing::refresh(&settings).await,
        Command::Invoice {
            command: InvoiceCommand::Void { number, reason },
        } => crate::closing::void(&settings, &number, &reason).await,
        Command::Export(args) => crate::reading::export(&settings, args).await,
        Command::Query {
            sql,
            format,
            output,
        } => crate::reading::query(&settings, &sql, format, output.as_deref()).await,
        Command::Runs { limit } => {
            let db = connect(&settings).await?;
            print_runs(&db, limit).await
        }
    }
}

pub async fn connect(settings: &Settings) -> Result<Database, Failure> {
    Database::connect(&settings.database_url)
        .await
        .map_err(|e| match e {
            pipeline::db::DbError::UnsupportedUrl(_) => Failure::Invalid(e.to_string()),
            e => Failure::Failed(e.into()),
        })
}

pub fn open(url: &str) -> Result<Location, Failure> {
    Location::open(url).map_err(|e| match e {
        pipeline::lake::LakeError::UnsupportedUrl(_) => Failure::Invalid(e.to_string()),
        e => Failure::Failed(e.into()),
    })
}

/// Run a writing job as one entry of the job ledger, holding the writer lease: its outcome,
/// counts or error recorded. Every ledgered command writes the lake or the database, so each
/// takes the lease first (waiting up to `--wait`), then finishes what a killed writer left,
/// then works; a job that loses its lease (it stalled past the expiry and another writer took
/// over) stops at once, as a kill would: every job is safe to kill and run again.
pub async fn ledgered<T: Recorded, E: Into<Failure>>(
    settings: &Settings,
    db: &Database,
    command: &str,
    arguments: &str,
    job: impl Future<Output = Result<T, E>>,
) -> Result<T, Failure> {
    let run = db
        .start_run(command, arguments)
        .await
        .map_err(anyhow::Error::from)?;
    let outcome = match hold_lease(settings, db, run, command, arguments).await {
        Ok(lease) => {
            let renewing = tokio::spawn(renew(lease.clone()));
            let outcome = match recover(settings, db).await {
                Ok(()) => job.await.map_err(Into::into),
                Err(failure) => Err(failure),
            };
            renewing.abort();
            lease.release().await.map_err(anyhow::Error::from)?;
            outcome
        }
        Err(failure) => Err(failure),
    };
    let (status, counts, error) = match &outcome {
        Ok(report) => match report.failure() {
            None => ("succeeded", report.counts(), None),
            Some(failure) => ("failed", report.counts(), Some(failure)),
        },
        Err(failure) => {
            let (status, error) = failure.ledger_outcome();
            (status, String::new(), Some(error))
        }
    };
    db.finish_run(run, status, &counts, error.as_deref())
        .await
        .map_err(anyhow::Error::from)?;
    outcome
}

/// Take the writer lease for `run`, or fail naming its holder after `--wait`.
async fn hold_lease(
    settings: &Settings,
    db: &Database,
    run: RunId,
    command: &str,
    arguments: &str,
) -> Result<Arc<Lease>, Failure> {
    let holder = format!(
        "run {} ({command}{}{arguments})",
        run.0,
        if arguments.is_empty() { "" } else { " " },
    );
    let wait = *WRITER_WAIT.get_or_init(|| Duration::from_secs(10));
    let expiry = Duration::from_secs(settings.lease_seconds);
    match db
        .take_lease(&holder, &host_name(), expiry, wait)
        .await
        .map_err(anyhow::Error::from)?
    {
        Ok(lease) => Ok(Arc::new(lease)),
        Err(current) => Err(Failure::Failed(anyhow::anyhow!(
            "another writer holds the lease: {current}; waited {} s (--wait)",
            wait.as_secs()
        ))),
    }
}

/// Keep the lease while the job runs; stop the process if it is lost.
async fn renew(lease: Arc<Lease>) {
    let every = lease.expiry() / 3;
    loop {
        tokio::time::sleep(every).await;
        match lease.renew().await {
            Ok(true) => {}
            Ok(false) => lost_lease("another writer took it over after it expired"),
            Err(e) => tracing::warn!("renewing the writer lease: {e}"),
        }
    }
}

fn lost_lease(why: &str) -> ! {
    eprintln!("kakin: lost the writer lease ({why}): stopping here; the next run repairs");
    std::process::exit(1)
}

/// What the next writer does first: finish the voids and reissues that killed runs left, and
/// remove their half-written files.
async fn recover(settings: &Settings, db: &Database) -> Result<(), Failure> {
    let lake = open(&settings.lake_url)?;
    lake.remove_staging().await.map_err(anyhow::Error::from)?;
    let finished =
        pipeline::close::finish_rewrites(db, &lake, crate::closing::close_settings(settings))
            .await
            .map_err(anyhow::Error::from)?;
    for rewrite in finished {
        println!(
            "finished the {} of invoice {} left by a run that did not finish",
            rewrite.kind.as_str(),
            rewrite.invoice_no
        );
    }
    Ok(())
}

/// This machine's name, for the lease's holder.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `kakin ingest`, also the demo's ingest step.
pub async fn run_ingest(
    settings: &Settings,
    incoming_url: &str,
    date: Option<chrono::NaiveDate>,
) -> Result<(), Failure> {
    let db = connect(settings).await?;
    let (lake, incoming) = (open(&settings.lake_url)?, open(incoming_url)?);
    let arguments = match date {
        Some(date) => format!("--date {date} --incoming {incoming_url}"),
        None => format!("--incoming {incoming_url}"),
    };
    let bar = FileProgress::new();
    let job = ingest::ingest(&db, &lake, &incoming, date, &bar);
    let report = ledgered(settings, &db, "ingest", &arguments, job).await?;
    bar.finish();
    for unlisted in &report.unlisted {
        println!("{unlisted}: NOT LISTED (not ingested)");
    }
    for stray in &report.strays {
        println!("{stray}: not a delivery (<feed>/<YYYY-MM-DD>/<name>.csv[.gz]), left alone");
    }
    for batch in &report.removed {
        println!("removed the files of batch {batch}, left by a run that did not finish");
    }
    let retries = &report.retries;
    if retries.retried > 0 {
        println!(
            "retried {} open quarantined rows: {} accepted, {} still open, {} closed",
            retries.retried, retries.accepted, retries.still_open, retries.closed
        );
    }
    println!("ingested: {}", report.totals());
    match report.failure() {
        Some(failure) => Err(Failure::Failed(anyhow::anyhow!(failure))),
        None => Ok(()),
    }
}

/// A progress bar over the delivered files on a terminal; one plain line per file either way.
struct FileProgress(ProgressBar);

impl FileProgress {
    fn new() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed}")
                .expect("a valid template"),
        );
        FileProgress(bar)
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl ingest::Progress for FileProgress {
    fn files(&self, total: usize) {
        self.0.set_length(total as u64);
    }

    fn file_done(&self, report: &FileReport) {
        let line = match &report.outcome {
            FileOutcome::Ingested(counts) => format!("{}: {counts}", report.path),
            FileOutcome::AlreadyIngested => format!("{}: already ingested", report.path),
            FileOutcome::Changed => {
                format!(
                    "{}: CHANGED since it was ingested: not ingested",
                    report.path
                )
            }
            FileOutcome::Unreadable(why) => {
                format!("{}: UNREADABLE ({why}): not ingested", report.path)
            }
        };
        self.0.suspend(|| println!("{line}"));
        self.0.inc(1);
    }
}

async fn print_runs(db: &Database, limit: i64) -> Result<(), Failure> {
    let runs = db.runs(limit).await.map_err(anyhow::Error::from)?;
    println!(
        "{:>5}  {:<20}  {:<20}  {:<20}  {:<9}  arguments / counts",
        "run", "command", "started", "finished", "outcome"
    );
    for run in runs {
        println!(
            "{:>5}  {:<20}  {:<20}  {:<20}  {:<9}  {}",
            run.id,
            run.command,
            run.started_at,
            run.finished_at.as_deref().unwrap_or("-"),
            run.outcome.as_deref().unwrap_or("running"),
            run.arguments
        );
        for detail in [run.counts, run.error]
            .into_iter()
            .flatten()
            .filter(|d| !d.is_empty())
        {
            println!("{:>5}  {detail}", "");
        }
    }
    Ok(())
}
