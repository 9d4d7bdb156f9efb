//! `kakin master import` and `kakin adjustments import` against real databases: every test
//! runs on SQLite and on PostgreSQL.

use pipeline::db::Database;
use pipeline::domain::{Month, Parse, PartnerCode};
use pipeline::each_engine;
use pipeline::lake::Location;
use pipeline::master::{import_adjustments, ImportError, ImportReport};
use pipeline::testing::ScratchDatabase;
use std::path::Path;

/// `kakin master import` with a throw-away lake.
async fn import_master(db: &Database, dir: &Path) -> Result<ImportReport, ImportError> {
    let lake = tempfile::tempdir().unwrap();
    let location = Location::open(&format!("file://{}", lake.path().display())).unwrap();
    pipeline::master::import_master(db, &location, dir).await
}

use pipeline::testing::guide_statement as guide;

/// The scratch database, connected and migrated.
async fn connect(scratch: &ScratchDatabase) -> Database {
    eprintln!("on {}", scratch.url);
    Database::connect(&scratch.url)
        .await
        .expect("connect and migrate")
}

/// A copy of the guide's master data with `changes` (file, text) written over it.
fn master_with(changes: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(guide().join("master")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    for (file, text) in changes {
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    dir
}

fn problems(result: Result<impl std::fmt::Debug, ImportError>) -> Vec<String> {
    match result {
        Err(ImportError::Invalid(problems)) => problems.0.iter().map(|p| p.to_string()).collect(),
        other => panic!("expected invalid rows, got {other:?}"),
    }
}

const PARTNERS: &str = "partner_code,name,registration_number,email,notify,registered_name\n\
    229999000,株式会社セガアミューズメント,T9234567890123,billing@sega-amusement.example,true,\n\
    229999001,株式会社テストアミューズ,,,false,\n";

each_engine! {
    async fn the_guides_master_data_imports_and_a_second_import_changes_nothing(scratch) {
        let db = connect(&scratch).await;
        let first = import_master(&db, &guide().join("master")).await.unwrap();
        assert_eq!(first.changed(), 2 + 2 + 2 + 9 + 2 + 9 + 3, "{first}");
        let imported = db.master_data().await.unwrap();
        let second = import_master(&db, &guide().join("master")).await.unwrap();
        assert_eq!(second.changed(), 0, "{second}");
        assert_eq!(db.master_data().await.unwrap(), imported);
        let sega = &imported.partners[&PartnerCode::parse("229999000").unwrap()];
        assert_eq!(sega.name.as_str(), "株式会社セガアミューズメント");
        assert_eq!(
            sega.registration_number.as_ref().unwrap().as_str(),
            "T9234567890123"
        );
        assert!(sega.notify);
    }
}

each_engine! {
    async fn the_guides_placeholder_registration_number_is_refused_at_its_line(scratch) {
        let db = connect(&scratch).await;
        let partners = PARTNERS.replace("T9234567890123", "T1234567890123");
        let dir = master_with(&[("partners.csv", &partners)]);
        let said = problems(import_master(&db, dir.path()).await);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].starts_with("partners.csv:2: registration_number: "),
            "{said:?}"
        );
        assert!(said[0].contains("check digit"), "{said:?}");
        assert!(
            db.master_data().await.unwrap().partners.is_empty(),
            "nothing applied"
        );
    }
}

each_engine! {
    async fn a_cp932_file_imports_with_its_japanese_names_intact(scratch) {
        let db = connect(&scratch).await;
        let (cp932, _, unmappable) = encoding_rs::SHIFT_JIS.encode(PARTNERS);
        assert!(!unmappable);
        assert!(
            std::str::from_utf8(&cp932).is_err(),
            "the file really is CP932"
        );
        let dir = master_with(&[]);
        std::fs::write(dir.path().join("partners.csv"), &cp932).unwrap();
        import_master(&db, dir.path()).await.unwrap();
        let master = db.master_data().await.unwrap();
        let names: Vec<&str> = master.partners.values().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["株式会社セガアミューズメント", "株式会社テストアミューズ"]
        );
        let store = master.stores.values().next().unwrap();
        assert_eq!(store.name.as_str(), "ゲームセンター〇〇〇〇");
    }
}

each_engine! {
    async fn one_bad_row_anywhere_applies_nothing_and_the_fixed_import_applies_everything(scratch) {
        let db = connect(&scratch).await;
        let products = std::fs::read_to_string(guide().join("master/products.csv")).unwrap();
        let broken = products.replacen(",OPERATOR,1000,", ",OPERATOR,1000.5,", 1);
        let dir = master_with(&[("products.csv", &broken)]);
        let said = problems(import_master(&db, dir.path()).await);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].starts_with("products.csv:4: unit_price: "),
            "{said:?}"
        );
        assert_eq!(
            db.master_data().await.unwrap(),
            Default::default(),
            "nothing applied"
        );

        std::fs::write(dir.path().join("products.csv"), &products).unwrap();
        let report = import_master(&db, dir.path()).await.unwrap();
        assert_eq!(report.changed(), 29, "{report}");
        assert_eq!(db.master_data().await.unwrap().products.len(), 9);
        let again = import_master(&db, dir.path()).await.unwrap();
        assert_eq!(again.changed(), 0, "{again}");
    }
}

each_engine! {
    async fn every_problem_of_every_file_is_listed(scratch) {
        let db = connect(&scratch).await;
        let dir = master_with(&[
            ("titles.csv", "title_code,name,genre\nSH4,StarHorse4,horse\n"),
            ("rates.csv", "rate,value,valid_from\nAIMEPAY_FEE,5,2020-01-01\nVAT,10,2019-10-01\nEMONEY_FEE,3\n"),
        ]);
        let said = problems(import_master(&db, dir.path()).await);
        assert!(said.contains(&"rates.csv:3: rate: \"VAT\" is not one of AIMEPAY_FEE, EMONEY_FEE, CONSUMPTION_TAX".to_owned()), "{said:?}");
        assert!(said.contains(&"rates.csv:4: -: has 2 fields, the header has 3".to_owned()), "{said:?}");
        assert!(said.contains(&"titles.csv:1: genre: unknown column".to_owned()), "{said:?}");
    }
}

each_engine! {
    async fn overlapping_keychip_intervals_are_refused(scratch) {
        let db = connect(&scratch).await;
        let keychips = "keychip_id,store_code,title_code,valid_from,valid_to\n\
            A72E01A0001,S2299990001,SH4,2020-01-01,2023-05-15\n\
            A72E01A0001,S2299990011,SH4,2023-05-15,\n";
        let dir = master_with(&[("keychips.csv", keychips)]);
        let said = problems(import_master(&db, dir.path()).await);
        assert_eq!(said.len(), 2, "each row names the other: {said:?}");
        assert!(
            said[0].starts_with("keychips.csv:2: valid_from: A72E01A0001: "),
            "{said:?}"
        );
        assert!(said[0].ends_with("of line 3"), "{said:?}");

        // Moving the cabinet the next day is fine, and a later import may not overlap it.
        let moved = keychips.replace("SH4,2023-05-15,\n", "SH4,2023-05-16,\n");
        std::fs::write(dir.path().join("keychips.csv"), &moved).unwrap();
        import_master(&db, dir.path()).await.unwrap();
        let later = "keychip_id,store_code,title_code,valid_from,valid_to\n\
            A72E01A0001,S2299990011,SH4,2023-06-01,\n";
        std::fs::write(dir.path().join("keychips.csv"), later).unwrap();
        let said = problems(import_master(&db, dir.path()).await);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].ends_with("of the master data"), "{said:?}");
    }
}

each_engine! {
    async fn a_store_needs_its_partner_and_keeps_it(scratch) {
        let db = connect(&scratch).await;
        let stores = "store_code,partner_code,name\nS2299990001,229999000,ゲームセンター〇〇〇〇\nS2299990099,229999999,どこか\n";
        let dir = master_with(&[("stores.csv", stores)]);
        let said = problems(import_master(&db, dir.path()).await);
        assert!(said.contains(&"stores.csv:3: partner_code: partner 229999999 does not exist".to_owned()), "{said:?}");

        import_master(&db, &guide().join("master")).await.unwrap();
        let handed_over = "store_code,partner_code,name\nS2299990001,229999001,ゲームセンター〇〇〇〇\n";
        std::fs::write(dir.path().join("stores.csv"), handed_over).unwrap();
        let said = problems(import_master(&db, dir.path()).await);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("a store's partner never changes"), "{said:?}");
    }
}

each_engine! {
    async fn keychips_and_charges_need_their_store_and_title(scratch) {
        let db = connect(&scratch).await;
        let dir = master_with(&[
            ("keychips.csv", "keychip_id,store_code,title_code,valid_from,valid_to\nA72E01A0001,S0,SH4,2020-01-01,\nA72E01A0002,S2299990001,SH5,2020-01-01,2019-12-31\n"),
            ("charges.csv", "charge_code,title_code,kind,item_name,charge_name,unit_price,tax_rate,valid_from,valid_to\nX,NOPE,BILLING,x,y,1,10,2020-01-01,\n"),
        ]);
        let said = problems(import_master(&db, dir.path()).await);
        assert!(said.contains(&"keychips.csv:2: store_code: store S0 does not exist".to_owned()), "{said:?}");
        assert!(said.iter().any(|p| p.starts_with("keychips.csv:3: valid_to: ")), "{said:?}");
        assert!(said.contains(&"charges.csv:2: title_code: title NOPE does not exist".to_owned()), "{said:?}");
    }
}

each_engine! {
    async fn a_partner_to_notify_needs_an_email(scratch) {
        let db = connect(&scratch).await;
        let partners = PARTNERS.replace(",,false,", ",,true,");
        let dir = master_with(&[("partners.csv", &partners)]);
        let said = problems(import_master(&db, dir.path()).await);
        assert_eq!(
            said,
            ["partners.csv:3: email: an email address is needed when notify is true"]
        );
    }
}

const SLIPS: &str = "slip_no,partner_code,store_code,keychip_id,item_no,item_name,adjusted_month,transfer_date,quantity,unit_price,amount,kind,description\n";

fn slips_file(rows: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    std::fs::write(file.path(), format!("{SLIPS}{rows}")).unwrap();
    file
}

each_engine! {
    async fn adjustment_slips_import_once_and_are_checked(scratch) {
        let db = connect(&scratch).await;
        import_master(&db, &guide().join("master")).await.unwrap();
        let slips = guide().join("adjustments-2023-05.csv");
        assert_eq!(import_adjustments(&db, &slips).await.unwrap().changed(), 1);
        assert_eq!(
            import_adjustments(&db, &slips).await.unwrap().changed(),
            0,
            "same content: a no-op"
        );
        let stored = db.adjustment_slips().await.unwrap();
        assert_eq!(stored[0].item_name.as_str(), "WCCF店舗予選大会1KIT");
        assert_eq!(stored[0].amount.0, 25_000);

        let bad = slips_file(
            "A1,229999000,S2299990011,,IT1,x,2023-05,2023-06-07,2,300,601,PAYMENT,\n\
             A2,229999000,S2299990001,A72E0000000,IT1,x,2023-05,2023-06-07,1,300,300,REFUND,\n\
             A3,229999000,S2299990001,,IT1,x,2023-05,2023-06-07,1,300,300,CREDIT,\n",
        );
        let said = problems(import_adjustments(&db, bad.path()).await);
        let name = bad
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            said.contains(&format!(
                "{name}:2: amount: 601 is not quantity × unit_price = 2 × 300"
            )),
            "{said:?}"
        );
        assert!(
            said.iter()
                .any(|p| p.starts_with(&format!("{name}:3: keychip_id: "))),
            "{said:?}"
        );
        assert!(
            said.iter()
                .any(|p| p.starts_with(&format!("{name}:4: kind: "))),
            "{said:?}"
        );
        assert_eq!(
            db.adjustment_slips().await.unwrap().len(),
            1,
            "nothing applied"
        );

        let moved = slips_file(
            "I620000,229999000,S2299990011,,IT0001,x,2023-05,2023-06-07,1,100,100,BILLING,\n",
        );
        let said = problems(import_adjustments(&db, moved.path()).await);
        assert!(
            said[0].contains("store S2299990011 belongs to partner 229999001, not 229999000"),
            "{said:?}"
        );
    }
}

each_engine! {
    async fn slips_of_a_closed_month_are_refused_and_open_ones_replaced(scratch) {
        let db = connect(&scratch).await;
        import_master(&db, &guide().join("master")).await.unwrap();
        import_adjustments(&db, &guide().join("adjustments-2023-05.csv")).await.unwrap();
        let changed = slips_file("I620000,229999000,S2299990001,,IT0001,WCCF,2023-05,2023-06-07,2,25000,50000,BILLING,\n");
        let report = import_adjustments(&db, changed.path()).await.unwrap();
        assert_eq!(report.tables[0].updated, 1, "replaced while 2023-05 is open");

        sqlx::query("INSERT INTO closes (closing_month, issue_date, committed_at) VALUES ('2023-05', '2023-06-01', 'now')")
            .execute(db.pool())
            .await
            .unwrap();
        assert_eq!(db.last_closed_month().await.unwrap(), Some(Month::parse("2023-05").unwrap()));
        let said = problems(import_adjustments(&db, &guide().join("adjustments-2023-05.csv")).await);
        assert!(said.iter().any(|p| p.contains("2023-05 is closed")), "{said:?}");
        let new = slips_file("I620001,229999000,S2299990001,,IT0001,x,2023-04,2023-06-07,1,1,1,PAYMENT,\n");
        let said = problems(import_adjustments(&db, new.path()).await);
        assert!(said[0].ends_with("adjusted_month: 2023-04 is closed (the last closed month is 2023-05)"), "{said:?}");
        let open = slips_file("I620001,229999000,S2299990001,,IT0001,x,2023-06,2023-07-07,1,1,1,PAYMENT,\n");
        assert_eq!(import_adjustments(&db, open.path()).await.unwrap().changed(), 1);
    }
}

each_engine! {
    async fn the_ledger_records_runs_newest_first(scratch) {
        let db = connect(&scratch).await;
        let first = db.start_run("master import", "data/master", "hand").await.unwrap();
        db.finish_run(first, "succeeded", "partners: 2 inserted", None)
            .await
            .unwrap();
        let second = db
            .start_run("adjustments import", "slips.csv", "hand")
            .await
            .unwrap();
        db.finish_run(second, "invalid", "", Some("1 problem(s)"))
            .await
            .unwrap();
        let runs = db.runs(10).await.unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(
            (runs[0].command.as_str(), runs[0].outcome.as_deref()),
            ("adjustments import", Some("invalid"))
        );
        assert_eq!(runs[1].counts.as_deref(), Some("partners: 2 inserted"));
        assert!(runs[1].finished_at.is_some());
        assert_eq!(db.runs(1).await.unwrap().len(), 1);
    }
}
