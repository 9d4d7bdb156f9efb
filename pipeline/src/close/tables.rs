//! The statement tables of a close as the lake holds them (`lake.md`, "Statement tables"):
//! rows in the order of their keys, names copied in; where each goes is
//! [`layout`](crate::lake::layout)'s.

use super::attribution::Place;
use super::invoicing::Invoice;
use super::statements::Statements;
use crate::db::{DocumentRecord, InvoiceRecord};
use crate::domain::{
    DocumentKind, MasterData, Month, Parse, PartnerCode, StoreCode, Text, TitleCode,
};
use crate::lake::cells::{decimal, int, optional, optional_yen, text, yen};
use crate::lake::layout::{Area, StatementTable};
use crate::lake::schema::col;
use crate::lake::{Cell, Columns, LakeResult, Location, Table};
use chrono::NaiveDate;
use rust_decimal::Decimal as Exact;
use std::collections::BTreeMap;

/// The names the tables copy in.
struct Names<'a>(&'a MasterData);

/// The name a master table gives `code`, or none (empty) when it has no such row.
fn name_of<K: Ord, V>(rows: &BTreeMap<K, V>, code: &K, name: impl Fn(&V) -> &Text) -> String {
    rows.get(code)
        .map(|row| name(row).to_string())
        .unwrap_or_default()
}

impl Names<'_> {
    fn partner(&self, code: &PartnerCode) -> String {
        name_of(&self.0.partners, code, |p| &p.name)
    }
    fn store(&self, code: &StoreCode) -> String {
        name_of(&self.0.stores, code, |s| &s.name)
    }
    fn title(&self, code: &TitleCode) -> String {
        name_of(&self.0.titles, code, |t| &t.name)
    }
}

impl Names<'_> {
    /// The leading cells of 支払明細 and 参考情報: where, which title, which product.
    fn product_cells(
        &self,
        place: &Place,
        title: &crate::domain::TitleCode,
        product_name: &crate::domain::Text,
        category: &crate::domain::Text,
    ) -> Vec<Cell> {
        vec![
            text(&place.partner),
            text(self.partner(&place.partner)),
            text(&place.store),
            text(self.store(&place.store)),
            text(place.play_month),
            text(&place.keychip),
            text(title),
            text(self.title(title)),
            text(product_name),
            text(category),
        ]
    }
}

/// A detail table and its daily view: the view has the detail's leading cells, the day, and
/// that day's figures.
struct WithDaily {
    details: Table,
    daily: Table,
}

impl WithDaily {
    /// The tables of detail rows with `days` each, encoded as they are built or not
    /// ([`Build::encoded`]).
    fn new(
        details: StatementTable,
        daily: StatementTable,
        days: impl ExactSizeIterator<Item = usize>,
        encoded: bool,
    ) -> WithDaily {
        let table = match encoded {
            true => Table::encoded_as_built,
            false => Table::with_rows,
        };
        WithDaily {
            details: table(&details.columns(), days.len()),
            daily: table(&daily.columns(), days.sum()),
        }
    }

    /// A detail row with its figures, and its days with theirs.
    fn push<const N: usize>(
        &mut self,
        leading: &[Cell],
        figures: [Cell; N],
        days: impl Iterator<Item = (NaiveDate, [Cell; N])>,
    ) {
        self.details.push_cells(leading.iter().chain(&figures));
        for (date, figures) in days {
            let date = Cell::Date(Some(date));
            let row = leading.iter().chain([&date]).chain(&figures);
            self.daily.push_cells(row);
        }
    }

    fn named(self, details: StatementTable, daily: StatementTable) -> Vec<(StatementTable, Table)> {
        vec![(details, self.details), (daily, self.daily)]
    }
}

/// Write the statement tables (and, for a close, the invoice tables) of `month`: built and
/// encoded in parallel, then put in place.
pub async fn write(
    lake: &Location,
    area: Area,
    master: &MasterData,
    month: Month,
    written: Written<'_>,
    statements: &Statements,
) -> LakeResult<()> {
    let build = Build {
        names: Names(master),
        dates: written.dates,
        documents: written.documents,
        statements,
        encoded: true,
    };
    let parts = match area {
        Area::Closed => &PARTS[..],
        Area::Provisional => &PARTS[..PARTS.len() - 1],
    };
    type Encoded = LakeResult<Vec<(StatementTable, Vec<u8>)>>;
    let encoded: Vec<Encoded> = std::thread::scope(|scope| {
        let workers: Vec<_> = parts
            .iter()
            .map(|part| {
                let build = &build;
                scope.spawn(move || {
                    part(build)
                        .into_iter()
                        .map(|(name, table)| Ok((name, table.encode()?)))
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("building a table does not panic"))
            .collect()
    });
    for tables in encoded {
        for (table, bytes) in tables? {
            lake.put(&table.path(area, month), bytes).await?;
        }
    }
    Ok(())
}

/// Every table of a close: the statement tables and the invoice tables.
pub fn close_tables(
    master: &MasterData,
    written: Written<'_>,
    statements: &Statements,
) -> Vec<(StatementTable, Table)> {
    let build = Build {
        names: Names(master),
        dates: written.dates,
        documents: written.documents,
        statements,
        encoded: false,
    };
    PARTS.iter().flat_map(|part| part(&build)).collect()
}

/// The dates a statement carries: its issue date and the payment date.
#[derive(Debug, Clone, Copy)]
pub struct StatementDates {
    pub issue: NaiveDate,
    pub payment: NaiveDate,
}

/// What the tables record besides the statements: their dates and the documents issued.
#[derive(Clone, Copy)]
pub struct Written<'a> {
    pub dates: StatementDates,
    pub documents: &'a [DocumentRecord],
}

/// What the tables of a close are built from.
struct Build<'a> {
    names: Names<'a>,
    dates: StatementDates,
    documents: &'a [DocumentRecord],
    statements: &'a Statements,
    /// Whether the detail tables and daily views are encoded as they are built (to be
    /// written: their rows are not held) or kept as rows (a reissue splices them).
    encoded: bool,
}

type Part = fn(&Build) -> Vec<(StatementTable, Table)>;

/// The builders of a close's tables, in the order of [`StatementTable::ALL`]; the last builds
/// the invoice tables (a close's alone).
const PARTS: [Part; 6] = [
    |b| b.billing(),
    |b| b.adjustments(),
    |b| b.payments(),
    |b| b.reference(),
    |b| b.totals(),
    |b| b.invoices(),
];

impl Build<'_> {
    fn invoice_of(&self, partner: &crate::domain::PartnerCode) -> Option<String> {
        self.statements
            .invoices
            .iter()
            .find(|i| &i.partner == partner)
            .map(|i| i.invoice_no.clone())
    }

    /// `billing_details` and `billing_daily`.
    fn billing(&self) -> Vec<(StatementTable, Table)> {
        let billed = &self.statements.billing;
        let days = billed.iter().map(|d| d.days.len());
        let mut billing = WithDaily::new(
            StatementTable::BillingDetails,
            StatementTable::BillingDaily,
            days,
            self.encoded,
        );
        for d in billed {
            let p = &d.place;
            let leading = vec![
                Cell::Date(Some(self.dates.issue)),
                text(&p.partner),
                text(self.names.partner(&p.partner)),
                text(&p.store),
                text(self.names.store(&p.store)),
                text(p.play_month),
                text(&p.keychip),
                text(&d.charge.title),
                text(&d.charge.code),
                optional(d.charge.allnet_class.as_ref()),
                text(&d.charge.item_name),
                text(&d.charge.charge_name),
            ];
            let invoice = optional(self.invoice_of(&p.partner));
            let rest = |count, amount| {
                [
                    int(count),
                    decimal(d.charge.unit_price.0),
                    yen(amount),
                    invoice.clone(),
                ]
            };
            let days = d
                .daily()
                .map(|(date, count, amount)| (date, rest(count, amount)));
            billing.push(&leading, rest(d.count, d.amount), days);
        }

        billing.named(StatementTable::BillingDetails, StatementTable::BillingDaily)
    }

    fn adjustments(&self) -> Vec<(StatementTable, Table)> {
        let mut adjustments = Table::new(&StatementTable::Adjustments.columns());
        for s in &self.statements.slips {
            let invoice = (s.kind == crate::domain::AdjustmentKind::Billing)
                .then(|| self.invoice_of(&s.partner))
                .flatten();
            adjustments.push(vec![
                text(&s.slip_no),
                text(&s.partner),
                text(self.names.partner(&s.partner)),
                text(&s.store),
                text(self.names.store(&s.store)),
                optional(s.keychip.as_ref()),
                text(&s.item_no),
                text(&s.item_name),
                text(s.adjusted_month),
                Cell::Date(Some(s.transfer_date)),
                int(s.quantity),
                int(s.unit_price.0),
                int(s.amount.0),
                text(s.kind),
                text(&s.description),
                optional(invoice),
            ]);
        }

        vec![(StatementTable::Adjustments, adjustments)]
    }

    /// `payment_details` and `payment_daily`.
    fn payments(&self) -> Vec<(StatementTable, Table)> {
        let paid = &self.statements.payments;
        let days = paid.iter().map(|d| d.days.len());
        let mut payments = WithDaily::new(
            StatementTable::PaymentDetails,
            StatementTable::PaymentDaily,
            days,
            self.encoded,
        );
        for d in paid {
            let mut leading =
                self.names
                    .product_cells(&d.place, &d.title, &d.product_name, &d.category);
            let (charge, product) = d.codes();
            leading.extend([optional(charge), optional(product), optional(d.method)]);
            let rest = |count, amount, refund_amount| {
                [
                    int(count),
                    Cell::Decimal(d.unit_price.map(|p| Exact::from(p.0))),
                    optional_yen(amount),
                    decimal(d.refund_unit_price),
                    yen(refund_amount),
                ]
            };
            let days = d
                .daily()
                .map(|(date, count, amount, refund)| (date, rest(count, amount, refund)));
            payments.push(&leading, rest(d.count, d.amount, d.refund_amount), days);
        }

        payments.named(StatementTable::PaymentDetails, StatementTable::PaymentDaily)
    }

    /// `reference_info` and `reference_daily`.
    fn reference(&self) -> Vec<(StatementTable, Table)> {
        let rows = &self.statements.reference;
        let days = rows.iter().map(|r| r.days.len());
        let mut reference = WithDaily::new(
            StatementTable::ReferenceInfo,
            StatementTable::ReferenceDaily,
            days,
            self.encoded,
        );
        for r in rows {
            let mut leading =
                self.names
                    .product_cells(&r.place, &r.title, &r.product_name, &r.category);
            leading.push(text(&r.product));
            let rest = |count, amount| {
                [
                    int(count),
                    decimal(Exact::from(r.unit_price.0)),
                    yen(amount),
                ]
            };
            let days = r
                .daily()
                .map(|(date, count, amount)| (date, rest(count, amount)));
            reference.push(&leading, rest(r.count, r.amount), days);
        }

        reference.named(
            StatementTable::ReferenceInfo,
            StatementTable::ReferenceDaily,
        )
    }

    fn totals(&self) -> Vec<(StatementTable, Table)> {
        let rates = self.statements.rates.items();
        let mut totals = Table::new(&StatementTable::PaymentTotals.columns());
        for (partner, rows) in &self.statements.totals {
            let record = self.names.0.partners.get(partner);
            for (title, t) in rows {
                let mut row = vec![
                    text(partner),
                    text(self.names.partner(partner)),
                    optional(record.and_then(|p| p.registration_number.as_ref())),
                    optional(record.and_then(|p| p.registered_name.as_ref())),
                    optional(title.as_ref()),
                ];
                row.extend(t.items().map(|(_, value)| yen(value)));
                row.push(Cell::Date(Some(self.dates.payment)));
                row.extend(rates.iter().map(|(_, value)| decimal(*value)));
                totals.push(row);
            }
        }

        vec![(StatementTable::PaymentTotals, totals)]
    }

    /// `invoices` and `invoice_taxes`.
    fn invoices(&self) -> Vec<(StatementTable, Table)> {
        let invoices = &self.statements.invoices;
        let records: Vec<InvoiceRecord> = invoices.iter().map(Invoice::record).collect();
        invoice_tables(
            &records,
            invoices,
            &self.names,
            self.dates.issue,
            self.documents,
        )
        .into()
    }
}

/// `invoices` from the recorded invoices (status, replaced number, void reason), and
/// `invoice_taxes` from the invoices' per-rate taxes.
fn invoice_tables(
    records: &[InvoiceRecord],
    invoices: &[Invoice],
    names: &Names,
    issue_date: NaiveDate,
    documents: &[DocumentRecord],
) -> [(StatementTable, Table); 2] {
    let mut table = Table::new(&StatementTable::Invoices.columns());
    let mut taxes = Table::new(&StatementTable::InvoiceTaxes.columns());
    for invoice in records {
        let document = documents.iter().find(|d| {
            d.kind == DocumentKind::Invoice && d.invoice_no.as_ref() == Some(&invoice.invoice_no)
        });
        let partner = crate::domain::PartnerCode::parse(&invoice.partner_code)
            .expect("recorded partner codes parse");
        table.push(vec![
            text(&invoice.invoice_no),
            Cell::Date(Some(issue_date)),
            text(&invoice.partner_code),
            text(names.partner(&partner)),
            int(invoice.subtotal),
            int(invoice.tax),
            int(invoice.total),
            text(invoice.status),
            optional(invoice.replaces.as_ref()),
            optional(invoice.void_reason.as_ref()),
            optional(document.map(|d| &d.path)),
            optional(document.map(|d| &d.sha256)),
        ]);
    }
    for invoice in invoices {
        for (rate, subtotal, tax) in &invoice.taxes {
            taxes.push(vec![
                text(&invoice.invoice_no),
                decimal(rate.0),
                yen(*subtotal),
                yen(*tax),
            ]);
        }
    }
    [
        (StatementTable::Invoices, table),
        (StatementTable::InvoiceTaxes, taxes),
    ]
}

/// Each partner's PAY over all titles, from a `payment_totals` table.
pub fn all_titles_pay(
    totals: &arrow_array::RecordBatch,
) -> std::collections::BTreeMap<crate::domain::PartnerCode, crate::domain::Yen> {
    let totals = Columns::new(totals);
    (0..totals.len())
        .filter(|&row| totals.text(col::TITLE_CODE, row).is_none())
        .filter_map(|row| {
            let partner = crate::domain::PartnerCode::parse(totals.text(col::PARTNER_CODE, row)?);
            Some((
                partner.ok()?,
                crate::domain::Yen(totals.int(col::PAY, row)?),
            ))
        })
        .collect()
}
