//! The commands: configuration, database, ledger, and the call into the pipeline.

use crate::{AdjustmentsCommand, Cli, Command, MasterCommand};
use pipeline::config::Settings;
use pipeline::db::Database;
use pipeline::master::{self, ImportError, ImportReport};
use std::future::Future;
use std::process::ExitCode;

/// How a command ended when it did not succeed.
pub enum Failure {
    /// Bad usage, bad configuration or invalid input: exit 2, nothing applied.
    Invalid(String),
    /// The job failed: exit 1.
    Failed(anyhow::Error),
}

impl Failure {
    pub fn report(self) -> ExitCode {
        match self {
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
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Failed(error)
    }
}

impl From<ImportError> for Failure {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::Invalid(problems) => Failure::Invalid(format!(
                "{problems}{} problem(s): nothing was imported",
                problems.0.len()
            )),
            ImportError::Db(e) => Failure::Failed(e.into()),
        }
    }
}

pub async fn run(cli: Cli) -> Result<(), Failure> {
    let settings =
        Settings::load(cli.config.as_deref()).map_err(|e| Failure::Invalid(e.to_string()))?;
    match cli.command {
        Command::Demo(args) => crate::demo::run(&settings, args).await,
        Command::Master {
            command: MasterCommand::Import { dir },
        } => {
            let db = connect(&settings).await?;
            let arguments = dir.display().to_string();
            let report = ledgered(
                &db,
                "master import",
                &arguments,
                master::import_master(&db, &dir),
            )
            .await?;
            println!("master data imported from {arguments}: {report}");
            Ok(())
        }
        Command::Adjustments {
            command: AdjustmentsCommand::Import { file },
        } => {
            let db = connect(&settings).await?;
            let arguments = file.display().to_string();
            let report = ledgered(
                &db,
                "adjustments import",
                &arguments,
                master::import_adjustments(&db, &file),
            )
            .await?;
            println!("adjustment slips imported from {arguments}: {report}");
            Ok(())
        }
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

/// Run an import as one entry of the job ledger: its outcome, counts or error recorded.
pub async fn ledgered(
    db: &Database,
    command: &str,
    arguments: &str,
    job: impl Future<Output = Result<ImportReport, ImportError>>,
) -> Result<ImportReport, Failure> {
    let run = db
        .start_run(command, arguments)
        .await
        .map_err(anyhow::Error::from)?;
    let outcome = job.await;
    let (status, counts, error) = match &outcome {
        Ok(report) => ("succeeded", report.to_string(), None),
        Err(ImportError::Invalid(problems)) => (
            "invalid",
            String::new(),
            Some(format!("{} problem(s)", problems.0.len())),
        ),
        Err(ImportError::Db(e)) => ("failed", String::new(), Some(e.to_string())),
    };
    db.finish_run(run, status, &counts, error.as_deref())
        .await
        .map_err(anyhow::Error::from)?;
    Ok(outcome?)
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
