//! Operations' nightly ingest of the key-chips' logs, with a progress bar on a terminal.

use crate::app::{ledgered, location, Context, Failure, Recorded};
use indicatif::{ProgressBar, ProgressStyle};
use pipeline::ingest::{self, FileOutcome, FileReport, IngestReport};

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

/// `kakin ingest`, also the demo's ingest step.
pub async fn run_ingest(
    context: &Context,
    incoming_url: &str,
    date: Option<chrono::NaiveDate>,
) -> Result<(), Failure> {
    let incoming = location(incoming_url)?;
    let arguments = match date {
        Some(date) => format!("--date {date} --incoming {incoming_url}"),
        None => format!("--incoming {incoming_url}"),
    };
    let bar = FileProgress::new();
    let job = ingest::ingest(&context.db, &context.lake, &incoming, date, &bar);
    let report = ledgered(context, "ingest", &arguments, job).await?;
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
