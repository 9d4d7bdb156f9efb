//! Benchmark: emails per second from the outbox to a local SMTP server (aiosmtpd, the tests'
//! server, writing every message to a Maildir), each with a payment notice and an invoice
//! attached, as a close of N partners queues them; the drain's time is the time from the
//! close's commit (where the emails are queued) to the last email accepted.
//!
//!     cargo bench --workspace --bench emails -- [PARTNERS]   (default 1000)
//!
//! With `EMAILS_TO_FILES=1` the emails are written as `.eml` files instead: kakin's own work
//! per email (the outbox's claim and outcome, the attachments read from the lake, the MIME
//! message), without the SMTP server's.

use pipeline::db::{Database, NewEmail};
use pipeline::domain::{Month, Parse};
use pipeline::lake::Location;
use pipeline::notify::{send_queued, MailSettings, Transport};
use pipeline::testing::{ScratchDatabase, SmtpServer};
use std::time::Instant;

#[tokio::main]
async fn main() {
    let partners: usize = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .map_or(1000, |a| a.parse().expect("PARTNERS is a number"));
    let scratch = ScratchDatabase::sqlite();
    let db = Database::connect(&scratch.url).await.unwrap();
    let lake_dir = tempfile::tempdir().unwrap();
    let lake = Location::open(&format!("file://{}", lake_dir.path().display())).unwrap();
    // Two documents of the size the close renders (57 KiB each).
    let pdf = vec![b'%'; 57 * 1024];
    let attachments = ["invoice-1700000.pdf", "payment-notice-2026-10.pdf"]
        .map(|name| format!("documents/closing_month=2026-10/P/{name}"));
    for path in &attachments {
        lake.put(path, pdf.clone()).await.unwrap();
    }
    let month = Month::parse("2026-10").unwrap();
    let emails: Vec<NewEmail> = (0..partners)
        .map(|i| NewEmail {
            message_id: format!("<kakin.{i}.2026-10.{}@kakin.example>", 1_700_000 + i),
            month,
            partner_code: format!("{:09}", 229_000_000 + i),
            invoice_no: Some(format!("{}", 1_700_000 + i)),
            recipient: format!("billing{i}@operator.example"),
            subject: "【ALL.Net】請求書発行のお知らせ（2026年10月分）".into(),
            body: "株式会社テスト 御中\n請求書番号: 1700000\n".repeat(10),
            attachments: attachments.to_vec(),
            resend_of: None,
        })
        .collect();
    db.queue(&emails).await.unwrap();
    let server = SmtpServer::start();
    let smtp = match std::env::var("EMAILS_TO_FILES") {
        Ok(_) => Transport::new("", lake_dir.path().join("eml")).unwrap(),
        Err(_) => Transport::new(&server.url(), lake_dir.path().into()).unwrap(),
    };
    let mail = MailSettings::new("billing@kakin.example", "").unwrap();
    let started = Instant::now();
    let report = send_queued(&db, &lake, &smtp, &mail).await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(report.sent as usize, partners, "{report:?}");
    println!("{}", pipeline::testing::machine());
    let to = match std::env::var("EMAILS_TO_FILES") {
        Ok(_) => ".eml files",
        Err(_) => "aiosmtpd on localhost",
    };
    println!(
        "{partners} emails with 2 PDFs of 57 KiB each, SQLite outbox, to {to}: \
         commit to last email accepted {seconds:.2} s, {:.0} emails/s",
        partners as f64 / seconds
    );
    if std::env::var("EMAILS_TO_FILES").is_err() {
        assert_eq!(
            server.messages().len(),
            partners,
            "every email arrived once"
        );
    }
}
