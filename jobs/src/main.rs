//! `kakin`: the commands of `cli.md`. Each command reads the configuration, opens the database,
//! records itself in the job ledger and calls one stage of the `pipeline` library.
//!
//! Exit status: 0 success; 1 the job failed; 2 bad usage, bad configuration, or an import with
//! any invalid row (every problem listed, nothing applied).

mod closing;
mod commands;
mod demo;
mod reading;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kakin",
    version,
    about = "課金: bills and pays arcade operators"
)]
struct Cli {
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
    Demo(demo::DemoArgs),
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
    Export(reading::ExportArgs),
    /// SQL over every lake table by name (polars SQL).
    Query {
        sql: String,
        #[arg(long, value_enum, default_value_t = reading::Format::Table)]
        format: reading::Format,
        /// Write to FILE instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
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

fn main() -> ExitCode {
    // Like other command-line tools, end quietly when the reader of our output goes away
    // (`kakin export billing | head`) instead of failing to print.
    // SAFETY: restoring the default disposition of a signal, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KAKIN_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if std::env::var_os("POLARS_FMT_MAX_ROWS").is_none() {
        // `kakin query` prints up to 100 rows on a terminal (before any thread starts).
        std::env::set_var("POLARS_FMT_MAX_ROWS", "100");
    }
    // Workers enough that the lease's renewal runs while a job holds a thread (polars and the
    // table encoders block theirs).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let outcome = runtime.block_on(commands::run(cli));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
