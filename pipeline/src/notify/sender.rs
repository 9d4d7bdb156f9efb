//! The sender: drains the outbox. Each email is claimed for a short while (no lock is held
//! during SMTP), built with its PDFs read from the lake, delivered, and marked sent with the
//! server's answer; a transient failure is queued again with exponential back-off, up to
//! [`MAX_ATTEMPTS`]; a permanent one is marked failed with the server's reply.
//!
//! The one window no program can close: the server accepted a message and the process died
//! before recording it. The next sender (every sender holds the writer lease, so an email left
//! `sending` is a dead sender's) sends it again with the same Message-ID, which mail systems
//! recognise as a copy.

use super::transport::{message, MailSettings, Transport};
use super::NotifyError;
use crate::db::{Database, OutboxEmail};
use crate::lake::Location;

/// Attempts before an email that keeps failing transiently is marked failed.
pub const MAX_ATTEMPTS: i64 = 5;

/// How long a claim lasts: a sender that has not recorded the outcome by then is presumed dead.
const CLAIM_MS: i64 = 120_000;

/// The first retry's delay; each next one doubles it.
const FIRST_RETRY_MS: i64 = 30_000;

/// What a drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReport {
    pub sent: u64,
    pub retrying: u64,
    pub failed: u64,
}

/// Send every email that is due, one at a time, until none is.
pub async fn send_queued(
    db: &Database,
    lake: &Location,
    transport: &Transport,
    mail: &MailSettings,
) -> Result<SendReport, NotifyError> {
    let mut report = SendReport::default();
    // Every sender holds the writer lease: an email left `sending` is a dead sender's.
    db.release_claims().await?;
    while let Some(email) = db.claim_email(CLAIM_MS).await? {
        crate::failpoint("send-before-delivery");
        let built = match attachments(lake, &email).await? {
            Ok(files) => message(mail, &email.email, files),
            Err(missing) => Err(missing),
        };
        let outcome = match built {
            Ok(message) => transport.deliver(&message, &file_name(&email)).await,
            Err(reason) => Err(super::transport::Refused {
                transient: false,
                reply: reason,
            }),
        };
        match outcome {
            Ok(reply) => {
                let accepted = std::time::Instant::now();
                crate::failpoint("send-before-record");
                db.email_sent(email.id, &reply).await?;
                let window = accepted.elapsed();
                tracing::debug!(id = email.id, ?window, "email sent and recorded");
                report.sent += 1;
            }
            Err(refused) if refused.transient && email.attempts < MAX_ATTEMPTS => {
                let delay = FIRST_RETRY_MS << (email.attempts - 1).clamp(0, 20);
                let at = crate::db::now_ms() + delay;
                tracing::warn!(id = email.id, reply = %refused.reply, "email retried later");
                db.email_retry(email.id, &refused.reply, at).await?;
                report.retrying += 1;
            }
            Err(refused) => {
                tracing::error!(id = email.id, reply = %refused.reply, "email failed");
                db.email_failed(email.id, &refused.reply).await?;
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// The attached PDFs, by file name, read from the lake all at once (or why one cannot be).
async fn attachments(
    lake: &Location,
    email: &OutboxEmail,
) -> Result<Result<Vec<(String, Vec<u8>)>, String>, NotifyError> {
    let paths = &email.email.attachments;
    let fetched = futures::future::try_join_all(paths.iter().map(|p| lake.get_if_present(p)));
    let mut files = Vec::new();
    for (path, bytes) in paths.iter().zip(fetched.await?) {
        let Some(bytes) = bytes else {
            return Ok(Err(format!("attachment {path} is not in the lake")));
        };
        let name = path.rsplit('/').next().unwrap_or(path).to_owned();
        files.push((name, bytes.to_vec()));
    }
    Ok(Ok(files))
}

/// The `.eml` file of an email: its id and partner, stable across attempts.
fn file_name(email: &OutboxEmail) -> String {
    format!(
        "{:06}-{}-{}.eml",
        email.id,
        email.email.partner_code,
        email.email.invoice_no.as_deref().unwrap_or("notice")
    )
}

/// `kakin outbox resend INVOICE`: queue a copy of the latest email of invoice `invoice_no` for
/// an operator who lost it, under a new Message-ID, recorded as a resend of the original.
pub async fn resend(
    db: &Database,
    invoice_no: &str,
    mail: &MailSettings,
) -> Result<Option<OutboxEmail>, NotifyError> {
    let outbox = db.outbox().await?;
    let of_invoice = |e: &&OutboxEmail| e.email.invoice_no.as_deref() == Some(invoice_no);
    let Some(original) = outbox
        .iter()
        .filter(of_invoice)
        .filter(|e| e.email.resend_of.is_none())
        .max_by_key(|e| e.id)
    else {
        return Ok(None);
    };
    let copies = outbox.iter().filter(of_invoice).count() as i64;
    let email = &original.email;
    let copy = crate::db::NewEmail {
        message_id: super::message_id(
            &email.partner_code,
            email.month,
            email.invoice_no.as_deref(),
            Some(copies),
            mail.domain(),
        ),
        resend_of: Some(original.id),
        ..email.clone()
    };
    db.queue(std::slice::from_ref(&copy)).await?;
    let queued = db.outbox().await?;
    Ok(queued
        .into_iter()
        .find(|e| e.email.message_id == copy.message_id))
}
