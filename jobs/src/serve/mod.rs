//! `kakin serve`: the unattended operation of `cli.md`. A tokio daemon that runs the nightly
//! ingest (deliveries up to yesterday, JST; then the month to date) and the month-end close (its
//! documents and emails, then the outbox) when [`pipeline::schedule`] says they are due, through
//! the same code as the hand-run commands, recorded in the job ledger as `schedule`.
//!
//! One job at a time across processes and machines: before a job the daemon takes the writer
//! lease (waiting while another writer works), decides again under it whether the job is still
//! due (another daemon may just have run it), and holds it for the job. On SIGTERM or SIGINT
//! no new job starts; a running job gets `--grace` seconds to finish, else the process stops
//! where it is, at a point its rerun repairs (every job is kill-safe), and says which.

mod http;

use crate::app::{renew, take_lease, Context, Failure};
use pipeline::domain::Month;
use pipeline::schedule::{self, Jst, Ledger, Schedules};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Serve /healthz and Prometheus /metrics on this address (for instance 127.0.0.1:9464).
    #[arg(long, value_name = "ADDRESS")]
    listen: Option<SocketAddr>,
    /// Seconds a running job may take to finish after SIGTERM or SIGINT before it is abandoned.
    #[arg(long, default_value_t = 300)]
    grace: u64,
    /// Rehearsal: start the daemon's clock at this instant (RFC 3339) instead of now…
    #[arg(long, value_name = "TIME", value_parser = parse_time, hide = true)]
    clock_start: Option<Jst>,
    /// …and run it this many times as fast as the real one.
    #[arg(long, value_name = "FACTOR", default_value_t = 1, hide = true)]
    clock_speed: u32,
}

fn parse_time(text: &str) -> Result<Jst, String> {
    schedule::parse_timestamp(text).ok_or_else(|| format!("{text:?} is not an RFC 3339 time"))
}

/// A job that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Due {
    /// The nightly ingest, catching up the firing of that time.
    Ingest(Jst),
    /// The close of a month.
    Close(Month),
}

impl Due {
    fn name(&self) -> String {
        match self {
            Due::Ingest(_) => "the nightly ingest".into(),
            Due::Close(month) => format!("the close of {month}"),
        }
    }
}

/// How the daemon stopped.
enum Stopped {
    Idle,
    AfterJob(String),
    Abandoned(String),
}

/// Whether the scheduler loop is alive, for `/healthz`.
pub struct Health {
    pub alive: AtomicBool,
}

type Job<'a> = Pin<Box<dyn Future<Output = Result<(), Failure>> + 'a>>;

pub async fn serve(context: &Context, args: ServeArgs) -> Result<(), Failure> {
    let clock = match args.clock_start {
        Some(start) => schedule::Clock::accelerated(start, args.clock_speed),
        None => schedule::Clock::real(),
    };
    let context = &Context {
        clock,
        ..context.clone()
    };
    let settings = &context.settings.schedule;
    let schedules = Schedules::parse(&settings.ingest, &settings.close)
        .map_err(|e| Failure::Invalid(e.to_string()))?;
    let health = Arc::new(Health {
        alive: AtomicBool::new(true),
    });
    if let Some(address) = args.listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| Failure::Invalid(format!("--listen {address}: {e}")))?;
        tokio::spawn(http::serve(listener, context.db.clone(), health.clone()));
        tracing::info!(%address, "serving /healthz and /metrics");
    }
    let stop = stop_signal();
    let grace = Duration::from_secs(args.grace);
    let stopped = run_schedules(context, &schedules, stop, grace).await;
    health.alive.store(false, Ordering::SeqCst);
    match stopped? {
        Stopped::Idle => println!("kakin serve: stopped (no job was running)"),
        Stopped::AfterJob(job) => println!("kakin serve: stopped after {job} finished"),
        Stopped::Abandoned(job) => {
            return Err(Failure::Failed(anyhow::anyhow!(
                "stopped: {job} did not finish within {} s and was abandoned where it was; \
                 its next run repairs it",
                grace.as_secs()
            )))
        }
    }
    Ok(())
}

/// Set by the SIGTERM and SIGINT handlers.
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_: libc::c_int) {
    STOP_REQUESTED.store(true, Ordering::SeqCst);
}

/// A receiver that turns true on SIGTERM or SIGINT (the handlers only set a flag, which a task
/// watches: nothing else is safe in a signal handler).
fn stop_signal() -> watch::Receiver<bool> {
    let handler = request_stop as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, handler);
        libc::signal(libc::SIGINT, handler);
    }
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        while !STOP_REQUESTED.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::info!("stop requested: no new job starts");
        let _ = tx.send(true);
    });
    rx
}

/// The scheduler loop: run what is due, else sleep until the next firing, until told to stop.
async fn run_schedules(
    context: &Context,
    schedules: &Schedules,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) -> Result<Stopped, Failure> {
    let started = context.clock.started();
    // While another writer works, wait for it as long as it takes (a stop request interrupts).
    let patient = Context {
        wait: Duration::from_secs(7 * 24 * 3600),
        ..context.clone()
    };
    tracing::info!(ingest = %context.settings.schedule.ingest, close = %context.settings.schedule.close, "kakin serve: scheduling (Asia/Tokyo)");
    loop {
        if *stop.borrow() {
            return Ok(Stopped::Idle);
        }
        let ran = match due(context, schedules, &started).await? {
            None => Ran::Nothing,
            Some(_) => {
                let holder = format!("kakin serve on pid {}", std::process::id());
                let lease = tokio::select! {
                    lease = take_lease(&patient, &holder) => lease?,
                    _ = stop.changed() => return Ok(Stopped::Idle),
                };
                let renewing = tokio::spawn(renew(lease.clone()));
                // Decided again under the lease: another daemon may have just run it.
                let ran = match due(context, schedules, &started).await {
                    Ok(Some(job)) => {
                        let scheduled = context.scheduled(lease.clone());
                        Ok(run_one(&scheduled, job, &mut stop, grace).await)
                    }
                    Ok(None) => Ok(Ran::Nothing),
                    Err(failure) => Err(failure),
                };
                renewing.abort();
                lease.release().await.map_err(anyhow::Error::from)?;
                ran?
            }
        };
        match ran {
            // Another job may be due now (the close after the night's ingest).
            Ran::Succeeded => continue,
            Ran::Stopped(stopped) => return Ok(stopped),
            // Nothing due, or a job failed: it is tried again at the next firing.
            Ran::Nothing | Ran::Failed => {}
        }
        let now = context.clock.now();
        let Some(next) = schedules.next_after(&now) else {
            return Ok(Stopped::Idle);
        };
        let pause = context.clock.real_wait(next - now);
        tracing::debug!(%next, "sleeping until the next firing");
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
}

/// What the ledger holds that the rules read.
async fn ledger(context: &Context) -> Result<Ledger, Failure> {
    let db = &context.db;
    let started =
        |run: Option<pipeline::db::Run>| run.and_then(|r| schedule::parse_timestamp(&r.started_at));
    let failed = |e: pipeline::db::DbError| Failure::Failed(e.into());
    Ok(Ledger {
        last_ingest: started(db.last_run_of("ingest").await.map_err(failed)?),
        last_good_ingest: started(db.last_success_of("ingest").await.map_err(failed)?),
        last_closed: db.last_closed_month().await.map_err(failed)?,
    })
}

/// The job due now, ingest first: a close never runs before the ingest that precedes it.
async fn due(
    context: &Context,
    schedules: &Schedules,
    started: &Jst,
) -> Result<Option<Due>, Failure> {
    let ledger = ledger(context).await?;
    let now = context.clock.now();
    if let Some(fired) = schedule::ingest_due(schedules, &ledger, started, &now) {
        return Ok(Some(Due::Ingest(fired)));
    }
    Ok(schedule::close_due(schedules, &ledger, &now).map(Due::Close))
}

/// What a pass of the loop did.
enum Ran {
    Nothing,
    Succeeded,
    Failed,
    Stopped(Stopped),
}

/// Run `job`; on a stop request give it `grace` to finish, and say how the daemon stopped.
async fn run_one(
    context: &Context,
    job: Due,
    stop: &mut watch::Receiver<bool>,
    grace: Duration,
) -> Ran {
    let name = job.name();
    tracing::info!(job = %name, "starting");
    let mut work = work(context, &job);
    let finished = tokio::select! {
        result = &mut work => result,
        _ = stop.changed() => {
            tracing::info!(job = %name, grace = grace.as_secs(), "stop requested: letting the running job finish");
            return Ran::Stopped(match tokio::time::timeout(grace, work).await {
                Ok(_) => Stopped::AfterJob(name),
                Err(_) => Stopped::Abandoned(name),
            });
        }
    };
    match finished {
        Ok(()) => {
            tracing::info!(job = %name, "finished");
            Ran::Succeeded
        }
        Err(failure) => {
            let (_, reason) = failure.ledger_outcome();
            tracing::error!(job = %name, %reason, "failed; tried again at the next firing");
            Ran::Failed
        }
    }
}

/// The hand-run commands a job is made of.
fn work<'a>(context: &'a Context, job: &Due) -> Job<'a> {
    match job.clone() {
        Due::Ingest(fired) => Box::pin(async move {
            let yesterday = schedule::yesterday(&context.clock.now());
            tracing::info!(%fired, %yesterday, "nightly ingest: deliveries up to yesterday");
            let incoming = context.settings.incoming_url.clone();
            crate::ingest::run_ingest(context, &incoming, Some(yesterday)).await?;
            crate::close::refresh(context).await
        }),
        Due::Close(month) => {
            Box::pin(async move { crate::close::close(context, month, Default::default()).await })
        }
    }
}
