//! The statement tables of a close as the lake holds them (`lake.md`, "Statement tables"):
//! rows in the order of their keys, names copied in; where each goes is
//! [`layout`](crate::lake::layout)'s.

use super::attribution::Place;
use super::invoicing::Invoice;
use super::statements::Statements;
use crate::db::InvoiceRecord;
use crate::domain::PaymentTotals;
use crate::domain::{MasterData, Month, Parse, PartnerCode, StoreCode, Text, TitleCode};
use crate::lake::cells::{decimal, int, optional, text};
use crate::lake::layout::{Area, StatementTable};
use crate::lake::{Cell, Columns, Kind, LakeResult, Location, Table};
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

/// The columns of 支払明細 and 参考情報: those of [`Names::product_cells`], then `rest`.
fn product_columns(rest: &[Column]) -> Vec<Column> {
    use Kind::*;
    let mut columns = vec![
        ("partner_code", Text, false),
        ("partner_name", Text, false),
        ("store_code", Text, false),
        ("store_name", Text, false),
        ("play_month", Text, false),
        ("keychip_id", Text, false),
        ("title_code", Text, false),
        ("title_name", Text, false),
        ("product_name", Text, false),
        ("category", Text, false),
    ];
    columns.extend_from_slice(rest);
    columns
}

type Column = (&'static str, Kind, bool);

/// A detail table and its daily view: the view has the detail's leading cells, the day, and
/// that day's figures.
struct WithDaily {
    details: Table,
    daily: Table,
}

impl WithDaily {
    fn new(leading: &[Column], figures: &[Column]) -> WithDaily {
        let day = [("play_date", Kind::Date, false)];
        WithDaily {
            details: Table::new(&[leading, figures].concat()),
            daily: Table::new(&[leading, &day, figures].concat()),
        }
    }

    /// A detail row with its figures, and its days with theirs.
    fn push<const N: usize>(
        &mut self,
        leading: &[Cell],
        figures: [Cell; N],
        days: impl Iterator<Item = (NaiveDate, [Cell; N])>,
    ) {
        self.details.push([leading, &figures].concat());
        for (date, figures) in days {
            self.daily
                .push([leading, &[Cell::Date(Some(date))], &figures].concat());
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
    dates: StatementDates,
    statements: &Statements,
) -> LakeResult<()> {
    let build = Build {
        names: Names(master),
        dates,
        statements,
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
    dates: StatementDates,
    statements: &Statements,
) -> Vec<(StatementTable, Table)> {
    let build = Build {
        names: Names(master),
        dates,
        statements,
    };
    PARTS.iter().flat_map(|part| part(&build)).collect()
}

/// The dates a statement carries: its issue date and the payment date.
#[derive(Debug, Clone, Copy)]
pub struct StatementDates {
    pub issue: NaiveDate,
    pub payment: NaiveDate,
}

/// What the tables of a close are built from.
struct Build<'a> {
    names: Names<'a>,
    dates: StatementDates,
    statements: &'a Statements,
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
        use Kind::*;
        let billing_leading: [Column; 12] = [
            ("issue_date", Date, false),
            ("partner_code", Text, false),
            ("partner_name", Text, false),
            ("store_code", Text, false),
            ("store_name", Text, false),
            ("play_month", Text, false),
            ("keychip_id", Text, false),
            ("title_code", Text, false),
            ("charge_code", Text, false),
            ("allnet_class", Text, true),
            ("item_name", Text, false),
            ("charge_name", Text, false),
        ];
        let billing_rest: [Column; 4] = [
            ("count", Int, false),
            ("unit_price", Decimal, false),
            ("amount", Int, false),
            ("invoice_no", Text, true),
        ];
        let mut billing = WithDaily::new(&billing_leading, &billing_rest);
        for d in &self.statements.billing {
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
            let rest = |count, amount| {
                [
                    int(count),
                    decimal(d.charge.unit_price.0),
                    int(amount),
                    optional(self.invoice_of(&p.partner)),
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
        use Kind::*;
        let mut adjustments = Table::new(&[
            ("slip_no", Text, false),
            ("partner_code", Text, false),
            ("partner_name", Text, false),
            ("store_code", Text, false),
            ("store_name", Text, false),
            ("keychip_id", Text, true),
            ("item_no", Text, false),
            ("item_name", Text, false),
            ("adjusted_month", Text, false),
            ("transfer_date", Date, false),
            ("quantity", Int, false),
            ("unit_price", Int, false),
            ("amount", Int, false),
            ("kind", Text, false),
            ("description", Text, false),
            ("invoice_no", Text, true),
        ]);
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
        use Kind::*;
        let payment_leading = product_columns(&[
            ("charge_code", Text, true),
            ("product_code", Text, true),
            ("payment_method", Text, true),
        ]);
        let payment_rest: [Column; 5] = [
            ("count", Int, false),
            ("unit_price", Decimal, true),
            ("amount", Int, true),
            ("refund_unit_price", Decimal, false),
            ("refund_amount", Int, false),
        ];
        let mut payments = WithDaily::new(&payment_leading, &payment_rest);
        for d in &self.statements.payments {
            let mut leading =
                self.names
                    .product_cells(&d.place, &d.title, &d.product_name, &d.category);
            let (charge, product) = d.codes();
            leading.extend([optional(charge), optional(product), optional(d.method)]);
            let rest = |count, amount: Option<i64>, refund_amount| {
                [
                    int(count),
                    Cell::Decimal(d.unit_price.map(Exact::from)),
                    Cell::Int(amount),
                    decimal(d.refund_unit_price),
                    int(refund_amount),
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
        use Kind::*;
        let reference_leading = product_columns(&[("product_code", Text, false)]);
        let reference_rest: [Column; 3] = [
            ("count", Int, false),
            ("unit_price", Decimal, false),
            ("amount", Int, false),
        ];
        let mut reference = WithDaily::new(&reference_leading, &reference_rest);
        for r in &self.statements.reference {
            let mut leading =
                self.names
                    .product_cells(&r.place, &r.title, &r.product_name, &r.category);
            leading.push(text(&r.product));
            let rest =
                |count, amount| [int(count), decimal(Exact::from(r.unit_price)), int(amount)];
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
        use Kind::*;
        let mut columns = vec![
            ("partner_code", Text, false),
            ("partner_name", Text, false),
            ("registration_number", Text, true),
            ("registered_name", Text, true),
            ("title_code", Text, true),
        ];
        let items = PaymentTotals::default().items().map(|(label, _)| label);
        let item_columns: Vec<String> = items.iter().map(|l| l.to_lowercase()).collect();
        columns.extend(item_columns.iter().map(|c| (c.as_str(), Int, false)));
        columns.push(("payment_date", Date, false));
        let rates = self.statements.rates.items();
        columns.extend(rates.iter().map(|(name, _)| (*name, Decimal, false)));
        let mut totals = Table::new(&columns);
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
                row.extend(t.items().map(|(_, value)| int(value)));
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
        invoice_tables(&records, invoices, &self.names, self.dates.issue).into()
    }
}

/// `invoices` from the recorded invoices (status, replaced number, void reason), and
/// `invoice_taxes` from the invoices' per-rate taxes.
fn invoice_tables(
    records: &[InvoiceRecord],
    invoices: &[Invoice],
    names: &Names,
    issue_date: NaiveDate,
) -> [(StatementTable, Table); 2] {
    use Kind::*;
    let mut table = Table::new(&[
        ("invoice_no", Text, false),
        ("issue_date", Date, false),
        ("partner_code", Text, false),
        ("partner_name", Text, false),
        ("subtotal", Int, false),
        ("tax", Int, false),
        ("total", Int, false),
        ("status", Text, false),
        ("replaces", Text, true),
        ("void_reason", Text, true),
        ("document", Text, true),
        ("document_sha256", Text, true),
    ]);
    let mut taxes = Table::new(&[
        ("invoice_no", Text, false),
        ("tax_rate", Decimal, false),
        ("subtotal", Int, false),
        ("tax", Int, false),
    ]);
    for invoice in records {
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
            Cell::Text(None),
            Cell::Text(None),
        ]);
    }
    for invoice in invoices {
        for (rate, subtotal, tax) in &invoice.taxes {
            taxes.push(vec![
                text(&invoice.invoice_no),
                decimal(*rate),
                int(*subtotal),
                int(*tax),
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
) -> std::collections::BTreeMap<crate::domain::PartnerCode, i64> {
    let totals = Columns::new(totals);
    (0..totals.len())
        .filter(|&row| totals.text("title_code", row).is_none())
        .filter_map(|row| {
            let partner = crate::domain::PartnerCode::parse(totals.text("partner_code", row)?);
            Some((partner.ok()?, totals.int("pay", row)?))
        })
        .collect()
}
