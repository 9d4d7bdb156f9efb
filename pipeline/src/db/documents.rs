//! The documents issued (`lake.md`, "Documents"): each recorded with its SHA-256 in the
//! transaction that issues it, so that `kakin verify` can check the lake against the ledger.

use super::{optional, text, Cell, Cells, Database, DbResult};
use crate::domain::{DocumentKind, Month, Parse};

/// A document as recorded when it was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRecord {
    /// Where it lies in the lake.
    pub path: String,
    pub month: Month,
    pub partner_code: String,
    pub invoice_no: Option<String>,
    pub kind: DocumentKind,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
    pub size: i64,
}

impl Database {
    /// Every document issued, by path.
    pub async fn documents(&self) -> DbResult<Vec<DocumentRecord>> {
        let rows = sqlx::query(
            "SELECT path, closing_month, partner_code, invoice_no, kind, sha256, size \
             FROM documents ORDER BY path",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let c = Cells::new(row, "documents");
                Ok(DocumentRecord {
                    path: c.text("path")?,
                    month: c.parse("closing_month", Month::parse)?,
                    partner_code: c.text("partner_code")?,
                    invoice_no: c.optional_text("invoice_no")?,
                    kind: c.parse("kind", DocumentKind::parse)?,
                    sha256: c.text("sha256")?,
                    size: c.int("size")?,
                })
            })
            .collect()
    }

    pub(super) async fn insert_documents(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        documents: &[DocumentRecord],
    ) -> DbResult<()> {
        self.insert_rows(
            tx,
            "documents",
            &[
                "path",
                "closing_month",
                "partner_code",
                "invoice_no",
                "kind",
                "sha256",
                "size",
            ],
            documents.iter().map(|d| {
                vec![
                    text(&d.path),
                    text(d.month),
                    text(&d.partner_code),
                    optional(d.invoice_no.as_ref()),
                    text(d.kind),
                    text(&d.sha256),
                    Cell::Int(d.size),
                ]
            }),
        )
        .await
    }
}
