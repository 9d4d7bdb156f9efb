//! What a close keeps in the database: its record (the commit point), its invoices, and which
//! ingest batches it was the first to see.

use super::{optional, text, Cell, Cells, Database, DbResult, DocumentRecord, NewEmail};
use crate::domain::{InvoiceStatus, Month, Parse};
use chrono::{SecondsFormat, Utc};

/// What a close or a reissue issues, recorded in its commit: its invoices, its documents and
/// the emails announcing them.
#[derive(Debug, Clone, Copy)]
pub struct Issued<'a> {
    pub invoices: &'a [InvoiceRecord],
    pub documents: &'a [DocumentRecord],
    pub emails: &'a [NewEmail],
}

impl Database {
    async fn record_issued(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        month: Month,
        issued: Issued<'_>,
    ) -> DbResult<()> {
        self.insert_invoices(tx, month, issued.invoices).await?;
        self.insert_documents(tx, issued.documents).await?;
        self.queue_emails(tx, issued.emails).await
    }
}

/// An issued invoice, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRecord {
    pub invoice_no: String,
    pub partner_code: String,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    pub status: InvoiceStatus,
    /// The number of the voided invoice this one reissues.
    pub replaces: Option<String>,
    pub void_reason: Option<String>,
}

const INVOICE_COLUMNS: &str =
    "invoice_no, closing_month, partner_code, subtotal, tax, total, status, replaces, void_reason";

fn invoice_record(row: &sqlx::any::AnyRow) -> DbResult<(Month, InvoiceRecord)> {
    let c = Cells::new(row, "invoices");
    Ok((
        c.parse("closing_month", Month::parse)?,
        InvoiceRecord {
            invoice_no: c.text("invoice_no")?,
            partner_code: c.text("partner_code")?,
            subtotal: c.int("subtotal")?,
            tax: c.int("tax")?,
            total: c.int("total")?,
            status: c.parse("status", InvoiceStatus::parse)?,
            replaces: c.optional_text("replaces")?,
            void_reason: c.optional_text("void_reason")?,
        },
    ))
}

/// A void or reissue under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRewrite {
    /// The invoice voided, or the number the reissue takes.
    pub invoice_no: String,
    pub kind: RewriteKind,
    pub month: Month,
    pub partner_code: String,
    /// A void's reason.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewriteKind {
    Void,
    Reissue,
}

impl RewriteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RewriteKind::Void => "void",
            RewriteKind::Reissue => "reissue",
        }
    }
}

impl Parse for RewriteKind {
    fn parse(text: &str) -> Result<Self, crate::domain::ParseError> {
        match text {
            "void" => Ok(RewriteKind::Void),
            "reissue" => Ok(RewriteKind::Reissue),
            other => Err(crate::domain::ParseError::new(format!(
                "{other:?} is not a rewrite"
            ))),
        }
    }
}

async fn forget_rewrite(tx: &mut sqlx::Transaction<'_, sqlx::Any>, number: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM pending_rewrites WHERE invoice_no = $1")
        .bind(number)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A committed ingest batch: the month of the first close that saw it (none yet for the
/// batches committed since the last close) and the lake files it wrote (none recorded for a
/// batch committed before they were).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedBatch {
    pub batch: String,
    pub first_close: Option<Month>,
    pub lake_files: Option<Vec<String>>,
}

impl Database {
    /// Every committed ingest batch, with the month of the first close that saw it (none yet
    /// for the batches committed since the last close).
    pub async fn committed_batches(&self) -> DbResult<Vec<CommittedBatch>> {
        let rows = sqlx::query(
            "SELECT batch, first_close, lake_files FROM ingest_batches \
             WHERE state = 'committed' ORDER BY batch",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let c = Cells::new(row, "ingest_batches");
                Ok(CommittedBatch {
                    batch: c.text("batch")?,
                    first_close: c.parse_optional("first_close", Month::parse)?,
                    lake_files: c
                        .optional_text("lake_files")?
                        .map(super::ingest::split_lines),
                })
            })
            .collect()
    }

    /// The number after the highest invoice number ever issued or taken by a reissue under
    /// way, or `start`.
    pub async fn next_invoice_number(&self, start: u32) -> DbResult<u32> {
        let row = sqlx::query(
            "SELECT MAX(invoice_no) AS last FROM (SELECT invoice_no FROM invoices \
             UNION ALL SELECT invoice_no FROM pending_rewrites WHERE kind = 'reissue') AS taken",
        )
        .fetch_one(self.pool())
        .await?;
        let last = Cells::new(&row, "invoices").optional_text("last")?;
        Ok(last
            .and_then(|n| n.parse::<u32>().ok())
            .map_or(start, |n| (n + 1).max(start)))
    }

    /// The invoices of a closed month, by number.
    pub async fn invoices_of(&self, month: Month) -> DbResult<Vec<InvoiceRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {INVOICE_COLUMNS} FROM invoices WHERE closing_month = $1 ORDER BY invoice_no"
        ))
        .bind(month.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| invoice_record(row).map(|(_, record)| record))
            .collect()
    }

    /// One invoice and the month whose close issued it.
    pub async fn invoice(&self, number: &str) -> DbResult<Option<(Month, InvoiceRecord)>> {
        let row = sqlx::query(&format!(
            "SELECT {INVOICE_COLUMNS} FROM invoices WHERE invoice_no = $1"
        ))
        .bind(number)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(invoice_record).transpose()
    }

    /// Void an issued invoice (its number stays taken), and forget its pending rewrite: the
    /// commit point of a void.
    pub async fn void_invoice(
        &self,
        number: &str,
        reason: &str,
        documents: &[DocumentRecord],
    ) -> DbResult<()> {
        let mut tx = self.pool().begin().await?;
        self.insert_documents(&mut tx, documents).await?;
        sqlx::query(
            "UPDATE invoices SET status = 'VOID', void_reason = $1 \
             WHERE invoice_no = $2 AND status = 'ISSUED'",
        )
        .bind(reason)
        .bind(number)
        .execute(&mut *tx)
        .await?;
        forget_rewrite(&mut tx, number).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Record a reissued invoice and forget its pending rewrite: the commit point of a reissue.
    pub async fn commit_reissue(&self, month: Month, issued: Issued<'_>) -> DbResult<()> {
        let mut tx = self.pool().begin().await?;
        self.record_issued(&mut tx, month, issued).await?;
        for invoice in issued.invoices {
            forget_rewrite(&mut tx, &invoice.invoice_no).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Record that a void or reissue is about to rewrite the lake (a reissue's number is taken
    /// here). Recording the same rewrite again changes nothing.
    pub async fn begin_rewrite(&self, rewrite: &PendingRewrite) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO pending_rewrites (invoice_no, kind, closing_month, partner_code, reason) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (invoice_no) DO NOTHING",
        )
        .bind(&rewrite.invoice_no)
        .bind(rewrite.kind.as_str())
        .bind(rewrite.month.to_string())
        .bind(&rewrite.partner_code)
        .bind(rewrite.reason.as_deref())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The voids and reissues that began and did not commit (killed runs), oldest number first.
    pub async fn pending_rewrites(&self) -> DbResult<Vec<PendingRewrite>> {
        let rows = sqlx::query(
            "SELECT invoice_no, kind, closing_month, partner_code, reason \
             FROM pending_rewrites ORDER BY invoice_no",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let c = Cells::new(row, "pending_rewrites");
                Ok(PendingRewrite {
                    invoice_no: c.text("invoice_no")?,
                    kind: c.parse("kind", RewriteKind::parse)?,
                    month: c.parse("closing_month", Month::parse)?,
                    partner_code: c.text("partner_code")?,
                    reason: c.optional_text("reason")?,
                })
            })
            .collect()
    }

    async fn insert_invoices(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        month: Month,
        invoices: &[InvoiceRecord],
    ) -> DbResult<()> {
        let issue_date = month.next().first_day();
        self.insert_rows(
            tx,
            "invoices",
            &[
                "invoice_no",
                "closing_month",
                "partner_code",
                "issue_date",
                "subtotal",
                "tax",
                "total",
                "status",
                "replaces",
                "void_reason",
            ],
            invoices.iter().map(|i| {
                vec![
                    text(&i.invoice_no),
                    text(month),
                    text(&i.partner_code),
                    text(issue_date),
                    Cell::Int(i.subtotal),
                    Cell::Int(i.tax),
                    Cell::Int(i.total),
                    text(i.status),
                    optional(i.replaces.as_ref()),
                    optional(i.void_reason.as_ref()),
                ]
            }),
        )
        .await
    }

    /// Commit a close: its record, what it issued, and the batches it saw first — one
    /// transaction, the close's commit point.
    pub async fn commit_close(
        &self,
        month: Month,
        issue_date: chrono::NaiveDate,
        issued: Issued<'_>,
        batches: &[String],
    ) -> DbResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO closes (closing_month, issue_date, committed_at) VALUES ($1, $2, $3)",
        )
        .bind(month.to_string())
        .bind(issue_date.to_string())
        .bind(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true))
        .execute(&mut *tx)
        .await?;
        self.record_issued(&mut tx, month, issued).await?;
        for batch in batches {
            sqlx::query("UPDATE ingest_batches SET first_close = $1 WHERE batch = $2 AND first_close IS NULL")
                .bind(month.to_string())
                .bind(batch)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
