//! `kakin`: the commands of `cli.md`. [`cli`] parses the command line and dispatches to one job
//! family (`master`, `ingest`, `close`, `outbox`, `read`, `runs`, `serve`, `demo`); each works in the [`app`]'s
//! context and, when it writes, through its job ledger and writer lease.
//!
//! Exit status: 0 success; 1 the job failed; 2 bad usage, bad configuration, or an import with
//! any invalid row (every problem listed, nothing applied).

mod allocator;
mod app;
mod cli;
mod close;
mod demo;
mod ingest;
mod master;
mod outbox;
mod read;
mod runs;
mod serve;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc, or glibc's malloc for `kakin ingest` ([`allocator`] says why).
#[global_allocator]
static ALLOCATOR: allocator::ByCommand = allocator::ByCommand;

/// Logs on standard error: human on a terminal, JSON lines otherwise (a daemon's log is read by
/// machines), every line of a run carrying its run id (`ledgered`'s span). `KAKIN_LOG` filters;
/// by default the libraries' chatter (sqlx's notices, its statements) stays out.
fn logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("KAKIN_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        logs.init();
    } else {
        logs.json().init();
    }
}

fn main() -> ExitCode {
    // Like other command-line tools, end quietly when the reader of our output goes away
    // (`kakin export billing | head`) instead of failing to print.
    // SAFETY: restoring the default disposition of a signal, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = cli::Cli::parse();
    logging();
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
    let outcome = runtime.block_on(cli::dispatch(cli));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}
