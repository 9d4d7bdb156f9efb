//! Where emails go: an SMTP server (`smtp://host:port` with STARTTLS when the server offers it,
//! `smtps://` for TLS from the start; credentials in the URL or `KAKIN_SMTP_USER` /
//! `KAKIN_SMTP_PASSWORD`), one pooled connection for a whole drain; or, with no SMTP server
//! configured (the embedded default), `.eml` files in a directory that any mail program opens.

use super::NotifyError;
use lettre::message::{header::ContentType, Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::PoolConfig;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

/// Who emails are from, and where replies go.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub from: Mailbox,
    pub reply_to: Mailbox,
}

impl MailSettings {
    pub fn new(from: &str, reply_to: &str) -> Result<MailSettings, NotifyError> {
        let parse = |text: &str| -> Result<Mailbox, NotifyError> {
            let address: Address = text
                .parse()
                .map_err(|_| NotifyError::From(text.to_owned()))?;
            Ok(Mailbox::new(None, address))
        };
        Ok(MailSettings {
            from: parse(from)?,
            reply_to: parse(if reply_to.is_empty() { from } else { reply_to })?,
        })
    }

    /// The right side of Message-IDs: the sender's domain.
    pub fn domain(&self) -> &str {
        self.from.email.domain()
    }
}

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// Why a delivery failed, and whether trying again later may help.
pub(super) struct Refused {
    pub transient: bool,
    pub reply: String,
}

impl Transport {
    /// SMTP when `smtp_url` is set, else `.eml` files in `outbox_dir`.
    pub fn new(smtp_url: &str, outbox_dir: PathBuf) -> Result<Transport, NotifyError> {
        if smtp_url.is_empty() {
            return Ok(Transport::Files(outbox_dir));
        }
        let url = match smtp_url.starts_with("smtp://") && !smtp_url.contains("tls=") {
            true if smtp_url.contains('?') => format!("{smtp_url}&tls=opportunistic"),
            true => format!("{smtp_url}?tls=opportunistic"),
            false => smtp_url.to_owned(),
        };
        let redacted = crate::domain::redacted(smtp_url);
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|e| NotifyError::Smtp(format!("{redacted}: {e}")))?
            .pool_config(PoolConfig::new().max_size(1));
        if let (Ok(user), Ok(password)) = (
            std::env::var("KAKIN_SMTP_USER"),
            std::env::var("KAKIN_SMTP_PASSWORD"),
        ) {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Transport::Smtp(builder.build()))
    }

    /// Deliver `message`: the server's answer, or why it was refused.
    pub(super) async fn deliver(
        &self,
        message: &Message,
        file_name: &str,
    ) -> Result<String, Refused> {
        match self {
            Transport::Smtp(smtp) => match smtp.send(message.clone()).await {
                Ok(response) => Ok(format!(
                    "{} {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                )),
                Err(e) => Err(Refused {
                    transient: !e.is_permanent(),
                    reply: e.to_string(),
                }),
            },
            Transport::Files(dir) => write_eml(dir, file_name, &message.formatted())
                .map(|path| format!("written to {}", path.display()))
                .map_err(|e| Refused {
                    transient: true,
                    reply: e.to_string(),
                }),
        }
    }
}

/// Write `bytes` as `dir/file_name` whole or not at all (aside, then renamed).
fn write_eml(dir: &std::path::Path, file_name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(file_name);
    let aside = dir.join(format!(".{file_name}.tmp"));
    std::fs::write(&aside, bytes)?;
    std::fs::rename(&aside, &path)?;
    Ok(path)
}

/// The MIME message of an outbox email: plain text, then each PDF attached.
pub(super) fn message(
    mail: &MailSettings,
    email: &crate::db::NewEmail,
    attachments: Vec<(String, Vec<u8>)>,
) -> Result<Message, String> {
    let to: Address = email
        .recipient
        .parse()
        .map_err(|e| format!("recipient {:?}: {e}", email.recipient))?;
    let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(email.body.clone()));
    let pdf = ContentType::parse("application/pdf").expect("a MIME type");
    for (name, bytes) in attachments {
        parts = parts.singlepart(Attachment::new(name).body(bytes, pdf.clone()));
    }
    Message::builder()
        .message_id(Some(email.message_id.clone()))
        .from(mail.from.clone())
        .reply_to(mail.reply_to.clone())
        .to(Mailbox::new(None, to))
        .subject(email.subject.clone())
        .multipart(parts)
        .map_err(|e| e.to_string())
}
