//! The `kakin` binary as operations and finance run it: exit codes, messages, the ledger and
//! the demo, on SQLite and PostgreSQL.

use pipeline::each_engine;
use pipeline::testing::files_under;
use std::path::Path;
use std::process::{Command, Output};

use pipeline::testing::guide_statement as guide;

/// `kakin args…` in `dir`, with the database at `database_url`.
fn kakin(dir: &Path, database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kakin"))
        .args(args)
        .current_dir(dir)
        .env("KAKIN_DATABASE_URL", database_url)
        .env_remove("KAKIN_LAKE_URL")
        .output()
        .expect("kakin runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

each_engine! {
    async fn a_bad_master_import_exits_2_naming_file_line_and_column_and_the_fix_applies(scratch) {
        let work = tempfile::tempdir().unwrap();
        let master = work.path().join("master");
        std::fs::create_dir(&master).unwrap();
        for entry in std::fs::read_dir(guide().join("master")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), master.join(entry.file_name())).unwrap();
        }
        let partners = std::fs::read_to_string(master.join("partners.csv")).unwrap();
        std::fs::write(
            master.join("partners.csv"),
            partners.replace("T9234567890123", "T1234567890123"),
        )
        .unwrap();

        let out = kakin(work.path(), &scratch.url, &["master", "import", "master"]);
        assert_eq!(out.status.code(), Some(2), "{}", scratch.url);
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(
                "partners.csv:2: registration_number: \"T1234567890123\" fails the check digit"
            ),
            "{stderr}"
        );
        assert!(stderr.contains("nothing was imported"), "{stderr}");

        std::fs::write(master.join("partners.csv"), &partners).unwrap();
        let out = kakin(work.path(), &scratch.url, &["master", "import", "master"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("partners: 2 inserted"),
            "{}",
            text(&out.stdout)
        );
        let out = kakin(work.path(), &scratch.url, &["master", "import", "master"]);
        assert!(text(&out.stdout).contains("partners: 0 inserted, 0 updated, 2 unchanged"));

        let out = kakin(work.path(), &scratch.url, &["runs"]);
        assert_eq!(out.status.code(), Some(0));
        let runs = text(&out.stdout);
        let outcomes: Vec<&str> = runs
            .lines()
            .filter(|l| l.contains("master import"))
            .map(|l| {
                if l.contains("succeeded") {
                    "succeeded"
                } else if l.contains("invalid") {
                    "invalid"
                } else {
                    "?"
                }
            })
            .collect();
        assert_eq!(outcomes, ["succeeded", "succeeded", "invalid"], "{runs}");
        assert!(
            runs.contains("1 problem(s)"),
            "the ledger counts the one problem: {runs}"
        );
    }
}

#[test]
fn no_password_is_shown_and_a_query_reads_nothing_but_the_lake() {
    let work = tempfile::tempdir().unwrap();
    let out = kakin(
        work.path(),
        "mysql://kakin:hunter2@db.example/kakin",
        &["runs"],
    );
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out.stderr);
    assert!(
        said.contains("mysql://kakin:***@db.example/kakin"),
        "{said}"
    );
    assert!(!said.contains("hunter2"), "{said}");

    std::fs::write(work.path().join("secret.csv"), "password\nhunter2\n").unwrap();
    let url = format!("sqlite://{}/kakin.db", work.path().display());
    for sql in [
        "SELECT * FROM read_csv('secret.csv')",
        "SELECT * FROM partners UNION ALL SELECT * FROM Read_Parquet('x.parquet')",
    ] {
        let out = kakin(work.path(), &url, &["query", sql]);
        assert_eq!(out.status.code(), Some(2), "{sql}");
        let said = text(&out.stderr);
        assert!(said.contains("reads files"), "{said}");
        assert!(!text(&out.stdout).contains("hunter2"));
    }
}

each_engine! {
    async fn adjustments_import_through_the_binary(scratch) {
        let work = tempfile::tempdir().unwrap();
        let master = guide().join("master");
        let slips = guide().join("adjustments-2023-05.csv");
        let out = kakin(
            work.path(),
            &scratch.url,
            &["adjustments", "import", slips.to_str().unwrap()],
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "the store is not known yet: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr)
            .contains("adjustments-2023-05.csv:2: store_code: store S2299990001 does not exist"));
        assert_eq!(
            kakin(
                work.path(),
                &scratch.url,
                &["master", "import", master.to_str().unwrap()]
            )
            .status
            .code(),
            Some(0)
        );
        let out = kakin(
            work.path(),
            &scratch.url,
            &["adjustments", "import", slips.to_str().unwrap()],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("adjustments: 1 inserted"));
    }
}

#[test]
fn bad_configuration_and_usage_exit_2() {
    let work = tempfile::tempdir().unwrap();
    let out = kakin(work.path(), "mysql://localhost/kakin", &["runs"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("neither sqlite:// nor postgres://"));

    let url = format!("sqlite://{}/kakin.db", work.path().display());
    let out = kakin(work.path(), &url, &["--config", "missing.toml", "runs"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing.toml does not exist"));

    std::fs::write(work.path().join("kakin.toml"), "payment_day = 31\n").unwrap();
    let out = kakin(work.path(), &url, &["runs"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("payment_day"));

    let out = kakin(work.path(), &url, &["master"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing subcommand is bad usage"
    );
}

#[test]
fn the_demo_runs_on_the_embedded_default_and_its_generator_is_deterministic() {
    let work = tempfile::tempdir().unwrap();
    // A production configuration is in the environment: the demo must not touch it.
    let production = work.path().join("production");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kakin"))
            .args(args)
            .current_dir(work.path())
            .env(
                "KAKIN_DATABASE_URL",
                format!("sqlite://{}/kakin.db", production.display()),
            )
            .env(
                "KAKIN_LAKE_URL",
                format!("file://{}/lake", production.display()),
            )
            .output()
            .unwrap()
    };
    let out = run(&["demo", "--keychips", "15", "--month", "2026-10"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        work.path().join("var/demo/kakin.db").exists(),
        "SQLite under the demo's own directory"
    );
    assert!(
        !production.exists(),
        "the configured database and lake are untouched"
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("generated 3 partners"), "{stdout}");
    assert!(stdout.contains("adjustments: 3 inserted"), "{stdout}");
    assert!(stdout.contains("closed 2026-10: "), "{stdout}");
    assert!(
        stdout.contains("請求書 1700000 229000000"),
        "the first partner has the slip billed: {stdout}"
    );
    let ingested = stdout
        .lines()
        .find(|l| l.starts_with("ingested: "))
        .expect("an ingest summary");
    for reason in pipeline::domain::QuarantineReason::ALL {
        assert!(
            ingested.contains(&format!("{reason} 1")) || ingested.contains(&format!("{reason} ")),
            "the demo has a row of every reason: {ingested}"
        );
    }
    assert!(
        ingested.contains("duplicate") && !ingested.contains(" 0 duplicate"),
        "{ingested}"
    );

    let again = run(&[
        "demo",
        "--keychips",
        "15",
        "--month",
        "2026-10",
        "--generate-only",
        "--dir",
        "again",
    ]);
    assert_eq!(again.status.code(), Some(0));
    // The generated inputs (the demo's database and lake sit beside them).
    let inputs = |dir: &str| {
        let mut files = files_under(&work.path().join(dir).join("master"));
        files.extend(files_under(&work.path().join(dir).join("incoming")));
        files
    };
    let (first, second) = (inputs("var/demo"), inputs("again"));
    assert!(
        first.len() > 60,
        "a month of deliveries: {} files",
        first.len()
    );
    assert!(first == second, "the same seed gives the same bytes");
    let other = run(&[
        "demo",
        "--keychips",
        "15",
        "--month",
        "2026-10",
        "--generate-only",
        "--dir",
        "other",
        "--seed",
        "2",
    ]);
    assert_eq!(other.status.code(), Some(0));
    assert!(inputs("other") != first, "another seed, other logs");

    let keychips =
        std::fs::read_to_string(work.path().join("var/demo/master/keychips.csv")).unwrap();
    assert_eq!(
        keychips
            .lines()
            .filter(|l| l.starts_with("A72E0000001,"))
            .count(),
        2,
        "a cabinet moves mid-month"
    );
    let charges = std::fs::read_to_string(work.path().join("var/demo/master/charges.csv")).unwrap();
    assert!(
        charges.contains("2026-10-15,P-ras") && charges.contains(",2026-10-16,,P-ras"),
        "a price change mid-month"
    );

    let demo_db = format!("sqlite://{}/var/demo/kakin.db", work.path().display());
    let runs = text(&kakin(work.path(), &demo_db, &["runs"]).stdout);
    let ledger = runs
        .split("\n\n")
        .nth(1)
        .expect("the runs after the jobs' summary");
    assert_eq!(
        ledger.matches("succeeded").count(),
        5,
        "import, slips, ingest, close, outbox send: {runs}"
    );
    let emails = std::fs::read_dir(work.path().join("var/demo/outbox"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("eml".as_ref()))
        .count();
    assert!(
        runs.contains(&format!("{emails} sent, 0 to retry")),
        "{emails} .eml files: {runs}"
    );
    assert!(
        emails > 0,
        "the demo's emails are .eml files in var/demo/outbox"
    );
}
