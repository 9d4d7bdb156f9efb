//! `kakin close` as finance runs it: a killed close takes no number and shows nothing, and its
//! rerun writes what an uninterrupted close writes.

mod support;

use pipeline::each_engine;
use pipeline::testing::ScratchDatabase;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;
use support::{text, Site};

use pipeline::testing::guide_statement as guide;

/// The guide's statement imported and ingested into a database and lake of their own.
fn guide_site(scratch: ScratchDatabase) -> Site {
    Site::guide(scratch, Vec::new())
}

/// The statement tables of the site's lake.
fn closes(site: &Site) -> BTreeMap<PathBuf, Vec<u8>> {
    site.lake()
        .into_iter()
        .filter(|(p, _)| p.to_string_lossy().contains("closing_month="))
        .collect()
}

fn stdout(out: &Output) -> String {
    text(&out.stdout)
}

each_engine! {
    async fn a_killed_close_takes_no_number_and_its_rerun_writes_the_same_bytes(clean, killed) {
        let clean = guide_site(clean);
        let out = clean.run(&["close", "2023-05"], None);
        assert!(out.status.success());
        assert!(
            stdout(&out).contains("請求書 1700000 229999000: 34220 + tax 3422 = 37642 yen"),
            "{}",
            stdout(&out)
        );
        assert!(
            stdout(&out).contains("支払合計 229999000: お支払合計金額 83188 yen"),
            "{}",
            stdout(&out)
        );

        // Killed after two of its four documents, once all are in place, once its tables are too.
        let killed = guide_site(killed);
        for failpoint in ["close-document-put@2", "close-documents-written", "close-before-commit"] {
            let out = killed.run(&["close", "2023-05"], Some(failpoint));
            assert!(!out.status.success(), "{failpoint} kills the close");
            assert!(!closes(&killed).is_empty(), "its files were put in place");
            let count = "SELECT COUNT(*) AS n FROM billing_details";
            let shown = killed.run(&["query", count, "--format", "csv"], None);
            if failpoint != "close-before-commit" {
                assert!(text(&shown.stderr).contains("'billing_details' was not found"));
            } else {
                assert_eq!(stdout(&shown), "n\n0\n", "{}", text(&shown.stderr));
            }
            let listed = killed.run(&["export", "invoices"], None);
            assert_eq!(stdout(&listed).lines().count(), 1, "the header alone");
            let verified = killed.run(&["verify"], None);
            assert!(stdout(&verified).contains("0 document(s) checked"), "none issued yet");
        }
        let rerun = killed.run(&["close", "2023-05"], None);
        assert!(rerun.status.success());
        assert!(
            stdout(&rerun).contains("請求書 1700000 229999000"),
            "no number was taken: {}",
            stdout(&rerun)
        );
        assert!(
            closes(&killed) == closes(&clean),
            "the rerun writes the uninterrupted close's bytes, documents included"
        );
        let verified = killed.run(&["verify"], None);
        assert!(verified.status.success(), "{}", stdout(&verified));
        assert!(stdout(&verified).contains("4 document(s) checked, 0 problem(s)"));
        let again = killed.run(&["close", "2023-05"], None);
        assert!(
            stdout(&again).contains("2023-05 is already closed"),
            "{}",
            stdout(&again)
        );
    }
}

each_engine! {
    async fn a_refresh_or_a_close_killed_while_summing_event_files_reruns_to_the_same_bytes(clean, killed) {
        let clean = guide_site(clean);
        let killed = guide_site(killed);
        let under = |site: &Site, prefix: &str| -> BTreeMap<PathBuf, Vec<u8>> {
            site.lake()
                .into_iter()
                .filter(|(p, _)| p.starts_with(prefix))
                .collect()
        };
        assert!(clean.run(&["refresh"], None).status.success());
        let summed = under(&clean, "provisional/daily");
        assert!(summed.len() > 2, "{:?}", summed.keys());

        // Killed once two files' sums are put (others, put at the same time, may be in place
        // too, or half-written aside): the rerun sums the others only.
        let out = killed.run(&["refresh"], Some("daily-sums-put@2"));
        assert!(!out.status.success(), "the failpoint kills the refresh");
        let left = under(&killed, "provisional/daily");
        assert!(left.len() >= 2, "{:?}", left.keys());
        assert!(left.iter().all(|(path, bytes)| summed.get(path) == Some(bytes)), "whole sums");
        assert!(killed.run(&["refresh"], None).status.success());
        assert!(under(&killed, "provisional") == under(&clean, "provisional"));

        // A close that finds no sums sums its files: killed doing so, its rerun writes the
        // uninterrupted close's bytes (and, like it, leaves no sums of what it billed).
        std::fs::remove_dir_all(killed.dir.path().join("lake/provisional/daily")).unwrap();
        let out = killed.run(&["close", "2023-05"], Some("daily-sums-put@2"));
        assert!(!out.status.success(), "the failpoint kills the close");
        assert!(
            closes(&killed).keys().all(|p| p.starts_with("provisional")),
            "nothing of the close is written yet"
        );
        assert!(killed.run(&["close", "2023-05"], None).status.success());
        assert!(clean.run(&["close", "2023-05"], None).status.success());
        assert!(closes(&killed) == closes(&clean));
        assert!(under(&killed, "provisional/daily").is_empty());
        assert!(under(&clean, "provisional/daily").is_empty());
    }
}

#[tokio::test]
async fn finance_and_analysts_read_the_close() {
    let site = guide_site(ScratchDatabase::sqlite());
    let preview = site.run(&["close", "2023-05", "--dry-run"], None);
    assert!(preview.status.success());
    let printed = stdout(&preview);
    let line = printed
        .lines()
        .find(|l| l.starts_with("229999000"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .unwrap();
    assert_eq!(
        line,
        ["229999000", "37642", "-", "+37642", "83188", "-", "+83188"]
    );
    assert!(closes(&site).is_empty(), "a dry run writes nothing");
    assert!(site.run(&["close", "2023-05"], None).status.success());

    let sql = "SELECT partner_code, pay FROM payment_totals WHERE title_code IS NULL ORDER BY partner_code";
    let out = site.run(&["query", sql, "--format", "csv"], None);
    assert_eq!(
        stdout(&out),
        "partner_code,pay\n229999000,83188\n229999001,2473\n",
        "{}",
        text(&out.stderr)
    );
    let table = site.run(&["query", sql], None);
    assert!(stdout(&table).contains("83188"), "{}", stdout(&table));

    let file = site.dir.path().join("billing.csv");
    let out = site.run(
        &[
            "export",
            "billing",
            "--encoding",
            "cp932",
            "-o",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bytes = std::fs::read(&file).unwrap();
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("請求書発行月,取引先コード,取引先名,店舗名,プレイ年月,個体識別番号,ALL.Net区分,品名,課金名,回数,単価,金額")
    );
    assert!(lines.any(|l| l.contains("2023年05月") && l.ends_with(",461,20,9220")));

    let bad = site.run(&["export", "billing", "--match", "品番=x"], None);
    assert_eq!(bad.status.code(), Some(2), "an unknown column is bad usage");
}

#[tokio::test]
async fn a_killed_reissue_is_finished_by_its_rerun() {
    let (clean, killed) = (
        guide_site(ScratchDatabase::sqlite()),
        guide_site(ScratchDatabase::postgres().await),
    );
    for site in [&clean, &killed] {
        assert!(site.run(&["close", "2023-05"], None).status.success());
        let out = site.run(
            &["invoice", "void", "1700000", "--reason", "単価誤り"],
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            stdout(&out).contains("is VOID (単価誤り)"),
            "{}",
            stdout(&out)
        );
    }
    let reissue = ["close", "2023-05", "--reissue", "229999000"];
    let reissued =
        "請求書 1700001 229999000: 34220 + tax 3422 = 37642 yen (請求書番号 1700000 の再発行)";
    let out = clean.run(&reissue, None);
    assert!(stdout(&out).contains(reissued), "{}", stdout(&out));

    let out = killed.run(&reissue, Some("reissue-before-commit"));
    assert!(!out.status.success(), "the failpoint kills the reissue");
    let rerun = killed.run(&reissue, None);
    assert!(
        stdout(&rerun).contains(reissued),
        "no number was taken: {}",
        stdout(&rerun)
    );
    assert!(
        closes(&killed) == closes(&clean),
        "the same tables as an uninterrupted reissue"
    );

    let again = killed.run(&reissue, None);
    assert!(
        stdout(&again).contains("reissued before: nothing changed"),
        "{}",
        stdout(&again)
    );
    let runs = stdout(&killed.run(&["runs"], None));
    assert!(runs.contains("invoice void"), "{runs}");
    assert!(runs.contains("2023-05 --reissue 229999000"), "{runs}");
}

/// Start `kakin ARGS` in the site without waiting for it.
fn spawn(site: &Site, args: &[&str]) -> std::process::Child {
    site.kakin(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The invoices of the site's committed closes, as `number,status` lines.
fn invoices(site: &Site) -> Vec<String> {
    let sql = "SELECT invoice_no, status FROM invoices ORDER BY invoice_no";
    let out = site.run(&["query", sql, "--format", "csv"], None);
    if text(&out.stderr).contains("'invoices' was not found") {
        return Vec::new(); // no close has committed yet
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    stdout(&out).lines().skip(1).map(str::to_owned).collect()
}

each_engine! {
    async fn two_closes_started_at_once_close_the_month_once(scratch) {
        let site = guide_site(scratch);
        let close = ["close", "2023-05", "--wait", "300"];
        let (a, b) = (spawn(&site, &close), spawn(&site, &close));
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        for out in &outs {
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        let said: Vec<String> = outs.iter().map(stdout).collect();
        assert_eq!(
            said.iter()
                .filter(|s| s.contains("closed 2023-05: 1 invoices"))
                .count(),
            1,
            "{said:?}"
        );
        assert_eq!(
            said.iter()
                .filter(|s| s.contains("2023-05 is already closed"))
                .count(),
            1,
            "the second waited for the first, then found the month closed: {said:?}"
        );
        assert_eq!(invoices(&site), ["1700000,ISSUED"]);
    }
}

each_engine! {
    async fn a_writer_names_the_holder_and_takes_over_the_lease_of_a_dead_one(scratch) {
        let url = scratch.url.clone();
        let site = guide_site(scratch);
        // A writer on another machine holds the lease, and dies: it renews it no more.
        let db = pipeline::db::Database::connect(&url).await.unwrap();
        let expires = chrono::Utc::now().timestamp_millis() + 4_000;
        sqlx::query(
            "INSERT INTO leases (name, holder, host, pid, token, since, expires_at) \
             VALUES ('writer', 'run 99 (ingest)', 'other-host', 4242, 't', '2026-11-27T02:00:00Z', $1)",
        )
        .bind(expires)
        .execute(db.pool())
        .await
        .unwrap();
        let out = site.run(&["close", "2023-05", "--wait", "0"], None);
        assert_eq!(out.status.code(), Some(1));
        let said = text(&out.stderr);
        assert!(
            said.contains("run 99 (ingest) on other-host pid 4242 since 2026-11-27T02:00:00Z"),
            "{said}"
        );
        assert!(invoices(&site).is_empty(), "nothing was closed");
        // Waiting long enough, the next writer outlives the dead holder's lease.
        let out = site.run(&["close", "2023-05", "--wait", "60"], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(invoices(&site), ["1700000,ISSUED"]);

        // A holder on this machine killed with its lease held: its process is gone, so the
        // next writer takes over at once.
        let out = site.run(
            &["close", "2023-06", "--allow-empty"],
            Some("close-before-commit"),
        );
        assert!(!out.status.success(), "the failpoint kills the close");
        let held = db.lease_holder().await.unwrap();
        assert!(
            held.is_some_and(|h| h.holder.contains("close 2023-06")),
            "it died holding it"
        );
        let out = site.run(&["close", "2023-06", "--allow-empty", "--wait", "0"], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let runs = stdout(&site.run(&["runs"], None));
        assert!(runs.contains("another writer holds the lease"), "{runs}");

        // A staging file a killed writer left in the lake is removed by the next writer.
        let staging = site.dir.path().join("lake/_staging");
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join("999-0.part"), b"half a file").unwrap();
        let master = guide().join("master");
        let import = ["master", "import", master.to_str().unwrap()];
        assert!(site.run(&import, None).status.success());
        assert!(!staging.join("999-0.part").exists());
    }
}

each_engine! {
    async fn a_killed_reissue_is_finished_before_the_next_close_takes_a_number(scratch) {
        let site = guide_site(scratch);
        assert!(site.run(&["close", "2023-05"], None).status.success());
        let void = ["invoice", "void", "1700000", "--reason", "単価誤り"];
        assert!(site.run(&void, None).status.success());
        let reissue = ["close", "2023-05", "--reissue", "229999000"];
        let out = site.run(&reissue, Some("reissue-before-commit"));
        assert!(!out.status.success(), "the failpoint kills the reissue");
        // June bills a slip, so its close takes a number; its import is the next writer.
        let slips = site.dir.path().join("june.csv");
        std::fs::write(
            &slips,
            "slip_no,partner_code,store_code,keychip_id,item_no,item_name,adjusted_month,transfer_date,quantity,unit_price,amount,kind,description\n\
             I620001,229999000,S2299990001,,IT0001,店舗大会,2023-06,2023-07-07,1,1000,1000,BILLING,店舗大会\n",
        )
        .unwrap();
        let out = site.run(&["adjustments", "import", slips.to_str().unwrap()], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            stdout(&out).contains("finished the reissue of invoice 1700001"),
            "{}",
            stdout(&out)
        );
        // June has a slip but no event: the close is refused until finance says so.
        let refused = site.run(&["close", "2023-06"], None);
        assert_eq!(refused.status.code(), Some(1));
        let said = text(&refused.stderr);
        assert!(said.contains("2023-06 has no accepted event"), "{said}");
        let out = site.run(&["close", "2023-06", "--allow-empty"], None);
        assert!(
            stdout(&out).contains("請求書 1700002 229999000"),
            "{}",
            stdout(&out)
        );
        assert_eq!(
            invoices(&site),
            ["1700000,VOID", "1700001,ISSUED", "1700002,ISSUED"],
            "every number once"
        );
    }
}
