//! What every command shares: how a command fails (and its exit status), the one
//! [`Context`] of settings, database and lake a command works in, and the job ledger that every
//! writing command goes through, holding the writer lease.

use pipeline::close::{CloseError, CloseSettings};
use pipeline::config::Settings;
use pipeline::db::{Database, Lease, RunId};
use pipeline::ingest::IngestError;
use pipeline::lake::Location;
use pipeline::master::ImportError;
use pipeline::schedule::Clock;
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

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

    pub fn ledger_outcome(&self) -> (&'static str, String) {
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

/// What a command works in: the settings, the database and the lake, opened once.
#[derive(Clone)]
pub struct Context {
    pub settings: Settings,
    pub db: Database,
    pub lake: Location,
    /// How long a writer waits for another (`--wait`).
    pub wait: Duration,
    /// What started the command, as the ledger records it: `hand` or `schedule`.
    pub trigger: &'static str,
    /// The writer lease, when the caller (the scheduler) holds it for the job already.
    pub held: Option<Arc<Lease>>,
    /// The clock the ledger's times and "yesterday" are read from (the daemon's may run fast).
    pub clock: Clock,
}

impl Context {
    pub async fn open(settings: Settings, wait: Duration) -> Result<Context, Failure> {
        let db = Database::connect(&settings.database_url)
            .await
            .map_err(|e| match e {
                pipeline::db::DbError::UnsupportedUrl(_) => Failure::Invalid(e.to_string()),
                e => Failure::Failed(e.into()),
            })?;
        let lake = location(&settings.lake_url)?;
        Ok(Context {
            settings,
            db,
            lake,
            wait,
            trigger: "hand",
            held: None,
            clock: Clock::real(),
        })
    }

    /// Now by the context's clock.
    pub fn utc_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now().with_timezone(&chrono::Utc)
    }

    /// This context for a job the scheduler started while holding `lease`.
    pub fn scheduled(&self, lease: Arc<Lease>) -> Context {
        Context {
            trigger: "schedule",
            held: Some(lease),
            ..self.clone()
        }
    }

    /// What the close settles on, from the settings.
    pub fn close_settings(&self) -> CloseSettings {
        CloseSettings::from(&self.settings)
    }
}

/// An object-store location named in the settings or on the command line.
pub fn location(url: &str) -> Result<Location, Failure> {
    Location::open(url).map_err(|e| match e {
        pipeline::lake::LakeError::UnsupportedUrl(_) => Failure::Invalid(e.to_string()),
        e => Failure::Failed(e.into()),
    })
}

/// What a job's report puts in the ledger.
pub trait Recorded {
    fn counts(&self) -> String;
    /// A failure the job reports after finishing its work (exit 1, recorded as failed).
    fn failure(&self) -> Option<String> {
        None
    }
}

/// Run a writing job as one entry of the job ledger, holding the writer lease: its outcome,
/// counts or error recorded. Every ledgered command writes the lake or the database, so each
/// takes the lease first (waiting up to `--wait`), then finishes what a killed writer left,
/// then works; a job that loses its lease (it stalled past the expiry and another writer took
/// over) stops at once, as a kill would: every job is safe to kill and run again.
pub async fn ledgered<T: Recorded, E: Into<Failure>>(
    context: &Context,
    command: &str,
    arguments: &str,
    job: impl Future<Output = Result<T, E>>,
) -> Result<T, Failure> {
    let db = &context.db;
    let run = db
        .start_run_at(command, arguments, context.trigger, context.utc_now())
        .await
        .map_err(anyhow::Error::from)?;
    let span = tracing::info_span!("run", run = run.0, command, trigger = context.trigger);
    let work = async {
        tracing::info!(arguments, "run started");
        let outcome = match recover(context).await {
            Ok(()) => job.await.map_err(Into::into),
            Err(failure) => Err(failure),
        };
        match &outcome {
            Ok(_) => tracing::info!("run finished"),
            Err(failure) => tracing::warn!(error = failure.ledger_outcome().1, "run failed"),
        }
        outcome
    };
    let outcome = match &context.held {
        Some(_) => work.instrument(span).await,
        None => match hold_lease(context, run, command, arguments).await {
            Ok(lease) => {
                let renewing = tokio::spawn(renew(lease.clone()));
                let outcome = work.instrument(span).await;
                renewing.abort();
                lease.release().await.map_err(anyhow::Error::from)?;
                outcome
            }
            Err(failure) => Err(failure),
        },
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
    db.finish_run_at(run, status, &counts, error.as_deref(), context.utc_now())
        .await
        .map_err(anyhow::Error::from)?;
    outcome
}

/// Take the writer lease for `run`, or fail naming its holder after `--wait`.
async fn hold_lease(
    context: &Context,
    run: RunId,
    command: &str,
    arguments: &str,
) -> Result<Arc<Lease>, Failure> {
    let holder = format!(
        "run {} ({command}{}{arguments})",
        run.0,
        if arguments.is_empty() { "" } else { " " },
    );
    take_lease(context, &holder).await
}

/// Take the writer lease as `holder`, waiting up to the context's `--wait`.
pub async fn take_lease(context: &Context, holder: &str) -> Result<Arc<Lease>, Failure> {
    let wait = context.wait;
    let expiry = Duration::from_secs(context.settings.lease_seconds);
    match context
        .db
        .take_lease(holder, &host_name(), expiry, wait)
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
pub async fn renew(lease: Arc<Lease>) {
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
async fn recover(context: &Context) -> Result<(), Failure> {
    let Context { db, lake, .. } = context;
    lake.remove_staging().await.map_err(anyhow::Error::from)?;
    let finished = pipeline::close::finish_rewrites(db, lake, &context.close_settings())
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
