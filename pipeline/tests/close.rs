//! The close on the guide's own statement (`data/guide-statement`): imported, ingested and
//! closed, it gives every figure of `expected.json` — on SQLite and PostgreSQL.

use arrow_array::{Array, Decimal128Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pipeline::close::{self, close_month, CloseError, CloseSettings, Overrides};
use pipeline::db::Database;
use pipeline::domain::{Month, Parse};
use pipeline::each_engine;
use pipeline::lake::Location;
use pipeline::testing::{files_under, ScratchDatabase};
use rust_decimal::Decimal;
use serde_json::Value;

use pipeline::testing::guide_statement as guide;

/// The embedded default's settings: invoices from 1700000, payment on the 25th.
fn settings() -> CloseSettings {
    CloseSettings::from(&pipeline::config::Settings::default())
}

fn may() -> Month {
    Month::parse("2023-05").unwrap()
}

struct Closed {
    db: Database,
    lake: Location,
    lake_dir: tempfile::TempDir,
    _scratch: ScratchDatabase,
}

impl Closed {
    /// The close of `month` as finance runs it, with no override.
    async fn close(&self, month: Month) -> Result<close::CloseReport, CloseError> {
        close_month(
            &self.db,
            &self.lake,
            &settings(),
            month,
            Overrides::default(),
        )
        .await
    }

    /// The guide's statement imported and ingested (not yet closed).
    async fn ingested(scratch: ScratchDatabase) -> Closed {
        eprintln!("on {}", scratch.url);
        let db = Database::connect(&scratch.url).await.unwrap();
        let lake_dir = tempfile::tempdir().unwrap();
        let lake = Location::open(&format!("file://{}", lake_dir.path().display())).unwrap();
        let incoming =
            Location::open(&format!("file://{}", guide().join("incoming").display())).unwrap();
        pipeline::master::import_master(&db, &lake, &guide().join("master"))
            .await
            .unwrap();
        pipeline::master::import_adjustments(&db, &guide().join("adjustments-2023-05.csv"))
            .await
            .unwrap();
        pipeline::ingest::ingest(&db, &lake, &incoming, None, &())
            .await
            .unwrap();
        Closed {
            db,
            lake,
            lake_dir,
            _scratch: scratch,
        }
    }

    fn table(&self, name: &str) -> Vec<RecordBatch> {
        files_under(&self.lake_dir.path().join(name))
            .into_values()
            .flat_map(|bytes| {
                ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
                    .unwrap()
                    .build()
                    .unwrap()
                    .map(Result::unwrap)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

fn text(batch: &RecordBatch, column: &str, row: usize) -> Option<String> {
    let array: &StringArray = batch
        .column_by_name(column)
        .unwrap()
        .as_any()
        .downcast_ref()
        .unwrap();
    array.is_valid(row).then(|| array.value(row).to_owned())
}

fn int(batch: &RecordBatch, column: &str, row: usize) -> Option<i64> {
    let array: &Int64Array = batch
        .column_by_name(column)
        .unwrap()
        .as_any()
        .downcast_ref()
        .unwrap();
    array.is_valid(row).then(|| array.value(row))
}

fn decimal(batch: &RecordBatch, column: &str, row: usize) -> Decimal {
    let array: &Decimal128Array = batch
        .column_by_name(column)
        .unwrap()
        .as_any()
        .downcast_ref()
        .unwrap();
    Decimal::from_i128_with_scale(array.value(row), array.scale() as u32)
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(guide().join("expected.json")).unwrap()).unwrap()
}

each_engine! {
    async fn the_guides_statement_closes_to_every_figure_of_expected_json(scratch) {
        let expected = expected();
        let closed = Closed::ingested(scratch).await;
        let report = closed.close(may())
        .await
        .unwrap();
        assert!(!report.already_closed);

        // 支払合計: every item of both partners, all titles.
        let totals = closed.table("payment_totals");
        let mut seen = 0;
        for batch in &totals {
            for row in 0..batch.num_rows() {
                if text(batch, "title_code", row).is_some() {
                    continue;
                }
                let partner = text(batch, "partner_code", row).unwrap();
                let want = &expected["payment_totals"][&partner];
                for (item, value) in want.as_object().unwrap() {
                    assert_eq!(int(batch, item, row), value.as_i64(), "{partner} {item}");
                }
                seen += 1;
            }
        }
        assert_eq!(seen, 2, "one all-titles statement per partner");
        assert_eq!(
            report.totals[&pipeline::domain::PartnerCode::parse("229999000").unwrap()].pay,
            pipeline::domain::Yen(83_188)
        );

        // 支払明細: every line of the guide, refunds rounded half-up.
        let payments = closed.table("payment_details");
        let mut lines = Vec::new();
        for batch in &payments {
            for row in 0..batch.num_rows() {
                lines.push((
                    text(batch, "keychip_id", row).unwrap(),
                    text(batch, "product_name", row).unwrap(),
                    text(batch, "payment_method", row),
                    int(batch, "count", row).unwrap(),
                    decimal(batch, "refund_unit_price", row).normalize(),
                    int(batch, "refund_amount", row).unwrap(),
                ));
            }
        }
        let want: Vec<_> = expected["payment_details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["keychip_id"].as_str().unwrap().to_owned(),
                    l["product_name"].as_str().unwrap().to_owned(),
                    l["payment_method"].as_str().map(str::to_owned),
                    l["count"].as_i64().unwrap(),
                    l["refund_unit_price"]
                        .as_str()
                        .unwrap()
                        .parse::<Decimal>()
                        .unwrap()
                        .normalize(),
                    l["refund_amount"].as_i64().unwrap(),
                )
            })
            .collect();
        for line in &want {
            assert!(lines.contains(line), "missing payment detail {line:?}");
        }
        assert_eq!(lines.len(), want.len());

        // 請求書: one invoice, 34,220 + 3,422; none for the partner with nothing billed.
        let invoices = closed.table("invoices");
        assert_eq!(invoices.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
        let invoice = &expected["invoices"][0];
        assert_eq!(
            text(&invoices[0], "invoice_no", 0).as_deref(),
            invoice["invoice_no"].as_str()
        );
        assert_eq!(
            text(&invoices[0], "partner_code", 0).as_deref(),
            invoice["partner_code"].as_str()
        );
        for item in ["subtotal", "tax", "total"] {
            assert_eq!(int(&invoices[0], item, 0), invoice[item].as_i64(), "{item}");
        }
        assert_eq!(report.invoices.len(), 1);
        let billing = closed.table("billing_details");
        assert_eq!(int(&billing[0], "count", 0), Some(461));
        assert_eq!(int(&billing[0], "amount", 0), Some(9_220));
        assert_eq!(
            text(&billing[0], "invoice_no", 0).as_deref(),
            Some("1700000")
        );
        let adjustments = closed.table("adjustments");
        assert_eq!(
            text(&adjustments[0], "invoice_no", 0).as_deref(),
            Some("1700000")
        );

        // 参考情報.
        let reference = closed.table("reference_info");
        let rows: Vec<(String, i64, i64)> = reference
            .iter()
            .flat_map(|b| {
                (0..b.num_rows()).map(move |r| {
                    (
                        text(b, "product_name", r).unwrap(),
                        int(b, "count", r).unwrap(),
                        int(b, "amount", r).unwrap(),
                    )
                })
            })
            .collect();
        assert!(
            rows.contains(&("馬蹄石500個(電子マネー)".to_owned(), 4, 2_000)),
            "{rows:?}"
        );
    }
}

each_engine! {
    async fn closes_run_in_sequence_and_a_closed_month_changes_nothing(scratch) {
        let closed = Closed::ingested(scratch).await;
        let first = closed.close(may())
        .await
        .unwrap();
        let lake = files_under(closed.lake_dir.path());
        let again = closed.close(may())
        .await
        .unwrap();
        assert!(again.already_closed);
        assert_eq!(again.invoices, first.invoices);
        assert!(
            files_under(closed.lake_dir.path()) == lake,
            "nothing changed"
        );
        let july = Month::parse("2023-07").unwrap();
        match closed.close(july)
        .await
        {
            Err(CloseError::OutOfSequence { expected, .. }) => {
                assert_eq!(expected.to_string(), "2023-06")
            }
            other => panic!("expected a refusal naming 2023-06, got {other:?}"),
        }
        let june = close_month(
            &closed.db,
            &closed.lake,
            &settings(),
            Month::parse("2023-06").unwrap(),
            // June has no event: finance closes it knowingly.
            Overrides {
                allow_empty: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(
            june.invoices.is_empty(),
            "nothing new to bill in June: May's events were billed once"
        );
        let slips = guide().join("adjustments-2023-05.csv");
        assert!(
            pipeline::master::import_adjustments(&closed.db, &slips)
                .await
                .is_ok(),
            "the same slip again is a no-op"
        );
    }
}

#[tokio::test]
async fn the_same_inputs_close_to_byte_identical_tables() {
    let mut lakes = Vec::new();
    for (engine, scratch) in ScratchDatabase::each().await.into_iter().enumerate() {
        let closed = Closed::ingested(scratch).await;
        if engine == 1 {
            // Batches as committed before they recorded their lake files: the close finds
            // their files by listing the event tables, and bills the same events.
            let pool = sqlx::AnyPool::connect(&closed._scratch.url).await.unwrap();
            let forgotten = sqlx::query("UPDATE ingest_batches SET lake_files = NULL")
                .execute(&pool)
                .await
                .unwrap();
            assert!(forgotten.rows_affected() > 0);
        }
        closed.close(may()).await.unwrap();
        let closes: Vec<_> = files_under(closed.lake_dir.path())
            .into_iter()
            .filter(|(p, _)| p.to_string_lossy().contains("closing_month="))
            .collect();
        let pdfs = closes
            .iter()
            .filter(|(p, _)| p.starts_with("documents"))
            .count();
        assert_eq!(
            (closes.len() - pdfs, pdfs),
            (10, 4),
            "10 tables and 4 documents"
        );
        lakes.push(closes);
    }
    assert!(
        lakes[0] == lakes[1],
        "the same tables and the same PDFs, byte for byte"
    );
}

/// The documents of a close, by path under `documents/`, with their text as pdftotext reads
/// it (whitespace removed: layout spacing is the renderer's business, not the figures').
fn documents_of(closed: &Closed) -> std::collections::BTreeMap<String, (Vec<u8>, String)> {
    files_under(&closed.lake_dir.path().join("documents"))
        .into_iter()
        .map(|(path, pdf)| {
            let text: String = pipeline::testing::pdf_text(&pdf)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            (path.to_string_lossy().into_owned(), (pdf, text))
        })
        .collect()
}

fn shows(text: &str, figures: &[&str]) {
    for figure in figures {
        assert!(text.contains(figure), "{figure:?} not in {text}");
    }
}

each_engine! {
    async fn the_guides_close_issues_its_invoice_adjustments_and_payment_notices_as_pdfs(scratch) {
        let closed = Closed::ingested(scratch).await;
        closed.close(may()).await.unwrap();
        let documents = documents_of(&closed);
        let names: Vec<&str> = documents.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "closing_month=2023-05/229999000/adjustments-1700000.pdf",
                "closing_month=2023-05/229999000/invoice-1700000.pdf",
                "closing_month=2023-05/229999000/payment-notice-2023-05.pdf",
                "closing_month=2023-05/229999001/payment-notice-2023-05.pdf",
            ],
            "no invoice for the partner with nothing billed"
        );
        let read = |name: &str| &documents[&format!("closing_month=2023-05/{name}")].1;

        // The qualified invoice: issuer, partner, date, period, each line, tax once per rate.
        shows(read("229999000/invoice-1700000.pdf"), &[
            "適格請求書", "1700000", "株式会社セガ", "T4010801006141", "株式会社セガアミューズメント",
            "T9234567890123", "2023年06月01日", "2023年05月01日〜2023年05月31日",
            "年度更新プラン課金", "2023年05月", "461", "20", "9,220",
            "WCCF店舗予選大会1KIT", "25,000", "10%対象¥34,220¥3,422", "¥37,642",
        ]);
        // The adjustment statement: every field of the slip.
        shows(read("229999000/adjustments-1700000.pdf"), &[
            "調整明細書", "I620000", "IT0001", "WCCF店舗予選大会1KIT", "2023年05月",
            "2023年06月07日", "25,000", "2023年06月",
        ]);
        // The payment notice: the guide's 6-10 to 6-12, with its three parts marked.
        shows(read("229999000/payment-notice-2023-05.pdf"), &[
            "支払通知書", "12,100", "605", "51,000", "1,530", "153", "1,683", "22,376",
            "2,034", "83,188", "2023年06月25日", "TOPPANエッジ・ペイメント株式会社",
            "T3010401096996", "①", "②", "③", "AimePay決済金額(A1)×5%",
        ]);
        shows(read("229999001/payment-notice-2023-05.pdf"), &["株式会社テストアミューズ", "2,473"]);

        // Each is recorded with its SHA-256, and the invoices table names the invoice's.
        let records = closed.db.documents().await.unwrap();
        assert_eq!(records.len(), 4);
        for record in &records {
            let (pdf, _) = &documents[record.path.strip_prefix("documents/").unwrap()];
            assert_eq!(record.sha256, pipeline::testing::sha256(pdf), "{}", record.path);
        }
        let invoices = closed.table("invoices");
        let path = "documents/closing_month=2023-05/229999000/invoice-1700000.pdf";
        assert_eq!(text(&invoices[0], "document", 0).as_deref(), Some(path));
        let sha = records.iter().find(|r| r.path == path).unwrap().sha256.clone();
        assert_eq!(text(&invoices[0], "document_sha256", 0), Some(sha));

        // kakin verify: all well, then a changed and a missing document are named.
        let verified = close::verify(&closed.db, &closed.lake).await.unwrap();
        assert_eq!((verified.checked, verified.problems.len()), (4, 0));
        let notice = closed.lake_dir.path().join(
            "documents/closing_month=2023-05/229999001/payment-notice-2023-05.pdf",
        );
        let mut bytes = std::fs::read(&notice).unwrap();
        bytes.push(b'\n');
        std::fs::write(&notice, bytes).unwrap();
        std::fs::remove_file(closed.lake_dir.path().join(path)).unwrap();
        let verified = close::verify(&closed.db, &closed.lake).await.unwrap();
        assert_eq!(verified.problems.len(), 2, "{:?}", verified.problems);
        assert!(verified.problems[0].ends_with("invoice-1700000.pdf: missing"));
        assert!(verified.problems[1].contains("payment-notice-2023-05.pdf: SHA-256"));
    }
}
