//! Emails end to end, through the binary against a real SMTP server (aiosmtpd): the close tells
//! each partner that asked exactly once, with its PDFs attached, and a sender killed between
//! emails loses none and sends none twice outside SMTP's one window.

mod support;

use pipeline::each_engine;
use pipeline::testing::{sha256, SmtpServer};
use std::collections::BTreeMap;
use support::{text, Site};

/// The settings that send a site's emails to `server`.
fn sending_to(server: &SmtpServer) -> Vec<(&'static str, String)> {
    vec![
        ("KAKIN_SMTP_URL", server.url()),
        ("KAKIN_MAIL_FROM", "billing@kakin.example".into()),
    ]
}

each_engine! {
    async fn the_close_tells_each_partner_that_asked_once_with_its_pdfs(scratch) {
        let server = SmtpServer::start();
        let site = Site::guide(scratch, sending_to(&server));
        let out = site.run(&["close", "2023-05"], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("emails: 1 sent, 0 to retry, 0 failed"), "{}", text(&out.stdout));

        // 229999000 asked (notify = true); 229999001 has no address and did not.
        let received = server.messages();
        assert_eq!(received.len(), 1, "{received:?}");
        let email = &received[0];
        assert_eq!(email["to"], "billing@sega-amusement.example");
        assert_eq!(email["message_id"], "<kakin.229999000.2023-05.1700000@kakin.example>");
        assert_eq!(email["subject"], "【ALL.Net】請求書発行のお知らせ（2023年05月分）");
        let body = email["body"].as_str().unwrap();
        for figure in ["請求書番号: 1700000", "ご請求金額（税込）: ¥37,642", "お支払合計金額: ¥83,188", "お支払日: 2023年06月25日"] {
            assert!(body.contains(figure), "{figure:?} in {body}");
        }
        let lake = site.lake();
        let folder = "documents/closing_month=2023-05/229999000";
        let attached: BTreeMap<String, String> = email["attachments"].as_array().unwrap().iter()
            .map(|a| (a["filename"].as_str().unwrap().to_owned(), a["sha256"].as_str().unwrap().to_owned()))
            .collect();
        let issued: BTreeMap<String, String> = lake.iter()
            .filter(|(path, _)| path.starts_with(folder))
            .map(|(path, pdf)| (path.file_name().unwrap().to_string_lossy().into_owned(), sha256(pdf)))
            .collect();
        assert_eq!(attached, issued, "the lake's PDFs, byte for byte");
        assert_eq!(attached.len(), 3);

        // Nothing twice: the close again, a drain again.
        assert!(site.run(&["close", "2023-05"], None).status.success());
        assert!(site.run(&["outbox", "send"], None).status.success());
        assert_eq!(server.messages().len(), 1);
        let listed = text(&site.run(&["outbox"], None).stdout);
        assert!(listed.contains("sent") && listed.contains("250"), "{listed}");

        // A copy for an operator who lost it: its own Message-ID, recorded as a resend.
        let out = site.run(&["outbox", "resend", "1700000"], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let ids: Vec<String> = server.messages().iter().map(|m| m["message_id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids, [
            "<kakin.229999000.2023-05.1700000.resend-1@kakin.example>",
            "<kakin.229999000.2023-05.1700000@kakin.example>",
        ]);
        assert!(text(&site.run(&["outbox"], None).stdout).contains("(resend of 1)"));

        // A reissue gets an email of its own, saying what it replaces.
        assert!(site.run(&["invoice", "void", "1700000", "--reason", "誤り"], None).status.success());
        assert!(site.run(&["close", "2023-05", "--reissue", "229999000"], None).status.success());
        let reissued = server.messages().into_iter()
            .find(|m| m["message_id"] == "<kakin.229999000.2023-05.1700001@kakin.example>")
            .expect("the reissue's email");
        assert!(reissued["body"].as_str().unwrap().contains("請求書番号 1700000 の再発行"));
    }
}

each_engine! {
    async fn a_sender_killed_between_emails_loses_none_and_repeats_only_the_one_in_flight(scratch) {
        let server = SmtpServer::start();
        let site = Site::demo(scratch, "60", "2026-10", sending_to(&server), &[&["ingest"]]);
        let asked = site.run(&["query", "SELECT email FROM partners WHERE notify AND email IS NOT NULL ORDER BY email", "--format", "csv"], None);
        let asked: Vec<String> = text(&asked.stdout).lines().skip(1).map(str::to_owned).collect();
        assert!(asked.len() >= 5, "{asked:?}");
        let silent = site.run(&["query", "SELECT COUNT(*) AS n FROM partners WHERE NOT notify AND email IS NOT NULL", "--format", "csv"], None);
        assert_ne!(text(&silent.stdout), "n\n0\n", "some partners have an address and did not ask");

        // Killed before delivering the third email (the close itself is committed)...
        let out = site.run(&["close", "2026-10", "--allow-empty"], Some("send-before-delivery@3"));
        assert!(!out.status.success());
        assert_eq!(server.messages().len(), 2);
        // ... then after the server accepted the next one, before recording it: SMTP's window.
        let out = site.run(&["outbox", "send"], Some("send-before-record@1"));
        assert!(!out.status.success());
        assert_eq!(server.messages().len(), 3);
        // ... then left to finish.
        let out = site.run(&["outbox", "send"], None);
        assert!(out.status.success(), "{}", text(&out.stderr));

        let received = server.messages();
        let mut copies: BTreeMap<String, usize> = BTreeMap::new();
        for message in &received {
            *copies.entry(message["message_id"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        let twice: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
        assert_eq!(twice.len(), 1, "only the email in flight at the kill comes twice: {copies:?}");
        assert_eq!(*twice[0].1, 2);
        let mut recipients: Vec<String> = received.iter().map(|m| m["to"].as_str().unwrap().to_owned()).collect();
        recipients.sort();
        recipients.dedup();
        assert_eq!(recipients, asked, "every partner that asked, nobody else");
        let listed = text(&site.run(&["outbox"], None).stdout);
        assert_eq!(listed.lines().skip(1).filter(|l| l.contains(" sent ")).count(), asked.len(), "{listed}");
    }
}

each_engine! {
    async fn a_close_commits_with_the_smtp_server_down_and_its_email_goes_once_it_is_back(scratch) {
        let port = pipeline::testing::free_port();
        let down = vec![
            ("KAKIN_SMTP_URL", format!("smtp://127.0.0.1:{port}")),
            ("KAKIN_MAIL_FROM", "billing@kakin.example".to_owned()),
        ];
        let site = Site::guide(scratch, down);
        let out = site.run(&["close", "2023-05"], None);
        assert!(out.status.success(), "the close commits: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("emails: 0 sent, 1 to retry, 0 failed"), "{}", text(&out.stdout));
        let listed = text(&site.run(&["outbox"], None).stdout);
        assert!(listed.contains("queued"), "{listed}");

        let server = SmtpServer::start_on(port);
        let out = site.run(&["outbox", "send"], None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(server.messages().len(), 1);
        assert!(site.run(&["outbox", "send"], None).status.success());
        assert_eq!(server.messages().len(), 1, "once");
    }
}
