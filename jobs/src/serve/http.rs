//! `kakin serve --listen`: `/healthz` (200 while the scheduler loop is alive and the database
//! answers) and `/metrics` in Prometheus' text format, read from the job ledger and the
//! database at each scrape, so that every daemon sharing a database reports the same. A
//! minimal HTTP/1.1 responder: two GET routes, one request per connection.

use super::Health;
use pipeline::db::{Database, Run};
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The jobs whose last run `/metrics` reports.
const JOBS: [&str; 4] = ["ingest", "refresh", "close", "outbox send"];

pub async fn serve(listener: TcpListener, db: Database, health: Arc<Health>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (db, health) = (db.clone(), health.clone());
        tokio::spawn(async move {
            if let Err(e) = respond(stream, &db, &health).await {
                tracing::debug!("http: {e}");
            }
        });
    }
}

async fn respond(mut stream: TcpStream, db: &Database, health: &Health) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buffer[..n]);
    }
    let line = String::from_utf8_lossy(&request);
    let path = line.split_whitespace().nth(1).unwrap_or("");
    let (status, kind, body) = match path {
        "/healthz" => {
            let database = db.answers().await;
            match (health.alive.load(Ordering::SeqCst), database) {
                (true, true) => ("200 OK", "text/plain", "ok\n".to_owned()),
                (alive, database) => (
                    "503 Service Unavailable",
                    "text/plain",
                    format!("scheduler alive: {alive}; database answers: {database}\n"),
                ),
            }
        }
        "/metrics" => match metrics(db).await {
            Ok(body) => ("200 OK", "text/plain; version=0.0.4", body),
            Err(e) => ("500 Internal Server Error", "text/plain", format!("{e}\n")),
        },
        _ => ("404 Not Found", "text/plain", "not found\n".to_owned()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

fn seconds(timestamp: &str) -> Option<i64> {
    pipeline::schedule::parse_timestamp(timestamp).map(|t| t.timestamp())
}

/// The metrics, in Prometheus' text exposition format.
async fn metrics(db: &Database) -> Result<String, pipeline::db::DbError> {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: Vec<(String, i64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let mut last: Vec<(&str, Option<Run>, Option<Run>)> = Vec::new();
    for job in JOBS {
        last.push((
            job,
            db.last_run_of(job).await?,
            db.last_success_of(job).await?,
        ));
    }
    let label = |job: &str| format!("{{job=\"{job}\"}}");
    gauge(
        "kakin_job_last_start_timestamp_seconds",
        "When the job's last run started.",
        last.iter()
            .filter_map(|(job, run, _)| Some((label(job), seconds(&run.as_ref()?.started_at)?)))
            .collect(),
    );
    gauge(
        "kakin_job_last_success_timestamp_seconds",
        "When the job's last successful run started.",
        last.iter()
            .filter_map(|(job, _, ok)| Some((label(job), seconds(&ok.as_ref()?.started_at)?)))
            .collect(),
    );
    gauge(
        "kakin_job_last_duration_seconds",
        "How long the job's last finished run took.",
        last.iter()
            .filter_map(|(job, run, _)| {
                let run = run.as_ref()?;
                let took = seconds(run.finished_at.as_deref()?)? - seconds(&run.started_at)?;
                Some((label(job), took))
            })
            .collect(),
    );
    gauge(
        "kakin_job_last_outcome",
        "The outcome of the job's last run (1 for the outcome it had).",
        last.iter()
            .filter_map(|(job, run, _)| {
                let outcome = run.as_ref()?.outcome.as_deref().unwrap_or("running");
                Some((format!("{{job=\"{job}\",outcome=\"{outcome}\"}}"), 1))
            })
            .collect(),
    );
    let stats = db.statistics().await?;
    gauge(
        "kakin_rows_total",
        "Log rows ingested, by how they ended.",
        vec![
            ("{outcome=\"accepted\"}".into(), stats.rows_accepted),
            ("{outcome=\"duplicate\"}".into(), stats.rows_duplicate),
            ("{outcome=\"quarantined\"}".into(), stats.rows_quarantined),
        ],
    );
    let by = |label: &str, pairs: Vec<(String, i64)>| {
        pairs
            .into_iter()
            .map(|(value, n)| (format!("{{{label}=\"{value}\"}}"), n))
            .collect()
    };
    gauge(
        "kakin_rows_quarantined",
        "Log rows quarantined, by reason.",
        by("reason", stats.quarantined_by_reason),
    );
    gauge(
        "kakin_invoices",
        "Invoices by status.",
        by("status", stats.invoices),
    );
    gauge(
        "kakin_emails",
        "Emails of the outbox by status.",
        by("status", stats.emails),
    );
    Ok(out)
}
