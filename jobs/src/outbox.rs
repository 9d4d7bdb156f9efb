//! Operations' email commands: `kakin outbox` lists the outbox; `send` drains it (the close and
//! the reissue do so after committing); `retry` re-queues failed emails; `resend` queues a copy
//! of an invoice's email.

use crate::app::{ledgered, Context, Failure, Recorded};
use pipeline::db::OutboxEmail;
use pipeline::notify::{self, MailSettings, NotifyError, SendReport, Transport};
use std::path::PathBuf;

impl From<NotifyError> for Failure {
    fn from(error: NotifyError) -> Self {
        match error {
            NotifyError::Smtp(_) | NotifyError::From(_) => Failure::Invalid(error.to_string()),
            error => Failure::Failed(error.into()),
        }
    }
}

impl Recorded for SendReport {
    fn counts(&self) -> String {
        format!(
            "{} sent, {} to retry, {} failed",
            self.sent, self.retrying, self.failed
        )
    }

    fn failure(&self) -> Option<String> {
        (self.failed > 0).then(|| format!("{} email(s) failed", self.failed))
    }
}

fn mail(context: &Context) -> Result<MailSettings, Failure> {
    let settings = &context.settings;
    Ok(MailSettings::new(
        &settings.mail_from,
        &settings.mail_reply_to,
    )?)
}

/// `kakin outbox send`: deliver every queued email now, whatever its back-off (the operator
/// has fixed the server).
pub async fn send_now(context: &Context) -> Result<(), Failure> {
    drain(context, true).await
}

/// Deliver every email that is due (after a close, a reissue, a resend).
pub async fn send(context: &Context) -> Result<(), Failure> {
    drain(context, false).await
}

async fn drain(context: &Context, now: bool) -> Result<(), Failure> {
    let settings = &context.settings;
    let transport = Transport::new(&settings.smtp_url, PathBuf::from(&settings.outbox_dir))?;
    let mail = mail(context)?;
    let (db, lake) = (&context.db, &context.lake);
    let job = async {
        if now {
            db.due_now().await?;
        }
        notify::send_queued(db, lake, &transport, &mail).await
    };
    let report = ledgered(context, "outbox send", "", job).await?;
    println!("emails: {}", report.counts());
    if let Transport::Files(dir) = &transport {
        if report.sent > 0 {
            println!("written as .eml files to {}", dir.display());
        }
    }
    match report.failure() {
        Some(failure) => Err(Failure::Failed(anyhow::anyhow!(
            "{failure}: see kakin outbox"
        ))),
        None => Ok(()),
    }
}

/// `kakin outbox`: every email, newest first, with where it stands.
pub async fn list(context: &Context) -> Result<(), Failure> {
    let outbox = context.db.outbox().await.map_err(anyhow::Error::from)?;
    println!(
        "{:>5}  {:<8}  {:<7}  {:<10}  {:<8}  {:<30}  last reply",
        "id", "status", "attempt", "partner", "invoice", "to"
    );
    for e in &outbox {
        print_email(e);
    }
    Ok(())
}

fn print_email(e: &OutboxEmail) {
    let resend = e.email.resend_of.map(|id| format!(" (resend of {id})"));
    println!(
        "{:>5}  {:<8}  {:<7}  {:<10}  {:<8}  {:<30}  {}{}",
        e.id,
        e.status.as_str(),
        e.attempts,
        e.email.partner_code,
        e.email.invoice_no.as_deref().unwrap_or("-"),
        e.email.recipient,
        e.last_reply.as_deref().unwrap_or("-"),
        resend.unwrap_or_default()
    );
}

struct Requeued(u64);

impl Recorded for Requeued {
    fn counts(&self) -> String {
        format!("{} email(s) queued again", self.0)
    }
}

/// `kakin outbox retry [ID…]`: the failed emails (those named, or all) queued again.
pub async fn retry(context: &Context, ids: &[i64]) -> Result<(), Failure> {
    let arguments = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(" ");
    let job = context.db.retry_failed(ids);
    let requeued = ledgered(context, "outbox retry", &arguments, async {
        job.await.map(Requeued).map_err(anyhow::Error::from)
    })
    .await?;
    println!("{}; send them with: kakin outbox send", requeued.counts());
    Ok(())
}

impl Recorded for Option<OutboxEmail> {
    fn counts(&self) -> String {
        match self {
            Some(e) => format!("queued {} as email {}", e.email.message_id, e.id),
            None => "nothing to resend".into(),
        }
    }
}

/// `kakin outbox resend INVOICE`: a copy of the invoice's email, queued and sent.
pub async fn resend(context: &Context, invoice: &str) -> Result<(), Failure> {
    let mail = mail(context)?;
    let job = notify::resend(&context.db, invoice, &mail);
    let queued = ledgered(context, "outbox resend", invoice, job).await?;
    match queued {
        None => Err(Failure::Invalid(format!(
            "no email of invoice {invoice} is in the outbox"
        ))),
        Some(_) => {
            println!("{}", queued.counts());
            send(context).await
        }
    }
}
