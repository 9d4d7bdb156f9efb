//! `kakin runs`: the job ledger as operations read it — per scheduled job its last run, its
//! outcome and when it is next due, then the latest runs.

use crate::app::{Context, Failure};
use pipeline::schedule::{self, Schedules};

/// `kakin runs`.
pub async fn print_runs(context: &Context, limit: i64) -> Result<(), Failure> {
    let db = &context.db;
    let failed = |e: pipeline::db::DbError| Failure::Failed(e.into());
    let settings = &context.settings.schedule;
    let schedules = Schedules::parse(&settings.ingest, &settings.close)
        .map_err(|e| Failure::Invalid(e.to_string()))?;
    let now = schedule::now();
    println!("{:<8}  {:<40}  next (Asia/Tokyo)", "job", "last run");
    for (job, cron) in [("ingest", &schedules.ingest), ("close", &schedules.close)] {
        let last = db.last_run_of(job).await.map_err(failed)?;
        let last = last.map_or_else(
            || "never".to_owned(),
            |run| {
                let outcome = run.outcome.as_deref().unwrap_or("running");
                format!("run {} {} {outcome}", run.id, run.started_at)
            },
        );
        let next = cron.after(&now).next().map_or_else(
            || "-".into(),
            |at| at.format("%Y-%m-%d %H:%M:%S").to_string(),
        );
        println!("{job:<8}  {last:<40}  {next}");
    }
    println!();
    let runs = db.runs(limit).await.map_err(failed)?;
    println!(
        "{:>5}  {:<20}  {:<20}  {:<20}  {:<9}  {:<8}  arguments / counts",
        "run", "command", "started", "finished", "outcome", "trigger"
    );
    for run in runs {
        println!(
            "{:>5}  {:<20}  {:<20}  {:<20}  {:<9}  {:<8}  {}",
            run.id,
            run.command,
            run.started_at,
            run.finished_at.as_deref().unwrap_or("-"),
            run.outcome.as_deref().unwrap_or("running"),
            run.triggered_by,
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
