//! The documents of a close, a void and a reissue (`statements.md`, "請求書 — invoices" and
//! "支払通知書 — payment notices"; `lake.md`, "Documents"): per partner, the invoice when it has
//! one, the adjustment statement when the invoice bills slips, and the payment notice when its
//! payment totals are not all zero. What each shows is built here from the statements and the
//! master data; the renderer turns it into PDFs, which are put in the lake before the commit
//! and recorded with their SHA-256 in the commit's transaction.

use super::invoicing::{Invoice, InvoiceLine};
use super::statements::Statements;
use super::{CloseError, CloseSettings};
use crate::db::{Database, DocumentRecord, InvoiceRecord};
use crate::documents::*;
use crate::domain::*;
use crate::lake::layout::document_path;
use crate::lake::{Location, AT_ONCE};
use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

/// A document to issue: where it goes and what it shows.
pub(super) struct Planned {
    partner: PartnerCode,
    invoice_no: Option<String>,
    kind: DocumentKind,
    document: Document,
}

/// What every document of a close or reissue of `month` is written with.
pub(super) struct Issue<'a> {
    master: &'a MasterData,
    settings: &'a CloseSettings,
    month: Month,
    issue_date: NaiveDate,
    payment_date: NaiveDate,
}

impl<'a> Issue<'a> {
    /// The documents of the close of `month`, dated as its statements are.
    pub fn of(master: &'a MasterData, settings: &'a CloseSettings, month: Month) -> Issue<'a> {
        let dates = settings.dates(month);
        Issue {
            master,
            settings,
            month,
            issue_date: dates.issue,
            payment_date: dates.payment,
        }
    }

    fn issuer(&self) -> Party {
        party_of(&self.settings.issuer)
    }

    fn partner(&self, code: &PartnerCode) -> Party {
        let record = self.master.partners.get(code);
        Party {
            code: code.to_string(),
            name: record.map(|p| p.name.to_string()).unwrap_or_default(),
            registration_number: record
                .and_then(|p| p.registration_number.as_ref())
                .map(ToString::to_string)
                .unwrap_or_default(),
            registered_name: record
                .and_then(|p| p.registered_name.as_ref())
                .map_or("-".to_owned(), ToString::to_string),
        }
    }

    fn header(&self, partner: &PartnerCode, replaces: Option<&String>) -> Header {
        Header {
            issuer: self.issuer(),
            partner: self.partner(partner),
            issue_date: japanese_date(self.issue_date),
            period: format!(
                "{} 〜 {}",
                japanese_date(self.month.first_day()),
                japanese_date(self.month.last_day())
            ),
            reissue_of: replaces.map(|n| format!("請求書番号 {n} の再発行")),
        }
    }

    fn plan(
        &self,
        partner: &PartnerCode,
        invoice_no: Option<&String>,
        kind: DocumentKind,
        file_name: String,
        content: &impl serde::Serialize,
    ) -> Planned {
        let template = match kind {
            DocumentKind::Invoice | DocumentKind::VoidNotice => Template::Invoice,
            DocumentKind::Adjustments => Template::Adjustments,
            DocumentKind::PaymentNotice => Template::PaymentNotice,
        };
        Planned {
            partner: partner.clone(),
            invoice_no: invoice_no.cloned(),
            kind,
            document: Document::new(template, file_name, self.issue_date, content),
        }
    }

    /// Every document of `statements`, partner by partner (a reissue's carry its number).
    pub fn documents(&self, statements: &Statements) -> Vec<Planned> {
        let mut planned = Vec::new();
        let mut partners: Vec<&PartnerCode> = statements.totals.keys().collect();
        partners.extend(statements.invoices.iter().map(|i| &i.partner));
        partners.sort();
        partners.dedup();
        for partner in partners {
            let invoice = statements.invoices.iter().find(|i| &i.partner == partner);
            if let Some(invoice) = invoice {
                planned.push(self.invoice(invoice));
                let slips: Vec<&AdjustmentSlip> = statements
                    .slips
                    .iter()
                    .filter(|s| &s.partner == partner && s.kind == AdjustmentKind::Billing)
                    .collect();
                if !slips.is_empty() {
                    planned.push(self.adjustments(invoice, &slips));
                }
            }
            let totals = statements.totals_of(partner).filter(|t| !t.is_zero());
            if let Some(totals) = totals {
                planned.push(self.notice(partner, invoice, totals, &statements.rates));
            }
        }
        planned
    }

    fn invoice(&self, invoice: &Invoice) -> Planned {
        let content = InvoiceContent {
            header: self.header(&invoice.partner, invoice.replaces.as_ref()),
            number: invoice.invoice_no.clone(),
            lines: invoice.lines.iter().map(line).collect(),
            taxes: invoice
                .taxes
                .iter()
                .map(|&(rate, subtotal, tax)| TaxContent {
                    rate: format!("{rate}%"),
                    subtotal: subtotal.with_mark(),
                    tax: tax.with_mark(),
                })
                .collect(),
            subtotal: invoice.subtotal.with_mark(),
            tax: invoice.tax.with_mark(),
            total: invoice.total.with_mark(),
            void_reason: None,
        };
        let number = &invoice.invoice_no;
        let name = format!("invoice-{number}.pdf");
        self.plan(
            &invoice.partner,
            Some(number),
            DocumentKind::Invoice,
            name,
            &content,
        )
    }

    fn adjustments(&self, invoice: &Invoice, slips: &[&AdjustmentSlip]) -> Planned {
        let store = |code: &StoreCode| {
            let store = self.master.stores.get(code);
            store.map(|s| s.name.to_string()).unwrap_or_default()
        };
        let total = slips.iter().map(|s| s.amount.0).sum::<i64>();
        let content = AdjustmentsContent {
            header: self.header(&invoice.partner, invoice.replaces.as_ref()),
            invoice_number: invoice.invoice_no.clone(),
            issue_month: japanese_month(self.month.next()),
            slips: slips
                .iter()
                .map(|s| SlipContent {
                    store_name: store(&s.store),
                    slip_no: s.slip_no.to_string(),
                    item_no: s.item_no.to_string(),
                    item_name: s.item_name.to_string(),
                    keychip: s.keychip.as_ref().map_or("-".into(), ToString::to_string),
                    adjusted_month: japanese_month(s.adjusted_month),
                    transfer_date: japanese_date(s.transfer_date),
                    quantity: grouped(s.quantity),
                    unit_price: s.unit_price.grouped(),
                    amount: s.amount.grouped(),
                    description: s.description.to_string(),
                })
                .collect(),
            total: Yen(total).with_mark(),
        };
        let number = &invoice.invoice_no;
        let name = format!("adjustments-{number}.pdf");
        self.plan(
            &invoice.partner,
            Some(number),
            DocumentKind::Adjustments,
            name,
            &content,
        )
    }

    fn notice(
        &self,
        partner: &PartnerCode,
        invoice: Option<&Invoice>,
        totals: &PaymentTotals,
        rates: &Rates,
    ) -> Planned {
        let mut items: Vec<NoticeItem> = totals
            .lines(rates)
            .into_iter()
            .map(|l| NoticeItem {
                code: l.code.to_owned(),
                label: l.label.to_owned(),
                amount: l.amount.grouped(),
                note: l.note,
            })
            .collect();
        let pay = items.pop().expect("the lines end with PAY");
        let reissue = invoice.filter(|i| i.replaces.is_some());
        let content = PaymentNoticeContent {
            header: self.header(partner, reissue.and_then(|i| i.replaces.as_ref())),
            closing_month: japanese_month(self.month),
            payment_date: japanese_date(self.payment_date),
            processor: party_of(&self.settings.emoney_processor),
            items,
            pay,
        };
        let month = self.month;
        let name = match reissue {
            Some(i) => format!("payment-notice-{month}-{}.pdf", i.invoice_no),
            None => format!("payment-notice-{month}.pdf"),
        };
        let number = invoice.map(|i| &i.invoice_no);
        self.plan(partner, number, DocumentKind::PaymentNotice, name, &content)
    }

    /// The void notice of an issued invoice: `invoice-<no>-void.pdf`, marked 無効 with the
    /// reason, dated as the invoice was.
    pub fn void_notice(&self, record: &InvoiceRecord, reason: &str) -> Result<Planned, CloseError> {
        let partner = PartnerCode::parse(&record.partner_code)
            .map_err(|e| CloseError::Refused(e.to_string()))?;
        let content = InvoiceContent {
            header: self.header(&partner, record.replaces.as_ref()),
            number: record.invoice_no.clone(),
            lines: Vec::new(),
            taxes: Vec::new(),
            subtotal: Yen(record.subtotal).with_mark(),
            tax: Yen(record.tax).with_mark(),
            total: Yen(record.total).with_mark(),
            void_reason: Some(reason.to_owned()),
        };
        let number = &record.invoice_no;
        let name = format!("invoice-{number}-void.pdf");
        Ok(self.plan(
            &partner,
            Some(number),
            DocumentKind::VoidNotice,
            name,
            &content,
        ))
    }
}

fn party_of(issuer: &Issuer) -> Party {
    Party {
        code: String::new(),
        name: issuer.name.clone(),
        registration_number: issuer.registration_number.clone(),
        registered_name: "-".into(),
    }
}

fn line(line: &InvoiceLine) -> InvoiceLineContent {
    InvoiceLineContent {
        item: line.item_name.clone(),
        charge: line.charge_name.clone(),
        play_month: match (&line.play_month, &line.slip_no) {
            (Some(month), _) => japanese_month(*month),
            (None, Some(slip)) => format!("調整 {slip}"),
            (None, None) => "-".into(),
        },
        count: grouped(line.count),
        unit_price: UnitPrice(line.unit_price).grouped(),
        amount: line.amount.grouped(),
        tax_rate: format!("{}%", line.tax_rate),
    }
}

/// Render `planned`, put each PDF in the lake under its final name, and return what the
/// commit records, in the order planned. Batch by batch: a batch's PDFs are put ([`AT_ONCE`] at
/// a time) while the next batch renders, and are in the lake before the one after it is
/// rendered, so memory holds two batches whatever the number of partners. A document that
/// fails to render stops the issue (what was put is rewritten, byte for byte, by the rerun).
pub(super) async fn issue(
    lake: &Location,
    month: Month,
    planned: Vec<Planned>,
) -> Result<Vec<DocumentRecord>, CloseError> {
    let renderer = std::sync::Arc::new(Renderer::new());
    let render = |batch: &[Planned]| {
        let documents: Vec<Document> = batch.iter().map(|p| p.document.clone()).collect();
        let renderer = renderer.clone();
        tokio::task::spawn_blocking(move || renderer.render(&documents))
    };
    let mut records = Vec::with_capacity(planned.len());
    let mut batches = planned.chunks(BATCH);
    let mut rendering = batches.next().map(|batch| (batch, render(batch)));
    while let Some((batch, rendered)) = rendering.take() {
        let rendered = rendered.await.expect("rendering does not panic");
        rendering = batches.next().map(|batch| (batch, render(batch)));
        let puts = batch
            .iter()
            .zip(rendered)
            .map(|(plan, pdf)| async move { put(lake, month, plan, pdf?).await });
        let issued: Vec<DocumentRecord> = futures::stream::iter(puts)
            .buffered(AT_ONCE)
            .try_collect()
            .await?;
        records.extend(issued);
    }
    Ok(records)
}

/// Put one document in the lake: its record.
async fn put(
    lake: &Location,
    month: Month,
    plan: &Planned,
    pdf: Vec<u8>,
) -> Result<DocumentRecord, CloseError> {
    let path = document_path(month, plan.partner.as_str(), &plan.document.file_name);
    let record = DocumentRecord {
        path: path.clone(),
        month,
        partner_code: plan.partner.to_string(),
        invoice_no: plan.invoice_no.clone(),
        kind: plan.kind,
        sha256: hex::encode(Sha256::digest(&pdf)),
        size: pdf.len() as i64,
    };
    lake.put(&path, pdf).await?;
    crate::failpoint("close-document-put");
    Ok(record)
}

/// What `kakin verify` found: how many documents were checked, and each that is missing from
/// the lake or differs from what was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub checked: usize,
    pub problems: Vec<String>,
}

/// `kakin verify`: every document recorded, read back from the lake and hashed.
pub async fn verify(db: &Database, lake: &Location) -> Result<Verification, CloseError> {
    let records = db.documents().await?;
    let mut problems = Vec::new();
    for record in &records {
        match lake.get_if_present(&record.path).await? {
            None => problems.push(format!("{}: missing", record.path)),
            Some(bytes) => {
                let sha256 = hex::encode(Sha256::digest(&bytes));
                if sha256 != record.sha256 {
                    problems.push(format!(
                        "{}: SHA-256 {sha256}, issued as {}",
                        record.path, record.sha256
                    ));
                }
            }
        }
    }
    Ok(Verification {
        checked: records.len(),
        problems,
    })
}
