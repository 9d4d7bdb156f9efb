//! `kakin ingest` as operations run it: a killed run, a changed file, an outside engine reading
//! the lake, and the same work against a real S3-compatible server.

mod support;

use pipeline::each_engine;
use pipeline::testing::{files_under, ScratchDatabase};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use support::{kakin, run, text, S3Server, Site};

/// The demo's files (20 key-chips, October 2026) in a site of their own, master data imported.
fn demo_site(scratch: ScratchDatabase) -> Site {
    Site::demo(scratch, "20", "2026-10", Vec::new(), &[])
}

fn ingest(site: &Site) -> Output {
    site.run(&["ingest"], None)
}

each_engine! {
    async fn a_killed_run_then_a_rerun_gives_the_lake_of_one_clean_run(clean, aborted, killed) {
        let clean = demo_site(clean);
        assert!(ingest(&clean).status.success());
        let expected = clean.lake();
        assert!(
            expected.keys().any(|p| p.starts_with("plays"))
                && expected.keys().any(|p| p.starts_with("quarantine"))
        );

        // Killed at the worst moment: every file in the lake, nothing committed.
        let aborted = demo_site(aborted);
        let out = run(aborted
            .kakin(&["ingest"])
            .env("KAKIN_FAILPOINT", "ingest-before-commit"));
        assert!(!out.status.success(), "the failpoint kills the run");
        assert!(
            aborted.lake().keys().any(|p| p.starts_with("plays")),
            "its files are in the lake"
        );
        let rerun = ingest(&aborted);
        assert!(rerun.status.success(), "{}", text(&rerun.stderr));
        assert!(
            text(&rerun.stdout).contains("removed the files of batch"),
            "{}",
            text(&rerun.stdout)
        );
        assert!(
            aborted.lake() == expected,
            "killed then rerun = one clean run"
        );
        let again = ingest(&aborted);
        assert!(
            text(&again.stdout).contains("ingested: 0 rows"),
            "{}",
            text(&again.stdout)
        );

        // Killed from outside, at whatever point it has reached.
        let killed = demo_site(killed);
        let mut interrupted = 0;
        for millis in [150, 400, 900] {
            let mut child = killed
                .kakin(&["ingest"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(millis));
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                interrupted += 1;
            }
            child.wait().unwrap();
        }
        assert!(interrupted > 0, "at least one run was killed while it ran");
        assert!(ingest(&killed).status.success());
        assert!(
            killed.lake() == expected,
            "killed runs then a rerun = one clean run"
        );
    }
}

each_engine! {
    async fn a_run_killed_after_recording_some_of_a_batchs_ids_leaves_none_of_them(clean, killed) {
        // 500 key-chips deliver about 50,000 rows a day: a day's batch records its first 32,768
        // accepted ids, then its last while the next day is read, and commits once they are.
        // Killed once the first day's first flush is recorded, then its last (nothing
        // committed), then the second day's first (the first day committing or committed).
        let days = ["ingest", "--date", "2026-10-03"];
        let clean = Site::demo(clean, "500", "2026-10", Vec::new(), &[]);
        assert!(clean.run(&days, None).status.success());
        let expected = clean.lake();

        let killed = Site::demo(killed, "500", "2026-10", Vec::new(), &[]);
        for failpoint in ["ingest-ids-recorded", "ingest-ids-recorded@2", "ingest-ids-recorded@3"] {
            let out = killed.run(&days, Some(failpoint));
            assert!(!out.status.success(), "{failpoint} kills the run");
        }
        let rerun = killed.run(&days, None);
        assert!(rerun.status.success(), "{}", text(&rerun.stderr));
        assert!(
            killed.lake() == expected,
            "ids recorded by killed runs are not taken for duplicates: the lake of one clean run"
        );
        let again = killed.run(&days, None);
        assert!(
            text(&again.stdout).contains("ingested: 0 rows"),
            "{}",
            text(&again.stdout)
        );
    }
}

each_engine! {
    async fn two_ingests_started_at_once_leave_what_one_ingest_leaves(one, two) {
        let one = demo_site(one);
        assert!(ingest(&one).status.success());
        let two = demo_site(two);
        let start = || {
            two.kakin(&["ingest", "--wait", "300"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (start(), start());
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        for out in &outs {
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        let ingested: Vec<bool> = outs
            .iter()
            .map(|o| !text(&o.stdout).contains("ingested: 0 rows"))
            .collect();
        assert_eq!(
            ingested.iter().filter(|i| **i).count(),
            1,
            "one ingested the month, the other then found every file ingested"
        );
        assert!(two.lake() == one.lake(), "the lake of one run");
        let count = [
            "query",
            "SELECT COUNT(*) AS n FROM plays",
            "--format",
            "csv",
        ];
        assert_eq!(
            text(&two.run(&count, None).stdout),
            text(&one.run(&count, None).stdout)
        );
    }
}

each_engine! {
    async fn a_changed_file_makes_the_run_end_with_1_after_the_others(scratch) {
        let site = demo_site(scratch);
        assert!(ingest(&site).status.success());
        let incoming = site.dir.path().join("demo/incoming");
        let changed = incoming.join("plays/2026-10-03/collector-a.csv");
        let mut bytes = std::fs::read(&changed).unwrap();
        bytes.extend_from_slice(b"LATE,A72E0000000,2026-10-02T10:00:00+09:00,SH4,SH4-STONE,1\n");
        std::fs::write(&changed, bytes).unwrap();
        let new = incoming.join("plays/2026-11-20/collector-a.csv");
        std::fs::create_dir_all(new.parent().unwrap()).unwrap();
        std::fs::write(&new, "event_id,keychip_id,played_at,title_code,charge_code,count\nNEW,A72E0000000,2026-11-19T10:00:00+09:00,SH4,SH4-STONE,1\n").unwrap();

        let out = ingest(&site);
        assert_eq!(out.status.code(), Some(1));
        let stdout = text(&out.stdout);
        assert!(
            stdout.contains("plays/2026-10-03/collector-a.csv: CHANGED"),
            "{stdout}"
        );
        assert!(
            stdout.contains("plays/2026-11-20/collector-a.csv: 1 rows: 1 accepted"),
            "{stdout}"
        );
        assert!(
            text(&out.stderr).contains("files changed at a known path"),
            "{}",
            text(&out.stderr)
        );
        let runs = text(&run(&mut site.kakin(&["runs", "--limit", "1"])).stdout);
        assert!(runs.contains("failed"), "{runs}");
    }
}

#[tokio::test]
async fn duckdb_reads_every_table_of_the_lake_with_the_specs_columns_and_types() {
    let site = demo_site(ScratchDatabase::sqlite());
    let out = ingest(&site);
    assert!(out.status.success());
    let accepted: u64 = text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("ingested: "))
        .and_then(|l| l.split(" rows: ").nth(1))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("an ingest summary");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lake_schema.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(site.dir.path().join("lake"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "DuckDB (pip install duckdb) reads the lake: {}",
        text(&out.stderr)
    );
    let tables: BTreeMap<String, (u64, String)> = text(&out.stdout)
        .lines()
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let (name, count, columns) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            (
                name.to_owned(),
                (count.parse().unwrap(), columns.to_owned()),
            )
        })
        .collect();
    assert_eq!(tables["plays"].1, "event_id:VARCHAR keychip_id:VARCHAR played_at:TIMESTAMP WITH TIME ZONE title_code:VARCHAR charge_code:VARCHAR count:BIGINT batch:VARCHAR play_date:DATE");
    assert_eq!(tables["purchases"].1, "transaction_id:VARCHAR keychip_id:VARCHAR purchased_at:TIMESTAMP WITH TIME ZONE title_code:VARCHAR product_code:VARCHAR payment_method:VARCHAR quantity:BIGINT unit_price:BIGINT batch:VARCHAR purchase_date:DATE");
    assert_eq!(tables["quarantine"].1, "file:VARCHAR line:BIGINT raw:VARCHAR reason:VARCHAR detail:VARCHAR batch:VARCHAR delivery_date:DATE feed:VARCHAR");
    assert_eq!(tables["plays"].0 + tables["purchases"].0, accepted);
    assert_eq!(tables["quarantine"].0, 16, "the demo's bad rows, each once");
    assert!(
        tables["partners"].1.contains("notify:BOOLEAN"),
        "{}",
        tables["partners"].1
    );
    assert!(
        tables["keychips"]
            .1
            .contains("valid_from:DATE valid_to:DATE"),
        "{}",
        tables["keychips"].1
    );
    assert!(
        tables["charges"]
            .1
            .contains("unit_price:DECIMAL(18,4) tax_rate:DECIMAL(18,4)"),
        "{}",
        tables["charges"].1
    );
    assert!(
        tables["products"].1.contains("unit_price:BIGINT"),
        "{}",
        tables["products"].1
    );
    assert_eq!(tables["keychips"].0, 21, "20 key-chips, one of them moved");
}

/// The objects a command fetched from a lake on S3 with their sizes, as it logs them (the
/// `fetched` lines at debug level, checked against the command's total).
fn fetched(stderr: &[u8]) -> BTreeMap<String, u64> {
    let log = text(stderr);
    let field = |line: &str, name: &str| -> String {
        let (_, rest) = line
            .split_once(&format!("\"{name}\":"))
            .unwrap_or_else(|| panic!("no {name} in {line}"));
        let rest = rest.trim_start_matches('"');
        rest[..rest.find(['"', ',', '}']).unwrap()].to_owned()
    };
    let objects: BTreeMap<String, u64> = log
        .lines()
        .filter(|l| l.contains("\"message\":\"fetched\""))
        .map(|l| (field(l, "path"), field(l, "bytes").parse().unwrap()))
        .collect();
    let total = log
        .lines()
        .find(|l| l.contains("fetched from the lake"))
        .unwrap_or_else(|| panic!("no fetch logged: {log}"));
    assert_eq!(
        field(total, "bytes").parse::<u64>().unwrap(),
        objects.values().sum::<u64>()
    );
    objects
}

/// A command with the lake's fetches logged one by one.
fn logging_fetches(mut command: Command) -> Output {
    run(command.env("KAKIN_LOG", "info,pipeline::lake=debug"))
}

#[tokio::test]
async fn the_same_ingest_and_close_against_a_real_s3_server_write_the_same_lake() {
    let local = demo_site(ScratchDatabase::sqlite());
    assert!(ingest(&local).status.success());
    let closed = run(&mut local.kakin(&["close", "2026-10"]));
    assert!(closed.status.success(), "{}", text(&closed.stderr));
    let expected = local.lake();

    let server = S3Server::start();
    server.s3(&["create", "lake", "incoming"]);
    let incoming = local.dir.path().join("demo/incoming");
    server.s3(&["upload", incoming.to_str().unwrap(), "incoming"]);
    let scratch = ScratchDatabase::postgres().await;
    let (work, env) = server.site(&scratch.url, &local.dir.path().join("demo/master"));
    let out = run(&mut kakin(work.path(), &env, &["ingest"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let again = run(&mut kakin(work.path(), &env, &["ingest"]));
    assert!(
        text(&again.stdout).contains("ingested: 0 rows"),
        "{}",
        text(&again.stdout)
    );
    let out = logging_fetches(kakin(work.path(), &env, &["close", "2026-10"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        text(&closed.stdout),
        "the same close on S3"
    );
    // The close fetched the event files it bills (and, sending its emails, its own
    // documents), and nothing else: not the events of November delivered on October 31st,
    // which the next close bills (below).
    let files_of = |wanted: &dyn Fn(&str) -> bool| -> BTreeMap<String, u64> {
        expected
            .iter()
            .map(|(path, bytes)| (path.to_string_lossy().into_owned(), bytes.len() as u64))
            .filter(|(path, _)| wanted(path))
            .collect()
    };
    let event_file = |path: &str| path.starts_with("plays/") || path.starts_with("purchases/");
    let of_month = |path: &str, month: &str| path.contains(&format!("_date={month}"));
    let (events, others): (BTreeMap<_, _>, BTreeMap<_, _>) = fetched(&out.stderr)
        .into_iter()
        .partition(|(p, _)| event_file(p));
    let billed = files_of(&|p| event_file(p) && !of_month(p, "2026-11"));
    assert!(billed.len() > 60, "{billed:?}");
    assert_eq!(events, billed);
    assert!(
        others
            .keys()
            .all(|p| p.starts_with("documents/closing_month=2026-10/")),
        "{others:?}"
    );
    let sql = "SELECT count(*) AS n FROM billing_daily JOIN partners USING (partner_code)";
    let local_count = run(&mut local.kakin(&["query", sql, "--format", "csv"]));
    let s3_count = logging_fetches(kakin(work.path(), &env, &["query", sql, "--format", "csv"]));
    assert!(
        text(&s3_count.stdout).starts_with("n\n"),
        "{}",
        text(&s3_count.stderr)
    );
    assert_eq!(text(&s3_count.stdout), text(&local_count.stdout));
    assert_eq!(
        fetched(&s3_count.stderr),
        files_of(&|p| p.starts_with("billing_daily/") || p == "master/partners.parquet"),
        "a query fetches the tables it names"
    );
    let export = run(&mut kakin(work.path(), &env, &["export", "payments"]));
    assert!(
        text(&export.stdout).lines().count() > 1,
        "{}",
        text(&export.stderr)
    );

    let downloaded = work.path().join("downloaded");
    server.s3(&["download", "lake", downloaded.to_str().unwrap()]);
    let on_s3 = files_under(&downloaded.join("kakin"));
    assert_eq!(
        on_s3.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    assert!(on_s3 == expected, "the same bytes on S3 as in a local lake");

    let november = logging_fetches(kakin(
        work.path(),
        &env,
        &["close", "2026-11", "--allow-empty"],
    ));
    assert!(november.status.success(), "{}", text(&november.stderr));
    let (events, _): (BTreeMap<_, _>, BTreeMap<_, _>) = fetched(&november.stderr)
        .into_iter()
        .partition(|(p, _)| event_file(p));
    assert_eq!(
        events,
        files_of(&|p| event_file(p) && of_month(p, "2026-11")),
        "the next close fetches none of the closed month's events"
    );
}

#[tokio::test]
async fn an_s3_key_object_store_cannot_read_is_reported_and_fails_the_run_until_removed() {
    let server = S3Server::start();
    server.s3(&["create", "lake", "incoming"]);
    let play = "event_id,keychip_id,played_at,title_code,charge_code,count\n\
                S1,A72E01A0001,2026-10-04T10:00:00+09:00,SH4,SH4-STONE,7\n";
    let odd = "plays/2026-10-05/a b#c%d+é.csv";
    server.s3(&["put", "incoming", odd, play]);
    let dotted = "plays/2026-10-05/../escape.csv";
    server.s3(&["put", "incoming", dotted, play]);
    let scratch = ScratchDatabase::sqlite();
    let (work, env) = server.site(
        &scratch.url,
        &pipeline::testing::guide_statement().join("master"),
    );

    let out = run(&mut kakin(work.path(), &env, &["ingest"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let said = text(&out.stdout);
    assert!(
        said.contains("escape.csv") && said.contains("NOT LISTED"),
        "{said}"
    );
    assert!(
        text(&out.stderr).contains("could not be listed"),
        "{}",
        text(&out.stderr)
    );

    server.s3(&["delete", "incoming", dotted]);
    let out = run(&mut kakin(work.path(), &env, &["ingest"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("{odd}: 1 rows: 1 accepted")),
        "{said}"
    );
}
