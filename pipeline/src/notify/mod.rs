//! Email notifications (`lake.md`, "Emails"; the guide's メール通知): when a close or a reissue
//! issues documents for a partner whose `notify` is true, that partner's address gets exactly
//! one email with its PDFs attached.
//!
//! Emails go through an outbox in the database: the close queues them in the transaction that
//! commits it ([`compose`] writes them), and a sender ([`send_queued`]) delivers them over one
//! pooled SMTP connection, or as `.eml` files when no SMTP server is configured. Each email has
//! a Message-ID derived from the partner, the closing month and the invoice number, so a
//! reissue gets its own and a copy delivered twice is recognisable as the same message.

mod compose;
mod sender;
mod transport;

pub use compose::{compose, message_id, Announcement};
pub use sender::{resend, send_queued, SendReport, MAX_ATTEMPTS};
pub use transport::{MailSettings, Transport};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("smtp_url: {0}")]
    Smtp(String),
    #[error("mail_from or mail_reply_to: {0:?} is not an email address")]
    From(String),
    #[error("the outbox directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error("lake: {0}")]
    Lake(#[from] crate::lake::LakeError),
}
