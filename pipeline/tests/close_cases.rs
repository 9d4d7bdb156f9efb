//! The close's rules on a network built for them (September and October 2026): a cabinet
//! moved between partners mid-month, a price change mid-month, an event delivered twice, a
//! late event of a closed month, 5 plays at 32.5 yen, invoice lines whose per-line taxes would
//! not add up to the invoice's, a product named like a spreadsheet formula. Then the dry run,
//! the month to date, void and reissue, and the exports — on SQLite and PostgreSQL.

use arrow_array::RecordBatchReader;
use chrono::NaiveDate;
use pipeline::close::{
    self, close_month, preview_close, refresh, reissue, void_invoice, CloseSettings, Overrides,
};
use pipeline::db::Database;
use pipeline::domain::Yen;
use pipeline::domain::{Month, Parse, PartnerCode};
use pipeline::each_engine;
use pipeline::export::{self, Encoding, ExportRequest, Filter, Issuer, Selection, View};
use pipeline::lake::{Columns, Location};
use pipeline::testing::{files_under, ScratchDatabase};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The embedded default's settings: invoices from 1700000, payment on the 25th.
fn settings() -> CloseSettings {
    CloseSettings::from(&pipeline::config::Settings::default())
}

/// Months without events are closed knowingly.
const ALLOW_EMPTY: Overrides = Overrides {
    allow_empty: true,
    despite_failed_ingest: false,
};

const P1: &str = "100000001";
const P2: &str = "100000002";
const K1: &str = "A72E0000001";

const MASTER: &[(&str, &str)] = &[
    (
        "partners.csv",
        "partner_code,name,registration_number,email,notify,registered_name\n\
         100000001,株式会社いちアミューズ,T4010801006141,,false,\n\
         100000002,株式会社にアミューズ,,,false,\n",
    ),
    (
        "stores.csv",
        "store_code,partner_code,name\n\
         S1,100000001,渋谷店\n\
         S2,100000002,新宿店\n\
         S3,100000001,池袋店\n",
    ),
    ("titles.csv", "title_code,name\nCHUNI,CHUNITHM\nSH4,StarHorse4\n"),
    (
        "keychips.csv",
        "keychip_id,store_code,title_code,valid_from,valid_to\n\
         A72E0000001,S1,CHUNI,2026-01-01,2026-09-15\n\
         A72E0000001,S2,CHUNI,2026-09-16,\n\
         A72E0000002,S1,CHUNI,2026-01-01,\n\
         A72E0000003,S3,SH4,2026-01-01,\n\
         A72E0000004,S1,SH4,2026-01-01,\n",
    ),
    (
        "charges.csv",
        "charge_code,title_code,kind,item_name,charge_name,unit_price,tax_rate,valid_from,valid_to,allnet_class\n\
         CHUNI-NET,CHUNI,BILLING,CHUNITHMシリーズ,年度更新プラン課金,32.5,10,2026-01-01,2026-09-15,P-ras\n\
         CHUNI-NET,CHUNI,BILLING,CHUNITHMシリーズ,年度更新プラン課金,40,10,2026-09-16,,P-ras\n\
         CHUNI-OPT,CHUNI,BILLING,CHUNITHMシリーズ,オプション課金,8.9,10,2026-01-01,,\n\
         SH4-STONE,SH4,COMMISSION,馬蹄石,馬蹄石利用分,0.4,10,2026-01-01,,\n",
    ),
    (
        "products.csv",
        "product_code,title_code,product_name,category,settlement,unit_price,valid_from,valid_to\n\
         SH4-MEDAL5000,SH4,メダル5000円(電子マネー),電子マネー購入分,OPERATOR,5000,2026-01-01,\n\
         SH4-AIME110,SH4,メダル110円(AimePay),AimePay購入分,OPERATOR,110,2026-01-01,\n\
         SH4-STONE500,SH4,\"=HYPERLINK(\"\"x\"\")\",馬蹄石購入分(電子マネー),PLATFORM,500,2026-01-01,\n",
    ),
    (
        "rates.csv",
        "rate,value,valid_from\nAIMEPAY_FEE,5,2020-01-01\nEMONEY_FEE,3,2020-01-01\nCONSUMPTION_TAX,10,2019-10-01\n",
    ),
];

const PLAYS: &str = "event_id,keychip_id,played_at,title_code,charge_code,count\n";
const PURCHASES: &str =
    "transaction_id,keychip_id,purchased_at,title_code,product_code,payment_method,quantity,unit_price\n";

/// The deliveries: (feed/delivery date/file, data lines).
const DELIVERIES: &[(&str, &str)] = &[
    (
        "plays/2026-09-01/a.csv",
        "E1,A72E0000001,2026-09-01T10:00:00+09:00,CHUNI,CHUNI-NET,5\n",
    ),
    (
        "plays/2026-09-05/a.csv",
        "E2,A72E0000003,2026-09-05T10:00:00+09:00,SH4,SH4-STONE,3860\n\
         E3,A72E0000004,2026-09-05T11:00:00+09:00,SH4,SH4-STONE,1000\n",
    ),
    (
        "plays/2026-09-10/a.csv",
        "E4,A72E0000002,2026-09-10T10:00:00+09:00,CHUNI,CHUNI-NET,2\n",
    ),
    // A second collector delivers E4 again, the next day.
    (
        "plays/2026-09-11/b.csv",
        "E4,A72E0000002,2026-09-10T01:00:00Z,CHUNI,CHUNI-NET,2\n\
         E5,A72E0000002,2026-09-11T10:00:00+09:00,CHUNI,CHUNI-OPT,10\n",
    ),
    (
        "plays/2026-09-20/a.csv",
        "E6,A72E0000001,2026-09-20T10:00:00+09:00,CHUNI,CHUNI-NET,3\n\
         E7,A72E0000002,2026-09-20T10:00:00+09:00,CHUNI,CHUNI-NET,4\n",
    ),
    // E8 was played in September and reported in October, after September's close.
    (
        "plays/2026-10-02/a.csv",
        "E8,A72E0000002,2026-09-28T12:00:00+09:00,CHUNI,CHUNI-NET,1\n\
         E9,A72E0000002,2026-10-02T12:00:00+09:00,CHUNI,CHUNI-NET,1\n",
    ),
    (
        "purchases/2026-09-06/a.csv",
        "T1,A72E0000003,2026-09-05T10:00:00+09:00,SH4,SH4-MEDAL5000,EMONEY,1,5000\n\
         T2,A72E0000003,2026-09-05T10:10:00+09:00,SH4,SH4-AIME110,AIMEPAY,1,110\n\
         T3,A72E0000003,2026-09-05T10:20:00+09:00,SH4,SH4-STONE500,EMONEY,2,500\n\
         T4,A72E0000004,2026-09-06T10:00:00+09:00,SH4,SH4-MEDAL5000,AIMEPAY,1,5000\n",
    ),
];

const SLIPS: &str = "slip_no,partner_code,store_code,keychip_id,item_no,item_name,adjusted_month,transfer_date,quantity,unit_price,amount,kind,description\n\
P000001,100000001,S1,,IT0001,キャンペーン協力金,2026-09,2026-10-25,1,1000,1000,PAYMENT,協力金\n";

fn month(text: &str) -> Month {
    Month::parse(text).unwrap()
}

fn day(text: &str) -> NaiveDate {
    pipeline::domain::parse_date(text).unwrap()
}

fn partner(code: &str) -> PartnerCode {
    PartnerCode::parse(code).unwrap()
}

struct Network {
    db: Database,
    lake: Location,
    lake_dir: tempfile::TempDir,
    inputs: tempfile::TempDir,
    _scratch: ScratchDatabase,
}

impl Network {
    /// The master data and slips imported, nothing ingested yet.
    async fn new(scratch: ScratchDatabase) -> Network {
        eprintln!("on {}", scratch.url);
        let inputs = tempfile::tempdir().unwrap();
        for (name, text) in MASTER {
            write(&inputs.path().join("master").join(name), text);
        }
        write(&inputs.path().join("slips.csv"), SLIPS);
        for (path, lines) in DELIVERIES {
            let header = if path.starts_with("plays") {
                PLAYS
            } else {
                PURCHASES
            };
            write(
                &inputs.path().join("incoming").join(path),
                &format!("{header}{lines}"),
            );
        }
        let db = Database::connect(&scratch.url).await.unwrap();
        let lake_dir = tempfile::tempdir().unwrap();
        let lake = Location::open(&format!("file://{}", lake_dir.path().display())).unwrap();
        pipeline::master::import_master(&db, &lake, &inputs.path().join("master"))
            .await
            .unwrap();
        pipeline::master::import_adjustments(&db, &inputs.path().join("slips.csv"))
            .await
            .unwrap();
        Network {
            db,
            lake,
            lake_dir,
            inputs,
            _scratch: scratch,
        }
    }

    async fn ingest(&self, until: &str) {
        let incoming = Location::open(&format!(
            "file://{}",
            self.inputs.path().join("incoming").display()
        ))
        .unwrap();
        pipeline::ingest::ingest(&self.db, &self.lake, &incoming, Some(day(until)), &())
            .await
            .unwrap();
    }

    /// `kakin close 2026-09 --reissue PARTNER`.
    async fn reissue_september(
        &self,
        code: &str,
    ) -> Result<close::ReissueReport, close::CloseError> {
        reissue(
            &self.db,
            &self.lake,
            &settings(),
            month("2026-09"),
            &partner(code),
        )
        .await
    }

    /// The close of `closing` as finance runs it, with no override.
    async fn close(&self, closing: &str) -> Result<close::CloseReport, close::CloseError> {
        let overrides = Overrides::default();
        close_month(&self.db, &self.lake, &settings(), month(closing), overrides).await
    }

    /// September ingested and closed.
    async fn september_closed(scratch: ScratchDatabase) -> Network {
        let network = Network::new(scratch).await;
        network.ingest("2026-09-30").await;
        network.close("2026-09").await.unwrap();
        network
    }

    fn table(&self, path: &str) -> arrow_array::RecordBatch {
        let bytes = std::fs::read(self.lake_dir.path().join(path)).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(bytes),
        )
        .unwrap()
        .build()
        .unwrap();
        let schema = reader.schema();
        let batches: Vec<_> = reader.map(Result::unwrap).collect();
        arrow_select::concat::concat_batches(&schema, &batches).unwrap()
    }

    fn closed(&self, table: &str, month: &str) -> arrow_array::RecordBatch {
        self.table(&format!("{table}/closing_month={month}/part-0.parquet"))
    }

    fn lake_files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        files_under(self.lake_dir.path())
    }

    async fn export_cells(&self, view: View, request: ExportRequest) -> Vec<Vec<export::Cell>> {
        let issuer = Issuer {
            name: "株式会社セガ".into(),
            registration_number: "T4010801006141".into(),
        };
        export::export(&self.db, &self.lake, view, &request, &issuer)
            .await
            .unwrap()
    }

    /// The cells of an export as shown (before neutralising).
    async fn export(&self, view: View, request: ExportRequest) -> Vec<Vec<String>> {
        self.export_cells(view, request)
            .await
            .iter()
            .map(|row| row.iter().map(|c| c.shown().to_owned()).collect())
            .collect()
    }

    /// The export as a file.
    async fn csv(&self, view: View, encoding: Encoding) -> Vec<u8> {
        let rows = self.export_cells(view, ExportRequest::default()).await;
        export::encode(&rows, encoding).unwrap()
    }
}

fn filtered(filters: Vec<Filter>) -> ExportRequest {
    ExportRequest {
        filters,
        ..Default::default()
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The rows of a table as (column values) for the named columns, as text.
/// The rows of a table: the values of `columns` (comma-separated names), as text joined by
/// commas, `null` for none.
fn rows(batch: &arrow_array::RecordBatch, columns: &str) -> Vec<String> {
    use arrow_schema::DataType;
    let table = Columns::new(batch);
    let value = |c: &str, i: usize| match batch.schema().field_with_name(c).unwrap().data_type() {
        DataType::Utf8 => table.text(c, i).map(str::to_owned),
        DataType::Int64 => table.int(c, i).map(|v| v.to_string()),
        DataType::Date32 => table.date(c, i).map(|v| v.to_string()),
        _ => table.decimal(c, i).map(|v| v.to_string()),
    };
    (0..table.len())
        .map(|i| {
            let values: Vec<String> = columns
                .split(',')
                .map(|c| value(c, i).unwrap_or_else(|| "null".into()))
                .collect();
            values.join(",")
        })
        .collect()
}

each_engine! {
    async fn a_month_closes_by_the_rules_and_late_events_go_to_the_next_close(scratch) {
        let network = Network::september_closed(scratch).await;

        // 請求明細: the moved cabinet bills each partner for its own days; the price change
        // makes two rows; E4, delivered twice, is counted once; 5 × 32.5 = 162.5 → 163.
        let billing = network.closed("billing_details", "2026-09");
        let columns = "partner_code,store_code,play_month,keychip_id,charge_code,count,unit_price,amount,invoice_no";
        assert_eq!(
            rows(&billing, columns),
            [
                "100000001,S1,2026-09,A72E0000001,CHUNI-NET,5,32.5,163,1700000",
                "100000001,S1,2026-09,A72E0000002,CHUNI-NET,2,32.5,65,1700000",
                "100000001,S1,2026-09,A72E0000002,CHUNI-NET,4,40,160,1700000",
                "100000001,S1,2026-09,A72E0000002,CHUNI-OPT,10,8.9,89,1700000",
                "100000002,S2,2026-09,A72E0000001,CHUNI-NET,3,40,120,1700001",
            ]
        );
        let daily = network.closed("billing_daily", "2026-09");
        assert_eq!(
            rows(&daily, "keychip_id,play_date,count,amount")[0],
            "A72E0000001,2026-09-01,5,163"
        );

        // 請求書: per rate, once per invoice: 228 + 160 + 89 = 477 → tax truncate(47.7) = 47,
        // where taxing each line would give 22 + 16 + 8 = 46.
        let invoices = network.closed("invoices", "2026-09");
        assert_eq!(
            rows(
                &invoices,
                "invoice_no,partner_code,subtotal,tax,total,status"
            ),
            [
                "1700000,100000001,477,47,524,ISSUED",
                "1700001,100000002,120,12,132,ISSUED"
            ]
        );
        let taxes = network.closed("invoice_taxes", "2026-09");
        assert_eq!(
            rows(&taxes, "invoice_no,tax_rate,subtotal,tax")[0],
            "1700000,10,477,47"
        );

        // 支払合計 of P1: A1 110 + 5,000; B1 5,000; C1 (3,860 + 1,000) × 0.4; D1 the slip.
        let totals = network.closed("payment_totals", "2026-09");
        assert_eq!(
            rows(
                &totals,
                "partner_code,title_code,a1,a2,b1,b2,b3,b4,c1,d1,f3,f4,g1,g2,pay"
            )[0],
            "100000001,null,5110,255,5000,150,15,165,1944,1000,255,23,2944,267,12634"
        );

        // October: E8 (played 09-28, delivered 10-02) is billed now, with its own play month.
        network.ingest("2026-10-31").await;
        let october = close_month(
            &network.db,
            &network.lake,
            &settings(),
            month("2026-10"),
            Overrides::default(),
        )
        .await
        .unwrap();
        assert_eq!(october.invoices.len(), 1);
        assert_eq!(october.invoices[0].invoice_no, "1700002");
        let billing = network.closed("billing_details", "2026-10");
        assert_eq!(
            rows(&billing, "keychip_id,play_month,count,amount"),
            ["A72E0000002,2026-09,1,40", "A72E0000002,2026-10,1,40"]
        );
        let september = network.closed("billing_details", "2026-09");
        assert_eq!(september.num_rows(), 5, "September's close is as it was");
    }
}

each_engine! {
    async fn a_dry_run_changes_nothing_and_a_refresh_gives_the_close_figures(scratch) {
        let network = Network::new(scratch).await;
        network.ingest("2026-09-30").await;

        let reports = refresh(&network.db, &network.lake, &settings(), day("2026-09-30"))
            .await
            .unwrap();
        assert_eq!(reports.len(), 1);
        let provisional_totals =
            network.table("provisional/payment_totals/closing_month=2026-09/part-0.parquet");
        let provisional_billing =
            network.table("provisional/billing_details/closing_month=2026-09/part-0.parquet");

        let provisional = ExportRequest {
            provisional: true,
            ..Default::default()
        };
        let month_to_date = network.export(View::Totals, provisional).await;
        assert!(month_to_date.contains(&vec!["集計対象期間".to_owned(), "2026年09月".to_owned()]));
        let pay = month_to_date
            .iter()
            .find(|r| r[0].starts_with("お支払合計金額"))
            .unwrap();
        assert_eq!(pay[1], "12634");

        let lake_before = network.lake_files();
        let next_before = network.db.next_invoice_number(1_700_000).await.unwrap();
        let batches_before = network.db.committed_batches().await.unwrap();
        let preview = preview_close(&network.db, &network.lake, &settings(), month("2026-09"))
            .await
            .unwrap();
        assert!(network.lake_files() == lake_before, "the lake is as it was");
        assert_eq!(network.db.last_closed_month().await.unwrap(), None);
        assert_eq!(
            network.db.next_invoice_number(1_700_000).await.unwrap(),
            next_before,
            "no number taken"
        );
        assert_eq!(
            network.db.committed_batches().await.unwrap(),
            batches_before
        );

        let closed = network.close("2026-09").await.unwrap();
        assert_eq!(
            preview.invoices, closed.invoices,
            "the same invoices, the same numbers"
        );
        for row in &preview.rows {
            assert_eq!(row.pay, closed.totals.get(&row.partner).map(|t| t.pay));
            assert_eq!(row.previous_pay, None);
        }
        assert_eq!(preview.rows.len(), 2);

        // The month to date after the month's last ingest is the close, numbers aside.
        let totals = network.closed("payment_totals", "2026-09");
        assert_eq!(provisional_totals, totals);
        let figures = "partner_code,keychip_id,count,unit_price,amount";
        assert_eq!(
            rows(&provisional_billing, figures),
            rows(&network.closed("billing_details", "2026-09"), figures)
        );
        assert!(
            !network
                .lake_files()
                .keys()
                .any(|p| p.starts_with("provisional")),
            "the closed month's provisional tables are dropped"
        );

        // October's preview compares with September's close.
        network.ingest("2026-10-31").await;
        let october = preview_close(&network.db, &network.lake, &settings(), month("2026-10"))
            .await
            .unwrap();
        let p1 = october
            .rows
            .iter()
            .find(|r| r.partner.as_str() == P1)
            .unwrap();
        assert_eq!(
            (p1.invoice_total, p1.previous_invoice_total),
            (Some(Yen(88)), Some(Yen(524)))
        );
        assert_eq!(p1.previous_pay, Some(Yen(12_634)));
    }
}

each_engine! {
    async fn a_refresh_reads_only_the_events_committed_since_the_last_one_and_the_close_its_sums(scratch) {
        let network = Network::new(scratch).await;
        let refreshed = || async {
            refresh(&network.db, &network.lake, &settings(), day("2026-09-30"))
                .await
                .unwrap();
            let tables: BTreeMap<PathBuf, Vec<u8>> = network
                .lake_files()
                .into_iter()
                .filter(|(path, _)| path.starts_with("provisional") && !path.starts_with("provisional/daily"))
                .collect();
            assert_eq!(tables.len(), 8, "{:?}", tables.keys());
            tables
        };
        network.ingest("2026-09-10").await;
        refreshed().await;

        // The events the first refresh read are not read again: were they, this would fail.
        let events = |files: BTreeMap<PathBuf, Vec<u8>>| -> BTreeMap<PathBuf, Vec<u8>> {
            files
                .into_iter()
                .filter(|(path, _)| path.starts_with("plays") || path.starts_with("purchases"))
                .collect()
        };
        let read_already = events(network.lake_files());
        assert!(read_already.len() >= 4, "{:?}", read_already.keys());
        for path in read_already.keys() {
            write(&network.lake_dir.path().join(path), "not Parquet");
        }
        network.ingest("2026-09-30").await;
        let new_events = events(network.lake_files()).len() - read_already.len();
        assert!(new_events >= 2, "the second night committed files of its own");
        let incremental = refreshed().await;
        for (path, bytes) in &read_already {
            std::fs::write(network.lake_dir.path().join(path), bytes).unwrap();
        }

        // The same tables as a refresh that sums every file again.
        let sums = network.lake_dir.path().join("provisional/daily");
        assert_eq!(
            files_under(&sums).len(),
            read_already.len() + new_events,
            "one file of sums per event file"
        );
        std::fs::remove_dir_all(&sums).unwrap();
        assert_eq!(refreshed().await, incremental);

        // The close reads the sums too (no event file is read again), gives the month to
        // date's figures and forgets the sums of what it billed.
        for path in events(network.lake_files()).keys() {
            write(&network.lake_dir.path().join(path), "not Parquet");
        }
        network.close("2026-09").await.unwrap();
        let provisional = PathBuf::from("provisional/payment_totals/closing_month=2026-09/part-0.parquet");
        let totals = network.lake_dir.path().join("payment_totals/closing_month=2026-09/part-0.parquet");
        assert_eq!(incremental[&provisional], std::fs::read(totals).unwrap());
        assert_eq!(files_under(&sums).len(), 0);
    }
}

each_engine! {
    async fn a_void_then_a_reissue_replaces_one_partners_invoice_only(scratch) {
        let network = Network::september_closed(scratch).await;
        let before = network.lake_files();
        let p2_rows = |n: &Network| {
            let billing = n.closed("billing_details", "2026-09");
            rows(&billing, "partner_code,keychip_id,amount,invoice_no")
                .into_iter()
                .filter(|r| r.starts_with(P2))
                .collect::<Vec<_>>()
        };
        let p2_before = p2_rows(&network);

        // Refused while the invoice stands.
        let refused = network.reissue_september(P1)
        .await;
        assert!(
            matches!(refused, Err(close::CloseError::Refused(_))),
            "{refused:?}"
        );

        let (_, voided) = void_invoice(&network.db, &network.lake, &settings(), "1700000", "単価誤り")
            .await
            .unwrap();
        assert_eq!(voided.status, pipeline::domain::InvoiceStatus::Void);

        // The price of CHUNI-OPT is corrected (8.9 → 9) before the reissue.
        import(
            &network,
            &[(
                "charges.csv",
                "charge_code,title_code,kind,item_name,charge_name,unit_price,tax_rate,valid_from,valid_to,allnet_class\n\
                 CHUNI-OPT,CHUNI,BILLING,CHUNITHMシリーズ,オプション課金,9,10,2026-01-01,,\n",
            )],
        )
        .await;
        let report = network.reissue_september(P1)
        .await
        .unwrap();
        assert_eq!(report.invoice.invoice_no, "1700002");
        assert_eq!(report.invoice.replaces.as_deref(), Some("1700000"));
        // 228 + 160 + 10 × 9 = 478 → tax 47.
        assert_eq!((report.invoice.subtotal, report.invoice.tax), (478, 47));

        let invoices = network.closed("invoices", "2026-09");
        assert_eq!(
            rows(
                &invoices,
                "invoice_no,partner_code,total,status,replaces,void_reason"
            ),
            [
                "1700000,100000001,524,VOID,null,単価誤り",
                "1700001,100000002,132,ISSUED,null,null",
                "1700002,100000001,525,ISSUED,1700000,null",
            ]
        );
        let billing = network.closed("billing_details", "2026-09");
        let p1: Vec<_> = rows(&billing, "partner_code,charge_code,amount,invoice_no")
            .into_iter()
            .filter(|r| r.starts_with(P1))
            .collect();
        assert!(p1.iter().all(|r| r.ends_with(",1700002")), "{p1:?}");
        assert!(p1.contains(&"100000001,CHUNI-OPT,90,1700002".to_owned()));
        assert_eq!(
            p2_rows(&network),
            p2_before,
            "the other partner is untouched"
        );
        let unchanged = |name: &str| {
            let path = PathBuf::from(format!("{name}/closing_month=2026-09/part-0.parquet"));
            before[&path] == network.lake_files()[&path]
        };
        assert!(
            unchanged("payment_details"),
            "P1's payments re-price to the same bytes"
        );

        // A second reissue changes nothing.
        let after = network.lake_files();
        let again = network.reissue_september(P1)
        .await
        .unwrap();
        assert!(again.already_reissued);
        assert!(network.lake_files() == after);
        let recorded = network.db.invoices_of(month("2026-09")).await.unwrap();
        assert_eq!(recorded.len(), 3);

        // The documents: the issued invoice untouched, a void notice beside it, and the
        // reissue's own invoice and payment notice saying what they replace.
        let document = |name: &str| {
            let path = format!("documents/closing_month=2026-09/{P1}/{name}");
            network.lake_files().get(&PathBuf::from(&path)).cloned()
        };
        let squeezed = |pdf: Vec<u8>| -> String {
            let text = pipeline::testing::pdf_text(&pdf);
            text.chars().filter(|c| !c.is_whitespace()).collect()
        };
        let issued = PathBuf::from(format!("documents/closing_month=2026-09/{P1}/invoice-1700000.pdf"));
        assert_eq!(document("invoice-1700000.pdf"), before.get(&issued).cloned());
        let void = squeezed(document("invoice-1700000-void.pdf").expect("a void notice"));
        assert!(void.contains("無効") && void.contains("単価誤り") && void.contains("¥524"), "{void}");
        let reissued = squeezed(document("invoice-1700002.pdf").expect("the reissue's invoice"));
        assert!(reissued.contains("請求書番号1700000の再発行") && reissued.contains("¥525"), "{reissued}");
        let notice = squeezed(document("payment-notice-2026-09-1700002.pdf").expect("its notice"));
        assert!(notice.contains("請求書番号1700000の再発行"), "{notice}");
        assert!(document("payment-notice-2026-09.pdf").is_some(), "the first notice stays");
        let verified = close::verify(&network.db, &network.lake).await.unwrap();
        assert!(verified.problems.is_empty(), "{:?}", verified.problems);
        let mut kinds: Vec<String> = network.db.documents().await.unwrap().iter()
            .filter(|d| d.partner_code == P1 && d.kind != pipeline::domain::DocumentKind::Adjustments)
            .map(|d| format!("{} {}", d.kind, d.invoice_no.as_deref().unwrap_or("-")))
            .collect();
        kinds.sort();
        assert_eq!(kinds, [
            "invoice 1700000", "invoice 1700002", "payment_notice 1700000",
            "payment_notice 1700002", "void_notice 1700000",
        ]);
    }
}

each_engine! {
    async fn exports_follow_the_guide(scratch) {
        let network = Network::september_closed(scratch).await;
        let all = ExportRequest::default();

        let billing = network.export(View::Billing, all.clone()).await;
        assert_eq!(
            billing[0].join(","),
            "請求書発行月,取引先コード,取引先名,店舗名,プレイ年月,個体識別番号,ALL.Net区分,品名,課金名,回数,単価,金額"
        );
        assert_eq!(
            billing[1],
            [
                "2026年10月",
                P1,
                "株式会社いちアミューズ",
                "渋谷店",
                "2026年09月",
                K1,
                "P-ras",
                "CHUNITHMシリーズ",
                "年度更新プラン課金",
                "5",
                "32.5",
                "163"
            ]
        );
        assert_eq!(billing[4][6], "-", "no ALL.Net区分 is shown as -");

        // The daily view lists every day of the play month, days without plays as 0.
        let daily = network.export(View::BillingDaily, all.clone()).await;
        assert_eq!(
            daily[0].join(","),
            "取引先コード,取引先名,店舗名,プレイ年月,日時,個体識別番号,品名,課金名,回数,単価,金額"
        );
        let k1: Vec<_> = daily
            .iter()
            .filter(|r| r[5] == K1 && r[2] == "渋谷店")
            .collect();
        assert_eq!(k1.len(), 30);
        assert_eq!(
            k1[0][4..],
            [
                "2026年09月01日",
                K1,
                "CHUNITHMシリーズ",
                "年度更新プラン課金",
                "5",
                "32.5",
                "163"
            ]
        );
        assert_eq!(k1[1][8..], ["0", "32.5", "0"]);

        let payments = network.export(View::Payments, all.clone()).await;
        assert_eq!(
            payments[0].join(","),
            "取引先コード,取引先名,店舗名,プレイ年月,個体識別番号,タイトル名,商品名,区分,回数,単価,金額,返金単価,返金金額"
        );
        let payments_daily = network.export(View::PaymentsDaily, all.clone()).await;
        assert_eq!(
            payments_daily[0].join(","),
            "取引先コード,取引先名,店舗名,プレイ年月,日時,個体識別番号,タイトル名,商品名,区分,回数,単価,金額,返金単価,返金金額"
        );
        let stone_days: Vec<_> = payments_daily
            .iter()
            .filter(|r| r[5] == "A72E0000003" && r[7] == "馬蹄石")
            .collect();
        assert_eq!(stone_days.len(), 30);
        assert_eq!(
            stone_days[4][4..],
            [
                "2026年09月05日",
                "A72E0000003",
                "StarHorse4",
                "馬蹄石",
                "馬蹄石利用分",
                "3860",
                "-",
                "-",
                "0.4",
                "1544"
            ]
        );
        assert_eq!(stone_days[5][9..], ["0", "-", "-", "0.4", "0"]);
        let reference = network.export(View::Reference, all.clone()).await;
        assert_eq!(
            reference[0].join(","),
            "取引先コード,取引先名,店舗名,プレイ年月,個体識別番号,タイトル名,商品名,区分,回数,単価,金額"
        );
        assert_eq!(reference[1][8..], ["2", "500", "1000"]);
        let reference_daily = network.export(View::ReferenceDaily, all.clone()).await;
        assert_eq!(
            reference_daily[0].join(","),
            "取引先コード,取引先名,店舗名,プレイ年月,日時,個体識別番号,タイトル名,商品名,区分,回数,単価,金額"
        );
        assert_eq!(
            reference_daily.len(),
            1 + 30,
            "one platform product, every day of September"
        );
        let stones = payments
            .iter()
            .find(|r| r[6] == "馬蹄石" && r[4] == "A72E0000003")
            .unwrap();
        assert_eq!(stones[8..], ["3860", "-", "-", "0.4", "1544"]);
        let medal = payments
            .iter()
            .find(|r| r[6] == "メダル5000円(電子マネー)" && r[4] == "A72E0000003")
            .unwrap();
        assert_eq!(medal[8..], ["1", "5000", "5000", "4850", "4850"]);
        let aime = payments
            .iter()
            .find(|r| r[6] == "メダル110円(AimePay)")
            .unwrap();
        assert_eq!(aime[8..], ["1", "110", "110", "104.5", "105"]);

        // Partial match, as the site's search form.
        let shibuya = network
            .export(
                View::Billing,
                filtered(vec![Filter::contains("店舗名=渋谷").unwrap()]),
            )
            .await;
        assert_eq!(shibuya.len(), 1 + 4);
        assert!(shibuya[1..].iter().all(|r| r[3] == "渋谷店"));
        let choices = vec![
            Filter::equals("ALL.Net区分=P-ras").unwrap(),
            Filter::range("金額=100..").unwrap(),
        ];
        let pras = network.export(View::Billing, filtered(choices)).await;
        assert_eq!(pras.len(), 1 + 3, "{pras:?}");

        // The product named like a formula comes out harmless.
        let csv = String::from_utf8(network.csv(View::Reference, Encoding::Utf8).await).unwrap();
        assert!(csv.starts_with('\u{feff}'));
        assert!(csv.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{csv}");
        assert!(!csv.contains(",\"=HYPERLINK"));

        // CP932 round-trips.
        let utf8 = network.csv(View::Billing, Encoding::Utf8).await;
        let cp932 = network.csv(View::Billing, Encoding::Cp932).await;
        let (decoded, _, bad) = encoding_rs::SHIFT_JIS.decode(&cp932);
        assert!(!bad);
        assert_eq!(decoded.as_bytes(), &utf8[3..]);

        // 支払合計 for 池袋店 and StarHorse4, by hand from that selection's details (K3 only):
        // A1 110, A2 truncate(5.5) = 5, B1 5,000, B2 150, B3 15, B4 165, C1 3,860 × 0.4 = 1,544,
        // D1 0 (the slip is 渋谷店's), F3 5, F4 truncate(5 × 10 / 110) = 0,
        // G1 1,544, G2 truncate(1,544 × 10 / 110) = 140, PAY 110 + 5,000 − 165 − 5 + 1,544.
        let selected = network
            .export(
                View::Totals,
                ExportRequest {
                    selection: Selection {
                        store: Some("S3".into()),
                        title: Some("StarHorse4".into()),
                    },
                    ..Default::default()
                },
            )
            .await;
        let figures: Vec<i64> = selected
            .iter()
            .filter(|r| r.len() == 3 && r[0] != "項目")
            .map(|r| r[1].parse().unwrap())
            .collect();
        assert_eq!(
            figures,
            [110, 5, 5_000, 150, 15, 165, 1_544, 0, 0, 5, 0, 5, 0, 1_544, 140, 6_484]
        );
        assert!(selected.contains(&vec!["取引先コード".to_owned(), P1.to_owned()]));
        assert!(selected.contains(&vec!["店舗名".to_owned(), "池袋店".to_owned()]));
        assert!(selected.contains(&vec!["登録番号".to_owned(), "T4010801006141".to_owned()]));

        // Without a selection, the export is the close's own statement.
        let whole = network.export(View::Totals, all.clone()).await;
        let pay: Vec<&Vec<String>> = whole
            .iter()
            .filter(|r| r[0].starts_with("お支払合計金額"))
            .collect();
        assert_eq!(pay[0][1], "12634");
        let adjustments = network
            .export(
                View::Adjustments,
                ExportRequest {
                    slip_kinds: export::SlipKinds::All,
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(
            adjustments[1],
            [
                "2026年10月",
                P1,
                "株式会社いちアミューズ",
                "渋谷店",
                "P000001",
                "IT0001",
                "キャンペーン協力金",
                "-",
                "2026年09月",
                "2026/10/25",
                "1",
                "1000",
                "1000",
                "協力金"
            ]
        );
        let invoices = network.export(View::Invoices, all.clone()).await;
        assert_eq!(
            invoices.iter().map(|r| r.join(",")).collect::<Vec<_>>(),
            [
                "請求書発行月,取引先名,取引先コード,請求書番号,ファイル",
                "2026年10月,株式会社いちアミューズ,100000001,1700000,documents/closing_month=2026-09/100000001/invoice-1700000.pdf",
                "2026年10月,株式会社にアミューズ,100000002,1700001,documents/closing_month=2026-09/100000002/invoice-1700001.pdf",
            ]
        );
        let billing_slips = network.export(View::Adjustments, all.clone()).await;
        assert_eq!(billing_slips.len(), 1, "no BILLING slip: the header alone");

        // Like the site, the latest 12 closed months unless --all: after twelve more closes,
        // September's invoices drop out of the default export.
        network.ingest("2026-10-31").await;
        let mut closing = month("2026-10");
        for _ in 0..12 {
            close_month(&network.db, &network.lake, &settings(), closing, ALLOW_EMPTY)
                .await
                .unwrap();
            closing = closing.next();
        }
        let numbers = |rows: Vec<Vec<String>>| -> Vec<String> {
            rows[1..].iter().map(|r| r[3].clone()).collect()
        };
        let latest = network.export(View::Invoices, all.clone()).await;
        assert_eq!(numbers(latest), ["1700002"]);
        let every = ExportRequest {
            all_months: true,
            ..Default::default()
        };
        let every = network.export(View::Invoices, every).await;
        assert_eq!(numbers(every), ["1700000", "1700001", "1700002"]);
    }
}

/// Import master data files (name, text) on top of what the network has.
async fn import(network: &Network, files: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        write(&dir.path().join(name), text);
    }
    pipeline::master::import_master(&network.db, &network.lake, dir.path())
        .await
        .unwrap();
}

each_engine! {
    async fn a_row_retried_night_after_night_and_accepted_after_a_close_is_billed_by_the_next(scratch) {
        let network = Network::new(scratch).await;
        // A cabinet that is not in the master data yet plays on 09-10.
        write(
            &network
                .inputs
                .path()
                .join("incoming/plays/2026-09-10/new.csv"),
            &format!("{PLAYS}E50,A72E0000009,2026-09-10T10:00:00+09:00,CHUNI,CHUNI-OPT,3\n"),
        );
        // Every night up to the close retries the same open row (the same retry, committed
        // with nothing accepted), then September closes.
        for night in ["2026-09-10", "2026-09-11", "2026-09-20", "2026-09-30"] {
            network.ingest(night).await;
        }
        network.close("2026-09").await.unwrap();
        network.ingest("2026-10-01").await;
        // On 10-05 the key-chip is imported; that night's retry accepts the row.
        import(
            &network,
            &[(
                "keychips.csv",
                "keychip_id,store_code,title_code,valid_from,valid_to\nA72E0000009,S1,CHUNI,2026-01-01,\n",
            )],
        )
        .await;
        network.ingest("2026-10-05").await;
        network.ingest("2026-10-31").await;
        network.close("2026-10").await.unwrap();

        let columns = "play_month,keychip_id,charge_code,count,amount";
        let billed_in = |closing: &str| -> Vec<String> {
            rows(&network.closed("billing_details", closing), columns)
                .into_iter()
                .filter(|r| r.contains("A72E0000009"))
                .collect()
        };
        assert!(
            billed_in("2026-09").is_empty(),
            "not known at September's close"
        );
        // A committed batch is never turned back to pending (its files would be removed).
        let committed = network.db.committed_batches().await.unwrap().remove(0);
        assert!(network.db.begin_batch(&committed.batch, &[]).await.is_err());
        assert!(network.db.pending_batches().await.unwrap().is_empty());
        assert_eq!(
            billed_in("2026-10"),
            ["2026-09,A72E0000009,CHUNI-OPT,3,27"],
            "billed by the next close, with its own play month"
        );
    }
}

each_engine! {
    async fn a_closed_months_totals_come_from_what_its_close_recorded(scratch) {
        let network = Network::september_closed(scratch).await;
        let totals = || network.export(View::Totals, ExportRequest::default());
        let before = totals().await;
        let recorded = rows(
            &network.closed("payment_totals", "2026-09"),
            "partner_code,title_code,aimepay_fee,emoney_fee,consumption_tax",
        );
        assert_eq!(
            recorded[0], "100000001,null,5,3,10",
            "the close records its rates"
        );
        // Later, new rates in force from a day of the closed month are imported.
        import(
            &network,
            &[(
                "rates.csv",
                "rate,value,valid_from\nEMONEY_FEE,10,2026-09-01\nAIMEPAY_FEE,7,2026-09-01\n",
            )],
        )
        .await;
        let after = totals().await;
        assert_eq!(
            after, before,
            "a closed month is not re-derived with today's rates"
        );
        let pay = after
            .iter()
            .find(|r| r[0].starts_with("お支払合計金額"))
            .unwrap();
        assert_eq!(pay[1], "12634", "{pay:?}");
        // Only a reissue re-prices: with the new fees, P1's statement changes.
        void_invoice(&network.db, &network.lake, &settings(), "1700000", "料率改定")
            .await
            .unwrap();
        let reissued = network.reissue_september(P1)
        .await
        .unwrap();
        assert_eq!(
            reissued.totals.unwrap().pay,
            Yen(12147),
            "A2 357, B4 550 at the new fees"
        );
    }
}

each_engine! {
    async fn a_close_refuses_an_empty_month_and_one_after_a_failed_ingest_unless_told(scratch) {
        let network = Network::new(scratch).await;
        let september = month("2026-09");
        let refused = network.close("2026-09").await.unwrap_err();
        assert!(
            matches!(&refused, close::CloseError::Unsafe(why) if why.contains("no accepted event")),
            "{refused}"
        );
        network.ingest("2026-09-30").await;
        // The night's ingest failed (one unreadable object stopped it).
        let run = network.db.start_run("ingest", "", "hand").await.unwrap();
        network
            .db
            .finish_run(
                run,
                "failed",
                "",
                Some("plays/2026-09-30/x.csv.gz: unreadable"),
            )
            .await
            .unwrap();
        let refused = network.close("2026-09").await.unwrap_err();
        assert!(
            matches!(&refused, close::CloseError::Unsafe(why) if why.contains("last ingest run")),
            "{refused}"
        );
        let preview = preview_close(&network.db, &network.lake, &settings(), september)
            .await
            .unwrap();
        assert_eq!(preview.hazards.len(), 1, "the dry run warns alike");
        assert_eq!(
            network.db.next_invoice_number(1_700_000).await.unwrap(),
            1_700_000,
            "a refused close takes no number"
        );
        assert!(network.db.last_closed_month().await.unwrap().is_none());
        let despite = Overrides {
            despite_failed_ingest: true,
            ..Default::default()
        };
        let closed = close_month(&network.db, &network.lake, &settings(), september, despite)
            .await
            .unwrap();
        assert_eq!(closed.invoices.len(), 2);
    }
}
