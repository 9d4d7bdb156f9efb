//! The command line: clap's types for every command of `cli.md`, and the dispatch to the job
//! family that runs each.

use crate::app::{Context, Failure};
use clap::{Parser, Subcommand};
use pipeline::config::Settings;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "kakin",
    version,
    about = "課金: bills and pays arcade operators"
)]
pub struct Cli {
    /// The configuration file (default: ./kakin.toml if present, else the embedded default).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// How long a command that writes waits for another writer to finish, in seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 10)]
    wait: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a network and a month of logs into var/demo/, then run every stage on it.
    Demo(crate::demo::DemoArgs),
    /// Master data: partners, stores, titles, key-chips, charges, products, rates.
    Master {
        #[command(subcommand)]
        command: MasterCommand,
    },
    /// Adjustment slips (調整伝票).
    Adjustments {
        #[command(subcommand)]
        command: AdjustmentsCommand,
    },
    /// Ingest every delivered log not yet ingested (up to --date), and retry the open
    /// quarantined rows.
    Ingest {
        /// Take files delivered on or before this day (default: all).
        #[arg(long, value_parser = parse_date)]
        date: Option<chrono::NaiveDate>,
        /// Where the collectors drop the logs (default: the configured incoming_url).
        #[arg(long, value_name = "URL")]
        incoming: Option<String>,
    },
    /// The month-end close of YYYY-MM: statement tables and invoice numbers (or its preview,
    /// or a reissue).
    Close {
        #[arg(value_parser = parse_month)]
        month: pipeline::domain::Month,
        /// Compute every total through the close's own code and print them beside the previous
        /// close's; write nothing, take no number.
        #[arg(long)]
        dry_run: bool,
        /// Reissue PARTNER's voided invoice of the closed month, re-priced as things are now.
        #[arg(long, value_name = "PARTNER", conflicts_with = "dry_run")]
        reissue: Option<String>,
        /// Close the month although it has no accepted event at all.
        #[arg(long)]
        allow_empty: bool,
        /// Close the month although the last ingest run failed or did not finish.
        #[arg(long)]
        despite_failed_ingest: bool,
    },
    /// The open months' month-to-date tables under provisional/, up to yesterday (JST).
    Refresh,
    /// Invoices: void one.
    Invoice {
        #[command(subcommand)]
        command: InvoiceCommand,
    },
    /// The billing site's CSV downloads (lake.md, "CSV exports").
    Export(crate::read::ExportArgs),
    /// SQL over every lake table by name (polars SQL).
    Query {
        sql: String,
        #[arg(long, value_enum, default_value_t = crate::read::Format::Table)]
        format: crate::read::Format,
        /// Write to FILE instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// The email outbox: queued, sent and failed emails (list), and what operations do with them.
    Outbox {
        #[command(subcommand)]
        command: Option<OutboxCommand>,
    },
    /// Run the nightly ingest and the month-end close on their schedules (Asia/Tokyo), catching
    /// up what was missed, until SIGTERM or SIGINT.
    Serve(crate::serve::ServeArgs),
    /// Check every document in the lake against the SHA-256 recorded when it was issued.
    Verify,
    /// The job ledger: each run, its arguments, start, end, outcome and counts.
    Runs {
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

#[derive(Subcommand)]
enum MasterCommand {
    /// Import the master data files of DIR in one transaction.
    Import { dir: PathBuf },
}

#[derive(Subcommand)]
enum InvoiceCommand {
    /// Void an issued invoice: it stays, marked VOID with the reason; its number is not reused.
    Void {
        number: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Send every queued email now, whatever its back-off.
    Send,
    /// Queue failed emails again (those named, or every failed one).
    Retry { ids: Vec<i64> },
    /// Queue and send a copy of an invoice's email (a new Message-ID, recorded as a resend).
    Resend { invoice: String },
}

#[derive(Subcommand)]
enum AdjustmentsCommand {
    /// Import the adjustment slips of FILE in one transaction.
    Import { file: PathBuf },
}

fn parse_date(text: &str) -> Result<chrono::NaiveDate, String> {
    pipeline::domain::parse_date(text).map_err(|e| e.0)
}

fn parse_month(text: &str) -> Result<pipeline::domain::Month, String> {
    <pipeline::domain::Month as pipeline::domain::Parse>::parse(text).map_err(|e| e.0)
}

/// Run the command `cli` names: read the configuration, open the context it works in, call
/// the job.
pub async fn dispatch(cli: Cli) -> Result<(), Failure> {
    let settings =
        Settings::load(cli.config.as_deref()).map_err(|e| Failure::Invalid(e.to_string()))?;
    let wait = Duration::from_secs(cli.wait);
    if let Command::Demo(args) = cli.command {
        return crate::demo::run(args, wait).await;
    }
    let context = &Context::open(settings, wait).await?;
    let outcome = run(context, cli.command).await;
    if let Some((objects, bytes)) = context.lake.fetched() {
        tracing::info!(objects, bytes, "fetched from the lake");
    }
    outcome
}

async fn run(context: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Demo(_) => unreachable!("the demo runs on its own context"),
        Command::Master {
            command: MasterCommand::Import { dir },
        } => crate::master::import_master(context, &dir).await,
        Command::Adjustments {
            command: AdjustmentsCommand::Import { file },
        } => crate::master::import_adjustments(context, &file).await,
        Command::Ingest { date, incoming } => {
            let incoming = incoming.unwrap_or_else(|| context.settings.incoming_url.clone());
            crate::ingest::run_ingest(context, &incoming, date).await
        }
        Command::Close {
            month,
            dry_run,
            reissue,
            allow_empty,
            despite_failed_ingest,
        } => match (dry_run, reissue) {
            (true, _) => crate::close::preview(context, month).await,
            (false, Some(partner)) => crate::close::reissue(context, month, &partner).await,
            (false, None) => {
                let overrides = pipeline::close::Overrides {
                    allow_empty,
                    despite_failed_ingest,
                };
                crate::close::close(context, month, overrides).await
            }
        },
        Command::Refresh => crate::close::refresh(context).await,
        Command::Invoice {
            command: InvoiceCommand::Void { number, reason },
        } => crate::close::void(context, &number, &reason).await,
        Command::Export(args) => crate::read::export(context, args).await,
        Command::Query {
            sql,
            format,
            output,
        } => crate::read::query(context, &sql, format, output.as_deref()).await,
        Command::Runs { limit } => crate::runs::print_runs(context, limit).await,
        Command::Verify => crate::close::verify(context).await,
        Command::Serve(args) => crate::serve::serve(context, args).await,
        Command::Outbox { command } => match command {
            None => crate::outbox::list(context).await,
            Some(OutboxCommand::Send) => crate::outbox::send_now(context).await,
            Some(OutboxCommand::Retry { ids }) => crate::outbox::retry(context, &ids).await,
            Some(OutboxCommand::Resend { invoice }) => {
                crate::outbox::resend(context, &invoice).await
            }
        },
    }
}
