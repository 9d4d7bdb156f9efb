//! The sender against a real SMTP server (aiosmtpd): what it delivers, what it refuses at the
//! edge, and how it retries — on SQLite and PostgreSQL.

use pipeline::db::{now_ms, Database, NewEmail};
use pipeline::domain::EmailStatus;
use pipeline::domain::{Month, Parse};
use pipeline::each_engine;
use pipeline::lake::Location;
use pipeline::notify::{send_queued, MailSettings, Transport, MAX_ATTEMPTS};
use pipeline::testing::{sha256, SmtpServer};

const PDF: &str = "documents/closing_month=2026-10/229000000/invoice-1700000.pdf";

fn email(n: u32, recipient: &str) -> NewEmail {
    NewEmail {
        message_id: format!("<kakin.test.{n}@kakin.example>"),
        month: Month::parse("2026-10").unwrap(),
        partner_code: "229000000".into(),
        invoice_no: Some("1700000".into()),
        recipient: recipient.into(),
        subject: "【ALL.Net】請求書発行のお知らせ（2026年10月分）".into(),
        body: "株式会社テスト 御中\n請求書番号: 1700000\n".into(),
        attachments: vec![PDF.into()],
        resend_of: None,
    }
}

fn mail() -> MailSettings {
    MailSettings::new("billing@kakin.example", "support@kakin.example").unwrap()
}

async fn status_of(db: &Database, message_id: &str) -> (EmailStatus, i64, Option<String>) {
    let outbox = db.outbox().await.unwrap();
    let e = outbox
        .iter()
        .find(|e| e.email.message_id == message_id)
        .unwrap();
    (e.status, e.attempts, e.last_reply.clone())
}

each_engine! {
    async fn the_sender_delivers_each_email_once_and_refuses_a_recipient_that_adds_headers(scratch) {
        let db = Database::connect(&scratch.url).await.unwrap();
        let lake_dir = tempfile::tempdir().unwrap();
        let lake = Location::open(&format!("file://{}", lake_dir.path().display())).unwrap();
        let pdf = b"%PDF-1.7 the invoice".to_vec();
        lake.put(PDF, pdf.clone()).await.unwrap();
        let injected = "victim@example.com\r\nBcc: evil@example.com";
        db.queue(&[email(1, "operator@example.com"), email(2, injected)]).await.unwrap();

        let server = SmtpServer::start();
        let smtp = Transport::new(&server.url(), lake_dir.path().join("unused")).unwrap();
        let report = send_queued(&db, &lake, &smtp, &mail()).await.unwrap();
        assert_eq!((report.sent, report.retrying, report.failed), (1, 0, 1));

        let received = server.messages();
        assert_eq!(received.len(), 1, "{received:?}");
        let message = &received[0];
        assert_eq!(message["to"], "operator@example.com");
        assert_eq!(message["from"], "billing@kakin.example");
        assert_eq!(message["reply_to"], "support@kakin.example");
        assert_eq!(message["message_id"], "<kakin.test.1@kakin.example>");
        assert_eq!(message["subject"], "【ALL.Net】請求書発行のお知らせ（2026年10月分）");
        assert!(message["raw_subject"].as_str().unwrap().starts_with("=?utf-8?"), "RFC 2047");
        assert!(message["body"].as_str().unwrap().contains("請求書番号: 1700000"));
        assert_eq!(message["bcc"], "");
        assert_eq!(message["attachments"][0]["filename"], "invoice-1700000.pdf");
        assert_eq!(message["attachments"][0]["content_type"], "application/pdf");
        assert_eq!(message["attachments"][0]["sha256"], sha256(&pdf));

        let (status, _, reply) = status_of(&db, "<kakin.test.1@kakin.example>").await;
        assert_eq!(status, EmailStatus::Sent);
        assert!(reply.unwrap().starts_with("250"), "the server's answer is recorded");
        let (status, _, reply) = status_of(&db, "<kakin.test.2@kakin.example>").await;
        assert_eq!(status, EmailStatus::Failed, "never retried: it cannot become valid");
        assert!(reply.unwrap().contains("recipient"));

        // Nothing is due: a second drain sends nothing again.
        let again = send_queued(&db, &lake, &smtp, &mail()).await.unwrap();
        assert_eq!((again.sent, again.failed), (0, 0));
        assert_eq!(server.messages().len(), 1);
    }
}

each_engine! {
    async fn an_unreachable_server_is_retried_with_back_off_then_failed_then_retried_by_hand(scratch) {
        let db = Database::connect(&scratch.url).await.unwrap();
        let lake_dir = tempfile::tempdir().unwrap();
        let lake = Location::open(&format!("file://{}", lake_dir.path().display())).unwrap();
        lake.put(PDF, b"%PDF".to_vec()).await.unwrap();
        db.queue(&[email(1, "operator@example.com")]).await.unwrap();
        let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let down = Transport::new(&format!("smtp://127.0.0.1:{closed_port}"), lake_dir.path().into()).unwrap();
        let id = "<kakin.test.1@kakin.example>";

        let mut delays = Vec::new();
        for attempt in 1..=MAX_ATTEMPTS {
            let before = now_ms();
            let report = send_queued(&db, &lake, &down, &mail()).await.unwrap();
            let (status, attempts, reply) = status_of(&db, id).await;
            assert_eq!(attempts, attempt);
            assert!(reply.is_some(), "the failure is recorded");
            if attempt < MAX_ATTEMPTS {
                assert_eq!((report.retrying, status), (1, EmailStatus::Queued));
                let due = db.outbox().await.unwrap()[0].next_attempt_at;
                delays.push((due - before) / 1000);
                let nothing = send_queued(&db, &lake, &down, &mail()).await.unwrap();
                assert_eq!(nothing.retrying, 0, "not due yet");
                // Time passes: the attempt is due.
                sqlx::query("UPDATE outbox SET next_attempt_at = 0")
                    .execute(db.pool()).await.unwrap();
            } else {
                assert_eq!((report.failed, status), (1, EmailStatus::Failed));
            }
        }
        assert_eq!(delays, [30, 60, 120, 240], "exponential back-off, in seconds");

        assert_eq!(db.retry_failed(&[]).await.unwrap(), 1);
        let server = SmtpServer::start();
        let up = Transport::new(&server.url(), lake_dir.path().into()).unwrap();
        let report = send_queued(&db, &lake, &up, &mail()).await.unwrap();
        assert_eq!(report.sent, 1);
        assert_eq!(server.messages().len(), 1);
    }
}

each_engine! {
    async fn a_5xx_fails_at_once_a_4xx_is_retried_and_a_name_cannot_add_a_header(scratch) {
        let db = Database::connect(&scratch.url).await.unwrap();
        let lake_dir = tempfile::tempdir().unwrap();
        let lake = Location::open(&format!("file://{}", lake_dir.path().display())).unwrap();
        lake.put(PDF, b"%PDF".to_vec()).await.unwrap();
        // The partner's name is the body's first line: CR/LF in it stay in the body.
        let announcement = pipeline::notify::Announcement {
            partner_code: "229000000".into(),
            partner_name: "株式会社テスト\r\nBcc: x@evil.example".into(),
            recipient: "operator@example.com".into(),
            month: Month::parse("2026-10").unwrap(),
            invoice_no: Some("1700000".into()),
            invoice_total: None,
            pay: None,
            payment_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
            replaces: None,
            attachments: vec![PDF.into()],
            issuer_name: "株式会社セガ".into(),
        };
        let named = pipeline::notify::compose(&announcement, "kakin.example");
        db.queue(&[named, email(2, "nobody@refused.example"), email(3, "later@busy.example")])
            .await
            .unwrap();
        let server = SmtpServer::start();
        let smtp = Transport::new(&server.url(), lake_dir.path().into()).unwrap();
        let report = send_queued(&db, &lake, &smtp, &mail()).await.unwrap();
        assert_eq!((report.sent, report.retrying, report.failed), (1, 1, 1));

        let received = server.messages();
        assert_eq!(received.len(), 1);
        let message = &received[0];
        assert_eq!(message["to"], "operator@example.com");
        assert_eq!(message["bcc"], "");
        assert!(!message["headers"].as_array().unwrap().iter().any(|h| h == "Bcc"), "{message}");
        assert!(message["body"].as_str().unwrap().contains("Bcc: x@evil.example"), "kept as text");

        let (status, _, reply) = status_of(&db, "<kakin.test.2@kakin.example>").await;
        assert_eq!(status, EmailStatus::Failed);
        assert!(reply.unwrap().contains("550"), "the server's reply is recorded");
        let (status, attempts, reply) = status_of(&db, "<kakin.test.3@kakin.example>").await;
        assert_eq!((status, attempts), (EmailStatus::Queued, 1), "451: tried again later");
        assert!(reply.unwrap().contains("451"));
    }
}
