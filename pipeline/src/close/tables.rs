//! The statement tables of a close as the lake holds them (`lake.md`, "Statement tables"):
//! `<table>/closing_month=M/part-0.parquet`, rows in the order of their keys, names copied in.

use super::statements::{Invoice, Place, Statements};
use crate::domain::{MasterData, Month};
use crate::lake::cells::{decimal, int, optional, text};
use crate::lake::{Cell, Kind, LakeResult, Location, Table};
use chrono::NaiveDate;
use rust_decimal::Decimal as Exact;

/// The names the tables copy in.
struct Names<'a>(&'a MasterData);

impl Names<'_> {
    fn partner(&self, code: &crate::domain::PartnerCode) -> String {
        self.0
            .partners
            .get(code)
            .map(|p| p.name.to_string())
            .unwrap_or_default()
    }
    fn store(&self, code: &crate::domain::StoreCode) -> String {
        self.0
            .stores
            .get(code)
            .map(|s| s.name.to_string())
            .unwrap_or_default()
    }
    fn title(&self, code: &crate::domain::TitleCode) -> String {
        self.0
            .titles
            .get(code)
            .map(|t| t.name.to_string())
            .unwrap_or_default()
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
fn product_columns(rest: &[(&'static str, Kind, bool)]) -> Vec<(&'static str, Kind, bool)> {
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

/// The lake path of `table` for the close of `month`.
pub fn path(table: &str, month: Month) -> String {
    format!("{table}/closing_month={month}/part-0.parquet")
}

pub async fn write(
    lake: &Location,
    master: &MasterData,
    month: Month,
    issue_date: NaiveDate,
    payment_date: NaiveDate,
    statements: &Statements,
) -> LakeResult<()> {
    use Kind::*;
    let names = Names(master);
    let invoice_of = |partner: &crate::domain::PartnerCode| {
        statements
            .invoices
            .iter()
            .find(|i| &i.partner == partner)
            .map(|i| i.invoice_no.clone())
    };

    let mut billing = Table::new(&[
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
        ("count", Int, false),
        ("unit_price", Decimal, false),
        ("amount", Int, false),
        ("invoice_no", Text, true),
    ]);
    for d in &statements.billing {
        let p = &d.place;
        billing.push(vec![
            Cell::Date(Some(issue_date)),
            text(&p.partner),
            text(names.partner(&p.partner)),
            text(&p.store),
            text(names.store(&p.store)),
            text(p.play_month),
            text(&p.keychip),
            text(&d.charge.title),
            text(&d.charge.code),
            optional(d.charge.allnet_class.as_ref()),
            text(&d.charge.item_name),
            text(&d.charge.charge_name),
            int(d.count),
            decimal(d.charge.unit_price.0),
            int(d.amount),
            optional(invoice_of(&p.partner)),
        ]);
    }

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
    for s in &statements.slips {
        let invoice = (s.kind == crate::domain::AdjustmentKind::Billing)
            .then(|| invoice_of(&s.partner))
            .flatten();
        adjustments.push(vec![
            text(&s.slip_no),
            text(&s.partner),
            text(names.partner(&s.partner)),
            text(&s.store),
            text(names.store(&s.store)),
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

    let mut payments = Table::new(&product_columns(&[
        ("payment_method", Text, true),
        ("count", Int, false),
        ("unit_price", Decimal, true),
        ("amount", Int, true),
        ("refund_unit_price", Decimal, false),
        ("refund_amount", Int, false),
    ]));
    for d in &statements.payments {
        let mut row = names.product_cells(&d.place, &d.title, &d.product_name, &d.category);
        row.extend([
            optional(d.method),
            int(d.count),
            Cell::Decimal(d.unit_price.map(Exact::from)),
            Cell::Int(d.amount),
            decimal(d.refund_unit_price),
            int(d.refund_amount),
        ]);
        payments.push(row);
    }

    let mut reference = Table::new(&product_columns(&[
        ("count", Int, false),
        ("unit_price", Decimal, false),
        ("amount", Int, false),
    ]));
    for r in &statements.reference {
        let mut row = names.product_cells(&r.place, &r.title, &r.product_name, &r.category);
        row.extend([
            int(r.count),
            decimal(Exact::from(r.unit_price)),
            int(r.amount),
        ]);
        reference.push(row);
    }

    let item_columns = [
        "a1", "a2", "b1", "b2", "b3", "b4", "c1", "d1", "e1", "f1", "f2", "f3", "f4", "g1", "g2",
        "pay",
    ];
    let mut columns = vec![
        ("partner_code", Text, false),
        ("partner_name", Text, false),
        ("registration_number", Text, true),
        ("registered_name", Text, true),
        ("title_code", Text, true),
    ];
    columns.extend(item_columns.iter().map(|c| (*c, Int, false)));
    columns.push(("payment_date", Date, false));
    let mut totals = Table::new(&columns);
    for (partner, rows) in &statements.totals {
        let record = master.partners.get(partner);
        for (title, t) in rows {
            let mut row = vec![
                text(partner),
                text(names.partner(partner)),
                optional(record.and_then(|p| p.registration_number.as_ref())),
                optional(record.and_then(|p| p.registered_name.as_ref())),
                optional(title.as_ref()),
            ];
            row.extend(
                [
                    t.a1, t.a2, t.b1, t.b2, t.b3, t.b4, t.c1, t.d1, t.e1, t.f1, t.f2, t.f3, t.f4,
                    t.g1, t.g2, t.pay,
                ]
                .map(int),
            );
            row.push(Cell::Date(Some(payment_date)));
            totals.push(row);
        }
    }

    let (invoices, taxes) = invoice_tables(&statements.invoices, &names, issue_date);
    for (name, table) in [
        ("billing_details", billing),
        ("adjustments", adjustments),
        ("payment_details", payments),
        ("reference_info", reference),
        ("payment_totals", totals),
        ("invoices", invoices),
        ("invoice_taxes", taxes),
    ] {
        lake.put_table(&path(name, month), table).await?;
    }
    Ok(())
}

fn invoice_tables(invoices: &[Invoice], names: &Names, issue_date: NaiveDate) -> (Table, Table) {
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
    for invoice in invoices {
        table.push(vec![
            text(&invoice.invoice_no),
            Cell::Date(Some(issue_date)),
            text(&invoice.partner),
            text(names.partner(&invoice.partner)),
            int(invoice.subtotal),
            int(invoice.tax),
            int(invoice.total),
            text("ISSUED"),
            Cell::Text(None),
            Cell::Text(None),
            Cell::Text(None),
            Cell::Text(None),
        ]);
        for (rate, subtotal, tax) in &invoice.taxes {
            taxes.push(vec![
                text(&invoice.invoice_no),
                decimal(*rate),
                int(*subtotal),
                int(*tax),
            ]);
        }
    }
    (table, taxes)
}
