//! The job ledger: every command run, its arguments, start, end, outcome and counts, so that
//! operations can see what ran and what it did (`kakin runs`).

use super::{Cells, Database, DbResult};
use chrono::{SecondsFormat, Utc};
use sqlx::Row;

/// A run in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunId(pub i64);

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: i64,
    pub command: String,
    pub arguments: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `succeeded`, `failed`, `invalid`; none while running (or when the run was killed).
    pub outcome: Option<String>,
    pub counts: Option<String>,
    pub error: Option<String>,
    /// `hand` or `schedule`.
    pub triggered_by: String,
}

fn timestamp(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Database {
    /// Record that `command` started now with `arguments`, `triggered_by` hand or schedule.
    pub async fn start_run(
        &self,
        command: &str,
        arguments: &str,
        triggered_by: &str,
    ) -> DbResult<RunId> {
        self.start_run_at(command, arguments, triggered_by, Utc::now())
            .await
    }

    /// Record that `command` started `at` (by the daemon's clock).
    pub async fn start_run_at(
        &self,
        command: &str,
        arguments: &str,
        triggered_by: &str,
        at: chrono::DateTime<Utc>,
    ) -> DbResult<RunId> {
        // The next number; two runs starting at once may both take it, and the second retries.
        let mut attempts = 0;
        loop {
            let inserted = sqlx::query(
                "INSERT INTO runs (run_id, command, arguments, started_at, triggered_by) \
                 VALUES ((SELECT COALESCE(MAX(run_id), 0) + 1 FROM runs), $1, $2, $3, $4) \
                 RETURNING run_id",
            )
            .bind(command)
            .bind(arguments)
            .bind(timestamp(at))
            .bind(triggered_by)
            .fetch_one(self.pool())
            .await;
            match inserted {
                Ok(row) => return Ok(RunId(row.try_get(0)?)),
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() && attempts < 5 => {
                    attempts += 1
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Record how a run ended.
    pub async fn finish_run(
        &self,
        run: RunId,
        outcome: &str,
        counts: &str,
        error: Option<&str>,
    ) -> DbResult<()> {
        self.finish_run_at(run, outcome, counts, error, Utc::now())
            .await
    }

    /// Record how a run ended, `at` (by the daemon's clock).
    pub async fn finish_run_at(
        &self,
        run: RunId,
        outcome: &str,
        counts: &str,
        error: Option<&str>,
        at: chrono::DateTime<Utc>,
    ) -> DbResult<()> {
        sqlx::query(
            "UPDATE runs SET finished_at = $1, outcome = $2, counts = $3, error = $4 \
             WHERE run_id = $5",
        )
        .bind(timestamp(at))
        .bind(outcome)
        .bind(counts)
        .bind(error)
        .bind(run.0)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The latest `limit` runs, newest first.
    pub async fn runs(&self, limit: i64) -> DbResult<Vec<Run>> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs ORDER BY run_id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(run).collect()
    }

    /// The latest run of `command`, if it ever ran.
    pub async fn last_run_of(&self, command: &str) -> DbResult<Option<Run>> {
        self.latest_run(command, "").await
    }

    /// The latest run of `command` that succeeded.
    pub async fn last_success_of(&self, command: &str) -> DbResult<Option<Run>> {
        self.latest_run(command, "AND outcome = 'succeeded'").await
    }

    async fn latest_run(&self, command: &str, and: &str) -> DbResult<Option<Run>> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE command = $1 {and} ORDER BY run_id DESC LIMIT 1"
        ))
        .bind(command)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(run).transpose()
    }
}

const RUN_COLUMNS: &str =
    "run_id, command, arguments, started_at, finished_at, outcome, counts, error, triggered_by";

fn run(row: &sqlx::any::AnyRow) -> DbResult<Run> {
    let cells = Cells::new(row, "runs");
    Ok(Run {
        id: cells.int("run_id")?,
        command: cells.text("command")?,
        arguments: cells.text("arguments")?,
        started_at: cells.text("started_at")?,
        finished_at: cells.optional_text("finished_at")?,
        outcome: cells.optional_text("outcome")?,
        counts: cells.optional_text("counts")?,
        error: cells.optional_text("error")?,
        triggered_by: cells.text("triggered_by")?,
    })
}

/// What `/metrics` reports besides the runs: rows ingested, invoices, emails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statistics {
    pub rows_accepted: i64,
    pub rows_duplicate: i64,
    pub rows_quarantined: i64,
    /// Rows quarantined by the files' batches, by reason.
    pub quarantined_by_reason: Vec<(String, i64)>,
    /// Invoices by status (`ISSUED`, `VOID`).
    pub invoices: Vec<(String, i64)>,
    /// Emails by status (`queued`, `sending`, `sent`, `failed`).
    pub emails: Vec<(String, i64)>,
}

impl Database {
    /// Whether the database answers.
    pub async fn answers(&self) -> bool {
        sqlx::query("SELECT 1").execute(self.pool()).await.is_ok()
    }

    pub async fn statistics(&self) -> DbResult<Statistics> {
        let rows = sqlx::query(
            "SELECT CAST(COALESCE(SUM(accepted), 0) AS BIGINT) AS accepted, \
             CAST(COALESCE(SUM(duplicates), 0) AS BIGINT) AS duplicates, \
             CAST(COALESCE(SUM(quarantined), 0) AS BIGINT) AS quarantined FROM ingested_files",
        )
        .fetch_one(self.pool())
        .await?;
        let cells = Cells::new(&rows, "ingested_files");
        let by_status = |table: &'static str| async move {
            let rows = sqlx::query(&format!(
                "SELECT status, COUNT(*) AS n FROM {table} GROUP BY status ORDER BY status"
            ))
            .fetch_all(self.pool())
            .await?;
            rows.iter()
                .map(|row| {
                    let c = Cells::new(row, table);
                    Ok((c.text("status")?, c.int("n")?))
                })
                .collect::<DbResult<Vec<_>>>()
        };
        let reasons = sqlx::query(
            "SELECT reason, CAST(SUM(rows) AS BIGINT) AS n FROM quarantine_counts \
             GROUP BY reason ORDER BY reason",
        )
        .fetch_all(self.pool())
        .await?;
        let quarantined_by_reason = reasons
            .iter()
            .map(|row| {
                let c = Cells::new(row, "quarantine_counts");
                Ok((c.text("reason")?, c.int("n")?))
            })
            .collect::<DbResult<Vec<_>>>()?;
        Ok(Statistics {
            quarantined_by_reason,
            rows_accepted: cells.int("accepted")?,
            rows_duplicate: cells.int("duplicates")?,
            rows_quarantined: cells.int("quarantined")?,
            invoices: by_status("invoices").await?,
            emails: by_status("outbox").await?,
        })
    }
}
