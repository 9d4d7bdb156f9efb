//! `kakin serve` as operations run it: real daemons on schedules that fire every second or
//! two, against SQLite and PostgreSQL, watched over HTTP and stopped with SIGTERM.

mod support;

use chrono::Datelike;
use pipeline::each_engine;
use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use support::{text, Site};

/// Last month in Asia/Tokyo: the month a daemon started now closes.
fn last_month() -> String {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .date_naive();
    let first = today.with_day(1).unwrap().pred_opt().unwrap();
    format!("{}-{:02}", first.year(), first.month())
}

/// Schedules that fire every two seconds (ingest) and every second (close).
fn fast_schedules() -> Vec<(&'static str, String)> {
    vec![
        ("KAKIN_SCHEDULE_INGEST", "*/2 * * * * *".to_owned()),
        ("KAKIN_SCHEDULE_CLOSE", "* * * * * *".to_owned()),
    ]
}

/// A site with last month's demo logs delivered (nothing ingested), on fast schedules.
fn site(scratch: pipeline::testing::ScratchDatabase) -> Site {
    Site::demo(scratch, "20", &last_month(), fast_schedules(), &[])
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn start(site: &Site, port: Option<u16>) -> Child {
    let mut args = vec!["serve".to_owned(), "--grace".into(), "30".into()];
    if let Some(port) = port {
        args.extend(["--listen".into(), format!("127.0.0.1:{port}")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    site.kakin(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kakin serve starts")
}

fn runs(site: &Site) -> String {
    text(&site.run(&["runs", "--limit", "500"], None).stdout)
}

/// Wait until `done` holds of `kakin runs`, at most two minutes.
fn wait_for(site: &Site, what: &str, done: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let listed = runs(site);
        if done(&listed) {
            return listed;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no {what}: {listed}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn get(port: u16, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// SIGTERM, then the daemon's exit status and output.
fn stop(child: Child) -> (bool, String) {
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    (out.status.success(), text(&out.stdout) + &text(&out.stderr))
}

/// The lines of `kakin runs` for runs of `command` started by the schedule.
fn scheduled<'a>(listed: &'a str, command: &str) -> Vec<&'a str> {
    listed
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some(command) && l.contains(" schedule "))
        .collect()
}

each_engine! {
    async fn the_daemon_ingests_then_closes_last_month_is_watched_and_stops_on_sigterm(scratch) {
        let site = site(scratch);
        let port = free_port();
        let daemon = start(&site, Some(port));
        let listed = wait_for(&site, "scheduled close", |l| {
            scheduled(l, "close").iter().any(|r| r.contains("succeeded"))
        });
        // The ingest came first, took deliveries up to yesterday, and refreshed; then the close.
        let ingests = scheduled(&listed, "ingest");
        assert!(ingests.iter().any(|r| r.contains("succeeded") && r.contains("--date ")), "{listed}");
        assert!(!scheduled(&listed, "refresh").is_empty(), "{listed}");
        let month = last_month();
        assert!(scheduled(&listed, "close")[0].ends_with(&month), "{listed}");
        let close = listed.lines().position(|l| l.contains(" close ")).unwrap();
        let lines: Vec<&str> = listed.lines().collect();
        let first_ingest = lines.iter().rposition(|l| l.contains(" ingest ")).unwrap();
        assert!(close < first_ingest, "newest first: the close after the first ingest\n{listed}");
        let summary = runs(&site);
        assert!(summary.lines().next().unwrap().contains("next (Asia/Tokyo)"), "{summary}");

        let health = get(port, "/healthz");
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        let metrics = get(port, "/metrics");
        assert!(metrics.contains("kakin_job_last_outcome{job=\"close\",outcome=\"succeeded\"} 1"), "{metrics}");
        assert!(metrics.contains("kakin_invoices{status=\"ISSUED\"}"), "{metrics}");
        assert!(metrics.contains("kakin_rows_total{outcome=\"accepted\"}"), "{metrics}");
        assert!(metrics.contains("kakin_rows_quarantined{reason=\"malformed\"} 7"), "{metrics}");
        assert!(get(port, "/nothing").starts_with("HTTP/1.1 404"));

        let (succeeded, said) = stop(daemon);
        assert!(succeeded, "{said}");
        assert!(said.contains("kakin serve: stopped"), "{said}");
        assert!(!said.contains("_sqlx_migrations"), "no library chatter: {said}");
        assert!(said.lines().any(|l| l.starts_with('{') && l.contains("\"run\"")), "JSON lines with the run id: {said}");
    }
}

each_engine! {
    async fn two_daemons_on_one_database_never_run_the_same_job_twice(scratch) {
        let site = site(scratch);
        let daemons = [start(&site, None), start(&site, None)];
        wait_for(&site, "scheduled close", |l| {
            scheduled(l, "close").iter().any(|r| r.contains("succeeded"))
        });
        // Some more firings of the ingest's schedule, both daemons awake.
        std::thread::sleep(Duration::from_secs(5));
        for daemon in daemons {
            let (succeeded, said) = stop(daemon);
            assert!(succeeded, "{said}");
        }
        let listed = runs(&site);
        let closes = scheduled(&listed, "close");
        assert_eq!(closes.len(), 1, "one close, by one daemon: {listed}");
        assert!(!listed.contains("already closed"), "{listed}");
        // At most one ingest per firing (every 2 s): no two scheduled ingests start in one window.
        let mut windows: Vec<String> = scheduled(&listed, "ingest")
            .iter()
            .map(|r| {
                let started = r.split_whitespace().nth(2).unwrap();
                let at = chrono::DateTime::parse_from_rfc3339(started).unwrap().timestamp();
                (at / 2).to_string()
            })
            .collect();
        let count = windows.len();
        windows.sort();
        windows.dedup();
        assert_eq!(windows.len(), count, "{listed}");
        assert!(count >= 2, "{listed}");
    }
}

each_engine! {
    async fn a_daemon_killed_in_the_close_leaves_it_to_the_other(scratch, clean) {
        let site = site(scratch);
        let mut dying = start_with(&site, "close-before-commit");
        let died = dying.wait().unwrap();
        assert!(!died.success(), "the failpoint kills the first daemon inside the close");
        let listed = runs(&site);
        assert!(scheduled(&listed, "close").iter().all(|r| r.contains("running")), "{listed}");
        // Its lease names a dead process on this host: the second daemon takes over at once
        // and completes the close, the same numbers and bytes as an uninterrupted one.
        let daemon = start(&site, None);
        let listed = wait_for(&site, "scheduled close", |l| {
            scheduled(l, "close").iter().any(|r| r.contains("succeeded"))
        });
        let (succeeded, said) = stop(daemon);
        assert!(succeeded, "{said}");
        assert!(listed.contains("invoices ("), "{listed}");
        let verified = site.run(&["verify"], None);
        assert!(verified.status.success(), "{}", text(&verified.stdout));

        // The lake a clean daemon leaves: the same tables and documents of the close.
        let clean = self::site(clean);
        let daemon = start(&clean, None);
        wait_for(&clean, "scheduled close", |l| {
            scheduled(l, "close").iter().any(|r| r.contains("succeeded"))
        });
        let (succeeded, said) = stop(daemon);
        assert!(succeeded, "{said}");
        let month = format!("closing_month={}", last_month());
        let close_of = |site: &Site| -> std::collections::BTreeMap<_, _> {
            site.lake()
                .into_iter()
                .filter(|(path, _)| path.to_string_lossy().contains(&month))
                .filter(|(path, _)| !path.starts_with("provisional"))
                .collect()
        };
        let (repaired, uninterrupted) = (close_of(&site), close_of(&clean));
        assert_eq!(repaired.keys().collect::<Vec<_>>(), uninterrupted.keys().collect::<Vec<_>>());
        assert!(repaired == uninterrupted, "the bytes of an uninterrupted close");
    }
}

/// A daemon that dies at `failpoint`.
fn start_with(site: &Site, failpoint: &str) -> Child {
    site.kakin(&["serve"])
        .env("KAKIN_FAILPOINT", failpoint)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kakin serve starts")
}

#[tokio::test]
async fn an_invalid_schedule_is_refused_at_start_naming_its_key() {
    let site = Site::new(pipeline::testing::ScratchDatabase::sqlite(), |_| {
        String::new()
    });
    let out = site
        .kakin(&["serve"])
        .env("KAKIN_SCHEDULE_CLOSE", "0 4 1 * *")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("schedule.close: \"0 4 1 * *\""),
        "{}",
        text(&out.stderr)
    );
}

/// Wait until a scheduled ingest is running (paused before its commit), then SIGTERM the daemon.
fn stop_during_ingest(site: &Site, daemon: Child) -> (bool, String) {
    wait_for(site, "running scheduled ingest", |l| {
        scheduled(l, "ingest").iter().any(|r| r.contains("running"))
    });
    stop(daemon)
}

/// A daemon whose ingests pause three seconds before their commit.
fn start_with_grace(site: &Site, grace: &str) -> Child {
    site.kakin(&["serve", "--grace", grace])
        .env("KAKIN_FAILPOINT", "ingest-before-commit~3000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kakin serve starts")
}

/// The accepted and quarantined events of a site's lake.
fn events(site: &Site) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    site.lake()
        .into_iter()
        .filter(|(path, _)| {
            ["plays", "purchases", "quarantine", "_staging"]
                .iter()
                .any(|top| path.starts_with(top))
        })
        .collect()
}

each_engine! {
    async fn sigterm_during_an_ingest_finishes_it_or_abandons_it_where_a_rerun_repairs(patient, hasty, clean) {
        // Each daemon's ingest pauses before its commit, the moment the signal arrives.
        let big = |scratch| Site::demo(scratch, "20", &last_month(), fast_schedules(), &[]);
        let yesterday = pipeline::schedule::yesterday(&pipeline::schedule::now()).to_string();
        let clean = big(clean);
        let out = clean.run(&["ingest", "--date", &yesterday], None);
        assert!(out.status.success(), "{}", text(&out.stderr));

        // With time to finish: the ingest completes, the daemon says so and exits 0.
        let patient = big(patient);
        let (succeeded, said) = stop_during_ingest(&patient, start_with_grace(&patient, "120"));
        assert!(succeeded, "{said}");
        assert!(said.contains("stopped after the nightly ingest finished"), "{said}");
        assert!(scheduled(&runs(&patient), "ingest")[0].contains("succeeded"));
        assert!(events(&patient) == events(&clean), "the lake of one clean run");

        // Without: abandoned where it was, exit 1 saying so; the next run completes it.
        let hasty = big(hasty);
        let (succeeded, said) = stop_during_ingest(&hasty, start_with_grace(&hasty, "0"));
        assert!(!succeeded);
        assert!(said.contains("the nightly ingest did not finish within 0 s and was abandoned"), "{said}");
        let out = hasty.run(&["ingest", "--date", &yesterday], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(events(&hasty) == events(&clean), "no partial file; the lake of one clean run");
    }
}

/// A month end rehearsed as in production, natively: PostgreSQL, moto's S3 server for the lake
/// and the deliveries, aiosmtpd for the emails, and `kakin serve` on the configured nightly
/// schedules with its clock started on 30 October 2026 at 01:59:30 JST and running 7,200
/// times as fast: three nights of ingest, then the close of October on 1 November at 04:00.
#[tokio::test]
async fn a_month_end_rehearsed_on_postgresql_s3_and_smtp() {
    let work = tempfile::tempdir().unwrap();
    let generated = support::kakin(
        work.path(),
        &[],
        &[
            "demo",
            "--keychips",
            "20",
            "--month",
            "2026-10",
            "--generate-only",
            "--dir",
            "demo",
        ],
    )
    .output()
    .unwrap();
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let s3 = support::S3Server::start();
    s3.s3(&["create", "lake", "incoming"]);
    let incoming = work.path().join("demo/incoming");
    s3.s3(&["upload", incoming.to_str().unwrap(), "incoming"]);
    let smtp = pipeline::testing::SmtpServer::start();
    let scratch = pipeline::testing::ScratchDatabase::postgres().await;
    let (dir, mut env) = s3.site(&scratch.url, &work.path().join("demo/master"));
    env.extend([
        ("KAKIN_SMTP_URL", smtp.url()),
        ("KAKIN_MAIL_FROM", "billing@kakin.example".to_owned()),
    ]);
    let kakin = |args: &[&str]| support::kakin(dir.path(), &env, args);
    // September was closed (empty) before the rehearsal: the daemon's close is October's.
    let september = kakin(&["close", "2026-09", "--allow-empty"])
        .output()
        .unwrap();
    assert!(september.status.success(), "{}", text(&september.stderr));
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let daemon = kakin(&[
        "serve",
        "--listen",
        &listen,
        "--clock-start",
        "2026-10-30T01:59:30+09:00",
        "--clock-speed",
        "7200",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let started = Instant::now();
    let listed = loop {
        let listed = text(&kakin(&["runs", "--limit", "100"]).output().unwrap().stdout);
        if scheduled(&listed, "close")
            .iter()
            .any(|r| r.contains("succeeded"))
        {
            break listed;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no close: {listed}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    // The nights of the 30th, the 31st and 1 November took deliveries up to the day before;
    // the close of October ran after the last of them, at 04:00 on the 1st (JST).
    let mut nights: Vec<&str> = scheduled(&listed, "ingest")
        .iter()
        .filter_map(|r| r.split("--date ").nth(1)?.split_whitespace().next())
        .collect();
    nights.reverse();
    assert_eq!(
        nights,
        ["2026-10-29", "2026-10-30", "2026-10-31"],
        "{listed}"
    );
    // Due at 04:00 JST (19:00Z), it starts at once unless the last night is still running
    // (on a loaded machine the accelerated clock runs on while a job works).
    let close = scheduled(&listed, "close")[0];
    let started = |row: &str| row.split_whitespace().nth(2).unwrap_or_default().to_owned();
    let last_night = scheduled(&listed, "ingest")[0];
    let night_ended = last_night.split_whitespace().nth(3).unwrap_or_default();
    assert!(close.ends_with("2026-10"), "{close}");
    assert!(
        started(close).as_str() >= "2026-10-31T19:00:00Z"
            && (started(close).starts_with("2026-10-31T19:0")
                || started(close).as_str() >= night_ended),
        "{listed}"
    );

    // Each partner that asked got its email, with its PDFs; the documents verify on S3.
    let asked = kakin(&[
        "query",
        "SELECT COUNT(*) AS n FROM partners WHERE notify AND email IS NOT NULL",
        "--format",
        "csv",
    ])
    .output()
    .unwrap();
    let asked: usize = text(&asked.stdout).lines().nth(1).unwrap().parse().unwrap();
    let received = smtp.messages();
    assert_eq!(received.len(), asked);
    assert!(received
        .iter()
        .all(|m| m["attachments"].as_array().unwrap().len() >= 2));
    assert!(kakin(&["verify"]).output().unwrap().status.success());
    let metrics = get(port, "/metrics");
    assert!(
        metrics.contains(&format!("kakin_emails{{status=\"sent\"}} {asked}")),
        "{metrics}"
    );
    assert!(
        metrics.contains("kakin_job_last_outcome{job=\"close\",outcome=\"succeeded\"} 1"),
        "{metrics}"
    );
    let (succeeded, said) = stop(daemon);
    assert!(succeeded, "{said}");
}
