//! The emails of a close or a reissue (`lake.md`, "Emails"): one to each partner whose
//! `notify` is true and who has an address, for whom documents were issued, with those
//! documents attached. They are queued in the transaction that commits the close.

use super::statements::Statements;
use super::CloseSettings;
use crate::db::{DocumentRecord, NewEmail};
use crate::domain::{DocumentKind, MasterData, Month, Parse, PartnerCode};
use crate::notify::{compose, Announcement};
use std::collections::BTreeMap;

/// The emails announcing `documents`, one per partner that asked to be told.
pub(super) fn announcements(
    master: &MasterData,
    settings: &CloseSettings,
    month: Month,
    statements: &Statements,
    documents: &[DocumentRecord],
) -> Vec<NewEmail> {
    let mut by_partner: BTreeMap<&str, Vec<&DocumentRecord>> = BTreeMap::new();
    for document in documents
        .iter()
        .filter(|d| d.kind != DocumentKind::VoidNotice)
    {
        by_partner
            .entry(&document.partner_code)
            .or_default()
            .push(document);
    }
    let domain = &settings.mail_domain;
    by_partner
        .into_iter()
        .filter_map(|(code, documents)| {
            let partner = PartnerCode::parse(code).ok()?;
            let record = master.partners.get(&partner)?;
            let recipient = record.email.as_ref().filter(|_| record.notify)?;
            let invoice = statements.invoices.iter().find(|i| i.partner == partner);
            let has_notice = documents
                .iter()
                .any(|d| d.kind == DocumentKind::PaymentNotice);
            let pay = has_notice
                .then(|| statements.totals_of(&partner).map(|t| t.pay))
                .flatten();
            let announcement = Announcement {
                partner_code: code.to_owned(),
                partner_name: record.name.to_string(),
                recipient: recipient.as_str().to_owned(),
                month,
                invoice_no: invoice.map(|i| i.invoice_no.clone()),
                invoice_total: invoice.map(|i| i.total),
                pay,
                payment_date: settings.dates(month).payment,
                replaces: invoice.and_then(|i| i.replaces.clone()),
                attachments: documents.iter().map(|d| d.path.clone()).collect(),
                issuer_name: settings.issuer.name.clone(),
            };
            Some(compose(&announcement, domain))
        })
        .collect()
}
