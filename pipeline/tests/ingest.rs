//! `kakin ingest` through the library, on SQLite and PostgreSQL: what becomes of every line of
//! real delivered files, retries, reruns and the lake's files.

use arrow_array::{Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pipeline::db::Database;
use pipeline::each_engine;
use pipeline::ingest::{ingest, FileCounts, FileOutcome, IngestReport};
use pipeline::lake::Location;
use pipeline::testing::{files_under, ScratchDatabase};
use std::path::{Path, PathBuf};

use pipeline::testing::guide_statement as guide;

/// A database, a lake and an incoming directory, with the guide's master data imported.
struct World {
    db: Database,
    lake: Location,
    lake_dir: tempfile::TempDir,
    incoming: Location,
    incoming_dir: tempfile::TempDir,
    _scratch: ScratchDatabase,
}

fn location(dir: &Path) -> Location {
    Location::open(&format!("file://{}", dir.display())).unwrap()
}

impl World {
    async fn new(scratch: ScratchDatabase) -> World {
        eprintln!("on {}", scratch.url);
        let db = Database::connect(&scratch.url).await.unwrap();
        let (lake_dir, incoming_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (lake, incoming) = (location(lake_dir.path()), location(incoming_dir.path()));
        pipeline::master::import_master(&db, &lake, &guide().join("master"))
            .await
            .unwrap();
        World {
            db,
            lake,
            lake_dir,
            incoming,
            incoming_dir,
            _scratch: scratch,
        }
    }

    async fn each() -> Vec<World> {
        let mut worlds = Vec::new();
        for scratch in ScratchDatabase::each().await {
            worlds.push(World::new(scratch).await);
        }
        worlds
    }

    fn deliver(&self, path: &str, text: &str) {
        let path = self.incoming_dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    async fn ingest(&self) -> IngestReport {
        ingest(&self.db, &self.lake, &self.incoming, None, &())
            .await
            .unwrap()
    }

    /// Every lake file but the master tables, with its bytes.
    fn events_tree(&self) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
        files_under(self.lake_dir.path())
            .into_iter()
            .filter(|(p, _)| !p.starts_with("master"))
            .collect()
    }

    /// The rows of every Parquet file under `prefix` of the lake.
    fn rows(&self, prefix: &str) -> Vec<RecordBatch> {
        files_under(&self.lake_dir.path().join(prefix))
            .into_values()
            .flat_map(|bytes| {
                let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
                    .unwrap()
                    .build()
                    .unwrap();
                reader.map(Result::unwrap).collect::<Vec<_>>()
            })
            .collect()
    }

    /// (file, line, reason) of every row of the lake's quarantine.
    fn quarantine(&self) -> Vec<(String, i64, String)> {
        let mut rows = Vec::new();
        for batch in self.rows("quarantine") {
            let (file, line, reason) = (
                text(&batch, "file"),
                int(&batch, "line"),
                text(&batch, "reason"),
            );
            for i in 0..batch.num_rows() {
                rows.push((
                    file.value(i).to_owned(),
                    line.value(i),
                    reason.value(i).to_owned(),
                ));
            }
        }
        rows.sort();
        rows
    }

    fn accepted_ids(&self, feed: &str, id_column: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .rows(feed)
            .iter()
            .flat_map(|b| {
                let ids = text(b, id_column);
                (0..b.num_rows())
                    .map(|i| ids.value(i).to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        ids.sort();
        ids
    }
}

fn text<'a>(batch: &'a RecordBatch, column: &str) -> &'a StringArray {
    batch
        .column_by_name(column)
        .unwrap()
        .as_any()
        .downcast_ref()
        .unwrap()
}

fn int<'a>(batch: &'a RecordBatch, column: &str) -> &'a Int64Array {
    batch
        .column_by_name(column)
        .unwrap()
        .as_any()
        .downcast_ref()
        .unwrap()
}

fn counts(report: &IngestReport, path: &str) -> FileCounts {
    match &report
        .files
        .iter()
        .find(|f| f.path == path)
        .expect(path)
        .outcome
    {
        FileOutcome::Ingested(counts) => counts.clone(),
        other => panic!("{path}: {other:?}"),
    }
}

const PLAYS: &str = "event_id,keychip_id,played_at,title_code,charge_code,count\n";
const PURCHASES: &str = "transaction_id,keychip_id,purchased_at,title_code,product_code,payment_method,quantity,unit_price\n";

/// Each line a case: line numbers in the comments are those of the file.
fn plays_of_the_2nd() -> String {
    PLAYS.to_owned()
        + "OK1,A72E01A0001,2026-10-01T10:00:00+09:00,SH4,SH4-STONE,10\n" // 2 accepted
        + "OK1,A72E01A0001,2026-10-01T01:00:00Z,SH4,SH4-STONE,10\n" // 3 duplicate: the same instant
        + "OK1,A72E01A0001,2026-10-01T10:00:00+09:00,SH4,SH4-STONE,11\n" // 4 conflicting_duplicate
        + "M1,A72E01A0001,2026-10-01T10:00:00+09:00,SH4,SH4-STONE\n" // 5 malformed: 5 fields
        + "M2,a72e,2026-10-01 10:00,SH4,SH4-STONE,0\n" // 6 malformed before invalid_value
        + "I1,a72e01a0001,2026-10-05T10:00:00+09:00,SH4,SH4-STONE,1\n" // 7 invalid_value before future_event
        + "F1,ZZZ0000001,2026-10-04T00:00:00+09:00,SH4,SH4-STONE,1\n" // 8 future_event (delivery + 2) before unknown_keychip
        + "F0,A72E01A0001,2026-10-03T23:59:59+09:00,SH4,SH4-STONE,1\n" // 9 accepted: delivery + 1
        + "K1,ZZZ0000001,2026-10-01T10:00:00+09:00,CHUNI,CHUNI-NET,1\n" // 10 unknown_keychip before unknown_code
        + "C1,A72E01A0001,2026-10-01T10:00:00+09:00,CHUNI,CHUNI-NET,1\n" // 11 unknown_code: not the key-chip's title
        + "C2,A72E01A0001,2026-10-01T10:00:00+09:00,SH4,CHUNI-NET,1\n" // 12 unknown_code: a charge of another title
        + "OK1,A72E01A0001,2026-10-01T10:00:00+09:00,SH4,NOPE,1\n" // 13 unknown_code before conflicting_duplicate
        + "J1,A72E01A0001,2026-09-30T15:00:30Z,SH4,SH4-STONE,5\n" // 14 accepted, JST 2026-10-01
        + "\n" // a blank line is no row
}

fn purchases_of_the_2nd() -> String {
    PURCHASES.to_owned()
        + "P1,A72E01A0001,2026-10-01T12:00:00+09:00,SH4,SH4-MEDAL1000,EMONEY,1,1000\n" // 2 accepted
        + "P2,A72E01A0001,2026-10-01T12:00:00+09:00,SH4,SH4-MEDAL1000,EMONEY,1,900\n" // 3 price_mismatch
        + "P3,A72E01A0001,2026-10-01T12:00:00+09:00,SH4,SH4-MEDAL1000,CASH,1,1000\n" // 4 invalid_value
        + "P4,A72E01A0007,2026-10-01T12:00:00+09:00,SH4,SH4-MEDAL1000,EMONEY,1,900\n" // 5 unknown_code before price_mismatch
        + "P5,A72E01A0001,2026-10-01T12:00:00+09:00,SH4,SH4-NOPE,EMONEY,1,100\n" // 6 unknown_code
        + "P6,A72E01A0001,2026-10-01T12:00:00+09:00,SH4,SH4-MEDAL1000,EMONEY,1.5,1000\n"
    // 7 malformed
}

each_engine! {
    async fn every_line_ends_accepted_duplicate_or_quarantined_with_the_first_reason_that_applies(scratch) {
        let world = World::new(scratch).await;
        world.deliver("plays/2026-10-02/a.csv", &plays_of_the_2nd());
        world.deliver("purchases/2026-10-02/a.csv", &purchases_of_the_2nd());
        world.deliver("plays/2026-10-02/b.csv", "id,chip,at,title,charge,count\nX1,A72E01A0001,2026-10-01T10:00:00+09:00,SH4,SH4-STONE,1\nX2,A72E01A0001,2026-10-01T10:00:00+09:00,SH4,SH4-STONE,1\n");
        let report = world.ingest().await;

        let plays = counts(&report, "plays/2026-10-02/a.csv");
        assert_eq!(
            (
                plays.rows,
                plays.accepted,
                plays.duplicates,
                plays.quarantined
            ),
            (13, 3, 1, 9)
        );
        let purchases = counts(&report, "purchases/2026-10-02/a.csv");
        assert_eq!(
            (
                purchases.rows,
                purchases.accepted,
                purchases.duplicates,
                purchases.quarantined
            ),
            (6, 1, 0, 5)
        );
        for file in [&plays, &purchases] {
            assert_eq!(
                file.rows,
                file.accepted + file.duplicates + file.quarantined
            );
        }
        let quarantine = world.quarantine();
        let reason = |file: &str, line: i64| {
            quarantine
                .iter()
                .find(|(f, l, _)| f == file && *l == line)
                .map(|(_, _, r)| r.as_str())
        };
        let plays_file = "plays/2026-10-02/a.csv";
        for (line, expected) in [
            (4, "conflicting_duplicate"),
            (5, "malformed"),
            (6, "malformed"),
            (7, "invalid_value"),
            (8, "future_event"),
            (10, "unknown_keychip"),
            (11, "unknown_code"),
            (12, "unknown_code"),
            (13, "unknown_code"),
        ] {
            assert_eq!(reason(plays_file, line), Some(expected), "line {line}");
        }
        let purchases_file = "purchases/2026-10-02/a.csv";
        for (line, expected) in [
            (3, "price_mismatch"),
            (4, "invalid_value"),
            (5, "unknown_code"),
            (6, "unknown_code"),
            (7, "malformed"),
        ] {
            assert_eq!(reason(purchases_file, line), Some(expected), "line {line}");
        }
        assert_eq!(
            reason("plays/2026-10-02/b.csv", 2),
            Some("malformed"),
            "a wrong header"
        );
        assert_eq!(reason("plays/2026-10-02/b.csv", 3), Some("malformed"));
        assert_eq!(quarantine.len(), 9 + 5 + 2, "every quarantined line once");

        assert_eq!(world.accepted_ids("plays", "event_id"), ["F0", "J1", "OK1"]);
        assert_eq!(world.accepted_ids("purchases", "transaction_id"), ["P1"]);
        let j1_partition = world.lake_dir.path().join("plays/play_date=2026-10-01");
        assert!(
            j1_partition.exists(),
            "2026-09-30T15:00:30Z is played on 2026-10-01 in Japan"
        );
        assert!(
            world
                .lake_dir
                .path()
                .join("plays/play_date=2026-10-03")
                .exists(),
            "delivery + 1"
        );
    }
}

each_engine! {
    async fn an_unknown_keychip_comes_in_with_the_first_run_after_its_import_and_is_quarantined_once(scratch) {
        let world = World::new(scratch).await;
        world.deliver(
            "plays/2026-10-02/a.csv",
            &(PLAYS.to_owned() + "K1,ZZZ0000001,2026-10-01T10:00:00+09:00,SH4,SH4-STONE,7\n"),
        );
        let first = world.ingest().await;
        assert_eq!(counts(&first, "plays/2026-10-02/a.csv").quarantined, 1);
        let again = world.ingest().await;
        assert_eq!(
            (again.retries.retried, again.retries.still_open),
            (1, 1),
            "still unknown"
        );
        assert!(world.accepted_ids("plays", "event_id").is_empty());

        let master = tempfile::tempdir().unwrap();
        std::fs::write(master.path().join("keychips.csv"), "keychip_id,store_code,title_code,valid_from,valid_to\nZZZ0000001,S2299990001,SH4,2026-10-01,\n").unwrap();
        pipeline::master::import_master(&world.db, &world.lake, master.path())
            .await
            .unwrap();
        let fixed = world.ingest().await;
        assert_eq!((fixed.retries.retried, fixed.retries.accepted), (1, 1));
        assert_eq!(world.accepted_ids("plays", "event_id"), ["K1"]);
        assert_eq!(
            world.quarantine(),
            [(
                "plays/2026-10-02/a.csv".to_owned(),
                2,
                "unknown_keychip".to_owned()
            )]
        );
        let after = world.ingest().await;
        assert_eq!(after.retries.retried, 0, "closed");
        assert_eq!(
            world.accepted_ids("plays", "event_id"),
            ["K1"],
            "accepted once"
        );
    }
}

each_engine! {
    async fn a_second_run_changes_nothing_and_a_changed_file_is_reported_not_ingested(scratch) {
        let world = World::new(scratch).await;
        world.deliver("plays/2026-10-02/a.csv", &plays_of_the_2nd());
        world.deliver("purchases/2026-10-02/a.csv", &purchases_of_the_2nd());
        let first = world.ingest().await;
        let lake = world.events_tree();
        let second = world.ingest().await;
        assert!(
            second
                .files
                .iter()
                .all(|f| f.outcome == FileOutcome::AlreadyIngested),
            "{second:?}"
        );
        assert!(second.batches.is_empty());
        assert_eq!(
            world.events_tree(),
            lake,
            "the lake is byte for byte the same"
        );
        assert_eq!(first.batches.len(), 1, "one delivery date, one batch");

        world.deliver(
            "plays/2026-10-02/a.csv",
            &(plays_of_the_2nd() + "NEW,A72E01A0001,2026-10-02T10:00:00+09:00,SH4,SH4-STONE,1\n"),
        );
        world.deliver(
            "plays/2026-10-03/a.csv",
            &(PLAYS.to_owned() + "D3,A72E01A0001,2026-10-02T10:00:00+09:00,SH4,SH4-STONE,1\n"),
        );
        let third = world.ingest().await;
        assert_eq!(third.changed_files(), ["plays/2026-10-02/a.csv"]);
        assert_eq!(
            counts(&third, "plays/2026-10-03/a.csv").accepted,
            1,
            "the other files are done"
        );
        assert!(!world
            .accepted_ids("plays", "event_id")
            .contains(&"NEW".to_owned()));
    }
}

#[tokio::test]
async fn the_same_deliveries_give_the_same_bytes_and_gzip_reads_like_plain() {
    use std::io::Write;
    let mut trees = Vec::new();
    for world in World::each().await {
        world.deliver("plays/2026-10-02/a.csv", &plays_of_the_2nd());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(purchases_of_the_2nd().as_bytes()).unwrap();
        let path = world
            .incoming_dir
            .path()
            .join("purchases/2026-10-02/a.csv.gz");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, gz.finish().unwrap()).unwrap();
        let report = world.ingest().await;
        assert_eq!(counts(&report, "purchases/2026-10-02/a.csv.gz").accepted, 1);
        trees.push(world.events_tree());
    }
    assert!(
        trees[0] == trees[1],
        "SQLite and PostgreSQL runs write the same lake"
    );
}

each_engine! {
    async fn an_id_seen_chunks_earlier_in_the_same_file_is_a_duplicate_or_a_conflict(scratch) {
        let world = World::new(scratch).await;
        let line = |id: &str, count: u32| {
            format!("{id},A72E01A0001,2026-10-01T10:00:00+09:00,SH4,SH4-STONE,{count}\n")
        };
        let mut file = PLAYS.to_owned() + &line("X", 1) + &line("Y", 1);
        for i in 0..20_000 {
            file += &line(&format!("F{i}"), 1);
        }
        file += &line("X", 1);
        file += &line("Y", 2);
        world.deliver("plays/2026-10-02/a.csv", &file);
        let report = world.ingest().await;
        let plays = counts(&report, "plays/2026-10-02/a.csv");
        assert_eq!(
            (
                plays.rows,
                plays.accepted,
                plays.duplicates,
                plays.quarantined
            ),
            (20_004, 20_002, 1, 1)
        );
        assert_eq!(
            world.quarantine(),
            [(
                "plays/2026-10-02/a.csv".to_owned(),
                20_005,
                "conflicting_duplicate".to_owned()
            )]
        );
    }
}

/// A gzip of `bytes`.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn play(id: &str) -> String {
    format!("{id},A72E01A0001,2026-10-01T10:00:00+09:00,SH4,SH4-STONE,1")
}

each_engine! {
    async fn hostile_files_get_a_clear_outcome_and_never_stop_the_other_files(scratch) {
        let world = World::new(scratch).await;
        let day = "plays/2026-10-02";
        // A line over 64 KiB between two good ones: one malformed row, the file goes on.
        let long = format!(
            "{PLAYS}{}\nL1,{}\n{}\n",
            play("L0"),
            "x".repeat(70_000),
            play("L2")
        );
        world.deliver(&format!("{day}/long.csv"), &long);
        // A gzip of one endless line (8 MiB, no line end at all): one malformed row.
        let endless = [PLAYS.as_bytes(), &vec![b'y'; 8 << 20]].concat();
        std::fs::write(
            world.incoming_dir.path().join(day).join("endless.csv.gz"),
            gzip(&endless),
        )
        .unwrap();
        // Lone CR line ends (an old spreadsheet's export) and blank lines.
        let cr = format!("{}\r{}\r\r{}\r", PLAYS.trim_end(), play("R1"), play("R2"));
        world.deliver(&format!("{day}/old mac.csv"), &cr);
        // Odd names: spaces, #, %, +, non-ASCII.
        world.deliver(
            &format!("{day}/a b#c%20d+e.csv"),
            &format!("{PLAYS}{}\n", play("N1")),
        );
        world.deliver(
            &format!("{day}/収集機①.csv"),
            &format!("{PLAYS}{}\n", play("N2")),
        );
        // A gzip cut off mid-member, and a symbolic link (never followed).
        let whole = gzip(format!("{PLAYS}{}\n", play("T1")).as_bytes());
        let truncated = world.incoming_dir.path().join(day).join("cut.csv.gz");
        std::fs::write(&truncated, &whole[..whole.len() - 12]).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(
            outside.path().join("x.csv"),
            format!("{PLAYS}{}\n", play("S1")),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("x.csv"),
            world.incoming_dir.path().join(day).join("link.csv"),
        )
        .unwrap();

        let report = world.ingest().await;
        let long = counts(&report, &format!("{day}/long.csv"));
        assert_eq!((long.rows, long.accepted, long.quarantined), (3, 2, 1));
        let endless = counts(&report, &format!("{day}/endless.csv.gz"));
        assert_eq!((endless.rows, endless.quarantined), (1, 1));
        let cr = counts(&report, &format!("{day}/old mac.csv"));
        assert_eq!((cr.rows, cr.accepted, cr.blank), (2, 2, 1), "{cr}");
        assert_eq!(
            counts(&report, &format!("{day}/a b#c%20d+e.csv")).accepted,
            1
        );
        assert_eq!(counts(&report, &format!("{day}/収集機①.csv")).accepted, 1);
        let cut = report
            .files
            .iter()
            .find(|f| f.path.ends_with("cut.csv.gz"))
            .unwrap();
        assert!(
            matches!(&cut.outcome, FileOutcome::Unreadable(why) if why.contains("gzip")),
            "{cut:?}"
        );
        assert_eq!(report.unreadable_files().len(), 1);
        assert!(
            report
                .unlisted
                .iter()
                .any(|s| s.contains("link.csv") && s.contains("symbolic link")),
            "{:?}",
            report.unlisted
        );
        let too_long: Vec<_> = world
            .quarantine()
            .into_iter()
            .filter(|(file, _, _)| file.ends_with("long.csv") || file.ends_with("endless.csv.gz"))
            .collect();
        assert_eq!(
            too_long,
            [
                (format!("{day}/endless.csv.gz"), 2, "malformed".into()),
                (format!("{day}/long.csv"), 3, "malformed".into()),
            ]
        );
        assert_eq!(
            world.accepted_ids("plays", "event_id"),
            ["L0", "L2", "N1", "N2", "R1", "R2"],
            "the link's S1 and the cut file's T1 are not in"
        );

        // The cut file is retried by the next run: once whole, it is ingested.
        std::fs::write(&truncated, &whole).unwrap();
        let again = world.ingest().await;
        assert_eq!(counts(&again, &format!("{day}/cut.csv.gz")).accepted, 1);
        assert!(again.unreadable_files().is_empty());
    }
}
