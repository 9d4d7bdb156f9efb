//! The email outbox (`lake.md`, "Emails"): queued in the transaction that commits a close, a
//! reissue or a resend; claimed by one sender at a time for a short while (no lock is held
//! during SMTP); marked sent with the server's answer, retried with back-off, or failed.

use super::{Cells, Database, DbResult, Engine};
use crate::domain::{EmailStatus, Month, Parse};
use chrono::{SecondsFormat, Utc};

/// An email to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEmail {
    pub message_id: String,
    pub month: Month,
    pub partner_code: String,
    pub invoice_no: Option<String>,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// Lake paths of the attached documents.
    pub attachments: Vec<String>,
    /// The email this one is a copy of (`kakin outbox resend`).
    pub resend_of: Option<i64>,
}

/// An email of the outbox, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEmail {
    pub id: i64,
    pub email: NewEmail,
    pub status: EmailStatus,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_reply: Option<String>,
    pub queued_at: String,
    pub sent_at: Option<String>,
}

const COLUMNS: &str = "id, message_id, closing_month, partner_code, invoice_no, recipient, \
     subject, body, attachments, resend_of, status, attempts, next_attempt_at, last_reply, \
     queued_at, sent_at";

fn email_of(row: &sqlx::any::AnyRow) -> DbResult<OutboxEmail> {
    let c = Cells::new(row, "outbox");
    let attachments = c.text("attachments")?;
    Ok(OutboxEmail {
        id: c.int("id")?,
        email: NewEmail {
            message_id: c.text("message_id")?,
            month: c.parse("closing_month", Month::parse)?,
            partner_code: c.text("partner_code")?,
            invoice_no: c.optional_text("invoice_no")?,
            recipient: c.text("recipient")?,
            subject: c.text("subject")?,
            body: c.text("body")?,
            attachments: attachments.lines().map(str::to_owned).collect(),
            resend_of: c.optional_int("resend_of")?,
        },
        status: c.parse("status", EmailStatus::parse)?,
        attempts: c.int("attempts")?,
        next_attempt_at: c.int("next_attempt_at")?,
        last_reply: c.optional_text("last_reply")?,
        queued_at: c.text("queued_at")?,
        sent_at: c.optional_text("sent_at")?,
    })
}

/// Now, in milliseconds since the Unix epoch (the outbox's clock).
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn now_text() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Database {
    /// Queue `emails` inside `tx` (the commit of what they announce). An email whose
    /// Message-ID is queued already is left as it is.
    pub(super) async fn queue_emails(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        emails: &[NewEmail],
    ) -> DbResult<()> {
        for email in emails {
            sqlx::query(
                "INSERT INTO outbox (id, message_id, closing_month, partner_code, invoice_no, \
                 recipient, subject, body, attachments, resend_of, status, attempts, \
                 next_attempt_at, queued_at) \
                 VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM outbox), $1, $2, $3, $4, $5, $6, \
                 $7, $8, $9, 'queued', 0, $10, $11) ON CONFLICT (message_id) DO NOTHING",
            )
            .bind(&email.message_id)
            .bind(email.month.to_string())
            .bind(&email.partner_code)
            .bind(email.invoice_no.as_deref())
            .bind(&email.recipient)
            .bind(&email.subject)
            .bind(&email.body)
            .bind(email.attachments.join("\n"))
            .bind(email.resend_of)
            .bind(now_ms())
            .bind(now_text())
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Queue `emails` on their own (a resend).
    pub async fn queue(&self, emails: &[NewEmail]) -> DbResult<()> {
        let mut tx = self.pool().begin().await?;
        self.queue_emails(&mut tx, emails).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The outbox, newest first.
    pub async fn outbox(&self) -> DbResult<Vec<OutboxEmail>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM outbox ORDER BY id DESC"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(email_of).collect()
    }

    /// Claim the next email due for `claim_ms` milliseconds: a queued one whose attempt is due,
    /// or one whose sender's claim expired (it died, perhaps after the server accepted it).
    /// On PostgreSQL the row is chosen `FOR UPDATE SKIP LOCKED`, so that senders on several
    /// machines never claim the same one; on SQLite the one writer is the lease's holder.
    pub async fn claim_email(&self, claim_ms: i64) -> DbResult<Option<OutboxEmail>> {
        let now = now_ms();
        let lock = match self.engine {
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        let statement = format!(
            "UPDATE outbox SET status = 'sending', claimed_until = $1, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM outbox \
                WHERE (status = 'queued' AND next_attempt_at <= $2) \
                   OR (status = 'sending' AND claimed_until < $2) \
                ORDER BY id LIMIT 1{lock}) \
             RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&statement)
            .bind(now + claim_ms)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(email_of).transpose()
    }

    /// Emails claimed by a sender that died before recording the outcome, queued again (their
    /// attempts counted). Called by a sender holding the writer lease, when no other can run.
    pub async fn release_claims(&self) -> DbResult<u64> {
        let done = sqlx::query(
            "UPDATE outbox SET status = 'queued', claimed_until = NULL WHERE status = 'sending'",
        )
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Every queued email due now, whatever its back-off: an operator's `kakin outbox send`
    /// after fixing the server.
    pub async fn due_now(&self) -> DbResult<u64> {
        let done = sqlx::query("UPDATE outbox SET next_attempt_at = $1 WHERE status = 'queued'")
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// The server accepted the email: `reply` is its answer.
    pub async fn email_sent(&self, id: i64, reply: &str) -> DbResult<()> {
        self.settle(id, "sent", reply, None).await
    }

    /// A transient failure: queued again for `at` (ms).
    pub async fn email_retry(&self, id: i64, reply: &str, at: i64) -> DbResult<()> {
        self.settle(id, "queued", reply, Some(at)).await
    }

    /// A permanent failure, or the last attempt: failed with the server's reply.
    pub async fn email_failed(&self, id: i64, reply: &str) -> DbResult<()> {
        self.settle(id, "failed", reply, None).await
    }

    async fn settle(&self, id: i64, status: &str, reply: &str, at: Option<i64>) -> DbResult<()> {
        let sent_at = (status == "sent").then(now_text);
        sqlx::query(
            "UPDATE outbox SET status = $1, last_reply = $2, claimed_until = NULL, \
             next_attempt_at = COALESCE($3, next_attempt_at), sent_at = COALESCE($4, sent_at) \
             WHERE id = $5",
        )
        .bind(status)
        .bind(reply)
        .bind(at)
        .bind(sent_at)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Queue failed emails again (those of `ids`, or every failed one): a fresh set of attempts.
    pub async fn retry_failed(&self, ids: &[i64]) -> DbResult<u64> {
        let requeue = "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = $1 \
                       WHERE status = 'failed'";
        if ids.is_empty() {
            let done = sqlx::query(requeue)
                .bind(now_ms())
                .execute(self.pool())
                .await?;
            return Ok(done.rows_affected());
        }
        let mut retried = 0;
        for id in ids {
            let done = sqlx::query(&format!("{requeue} AND id = $2"))
                .bind(now_ms())
                .bind(id)
                .execute(self.pool())
                .await?;
            retried += done.rows_affected();
        }
        Ok(retried)
    }
}
