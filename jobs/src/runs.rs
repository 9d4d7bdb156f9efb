//! `kakin runs`: the job ledger as operations read it.

use crate::app::{Context, Failure};

/// `kakin runs`.
pub async fn print_runs(context: &Context, limit: i64) -> Result<(), Failure> {
    let runs = context.db.runs(limit).await.map_err(anyhow::Error::from)?;
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
