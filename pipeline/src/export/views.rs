//! The site's detail views (`lake.md`, "CSV exports"): each is a statement table of the lake,
//! its columns in the guide's order under the guide's headers. The daily views list every day
//! of the play month, the days without sales or plays as 0.

use super::cells::Cell;
use crate::domain::{Month, Parse};
use crate::lake::schema::col;
use crate::lake::Columns;
use chrono::NaiveDate;

/// A view's rows from one table of one month (of `adjustments`, the slips of `kinds`).
pub(super) fn rows(view: super::View, table: &Columns, kinds: super::SlipKinds) -> Vec<Vec<Cell>> {
    use super::View::*;
    match view {
        Invoices => each(table, invoice),
        Billing => each(table, billing),
        Adjustments => (0..table.len())
            .filter(|&i| kinds.lists(table.text(col::KIND, i)))
            .map(|i| adjustment(table, i))
            .collect(),
        Payments => each(table, payment),
        Reference => each(table, reference),
        BillingDaily => every_day(table, billing_daily),
        PaymentsDaily => every_day(table, payment_daily),
        ReferenceDaily => every_day(table, reference_daily),
        Totals => unreachable!("the totals view is computed, not read"),
    }
}

fn each(table: &Columns, row: impl Fn(&Columns, usize) -> Vec<Cell>) -> Vec<Vec<Cell>> {
    (0..table.len()).map(|i| row(table, i)).collect()
}

/// The columns that tell the detail rows of a daily table apart (all but the day's figures).
const DAILY_FIGURES: [&str; 4] = [col::PLAY_DATE, col::COUNT, col::AMOUNT, col::REFUND_AMOUNT];

/// Each detail row of a daily table with every day of its play month: `row(table, template,
/// data, day)` gets the row the day has, if any, and a row of the same detail.
fn every_day(
    table: &Columns,
    row: impl Fn(&Columns, usize, Option<usize>, Option<NaiveDate>) -> Vec<Cell>,
) -> Vec<Vec<Cell>> {
    let identity = |i: usize| table.identity(i, &DAILY_FIGURES);
    let mut out = Vec::new();
    let mut start = 0;
    while start < table.len() {
        let key = identity(start);
        let end = (start..table.len())
            .find(|&i| identity(i) != key)
            .unwrap_or(table.len());
        let month = month(table, start);
        for day in month.days() {
            let data = (start..end).find(|&i| table.date(col::PLAY_DATE, i) == Some(day));
            out.push(row(table, start, data, Some(day)));
        }
        start = end;
    }
    out
}

fn month(table: &Columns, row: usize) -> Month {
    Month::parse(table.text(col::PLAY_MONTH, row).unwrap_or_default())
        .expect("statement tables hold months")
}

fn text(table: &Columns, column: &str, row: usize) -> Cell {
    Cell::text_or_dash(table.text(column, row))
}

fn int(table: &Columns, column: &str, row: usize) -> Cell {
    Cell::int_or_dash(table.int(column, row))
}

/// A day's figure: the row's, 0 on a day without one, `-` where the detail has none.
fn day_int(table: &Columns, column: &str, template: usize, data: Option<usize>) -> Cell {
    match data {
        Some(row) => int(table, column, row),
        None if table.int(column, template).is_none() => Cell::Dash,
        None => Cell::int(0),
    }
}

fn issue_month(table: &Columns, row: usize) -> Cell {
    table
        .date(col::ISSUE_DATE, row)
        .map_or(Cell::Dash, |d| Cell::month(Month::of(d)))
}

fn invoice(t: &Columns, i: usize) -> Vec<Cell> {
    vec![
        issue_month(t, i),
        text(t, col::PARTNER_NAME, i),
        text(t, col::PARTNER_CODE, i),
        text(t, col::INVOICE_NO, i),
        text(t, col::DOCUMENT, i),
    ]
}

fn billing(t: &Columns, i: usize) -> Vec<Cell> {
    vec![
        issue_month(t, i),
        text(t, col::PARTNER_CODE, i),
        text(t, col::PARTNER_NAME, i),
        text(t, col::STORE_NAME, i),
        Cell::month(month(t, i)),
        text(t, col::KEYCHIP_ID, i),
        text(t, col::ALLNET_CLASS, i),
        text(t, col::ITEM_NAME, i),
        text(t, col::CHARGE_NAME, i),
        int(t, col::COUNT, i),
        Cell::decimal_or_dash(t.decimal(col::UNIT_PRICE, i)),
        int(t, col::AMOUNT, i),
    ]
}

fn billing_daily(
    t: &Columns,
    template: usize,
    data: Option<usize>,
    day: Option<NaiveDate>,
) -> Vec<Cell> {
    let day = day.expect("a daily row has its day");
    vec![
        text(t, col::PARTNER_CODE, template),
        text(t, col::PARTNER_NAME, template),
        text(t, col::STORE_NAME, template),
        Cell::month(month(t, template)),
        Cell::day(day),
        text(t, col::KEYCHIP_ID, template),
        text(t, col::ITEM_NAME, template),
        text(t, col::CHARGE_NAME, template),
        day_int(t, col::COUNT, template, data),
        Cell::decimal_or_dash(t.decimal(col::UNIT_PRICE, template)),
        day_int(t, col::AMOUNT, template, data),
    ]
}

fn adjustment(t: &Columns, i: usize) -> Vec<Cell> {
    let adjusted = Month::parse(t.text(col::ADJUSTED_MONTH, i).unwrap_or_default())
        .expect("adjustments hold months");
    vec![
        Cell::month(adjusted.next()),
        text(t, col::PARTNER_CODE, i),
        text(t, col::PARTNER_NAME, i),
        text(t, col::STORE_NAME, i),
        text(t, col::SLIP_NO, i),
        text(t, col::ITEM_NO, i),
        text(t, col::ITEM_NAME, i),
        text(t, col::KEYCHIP_ID, i),
        Cell::month(adjusted),
        t.date(col::TRANSFER_DATE, i).map_or(Cell::Dash, Cell::date),
        int(t, col::QUANTITY, i),
        int(t, col::UNIT_PRICE, i),
        int(t, col::AMOUNT, i),
        text(t, col::DESCRIPTION, i),
    ]
}

/// The leading cells of 支払明細 and 参考情報, with the day after プレイ年月 in a daily view.
fn product_leading(t: &Columns, i: usize, day: Option<NaiveDate>) -> Vec<Cell> {
    let mut cells = vec![
        text(t, col::PARTNER_CODE, i),
        text(t, col::PARTNER_NAME, i),
        text(t, col::STORE_NAME, i),
        Cell::month(month(t, i)),
    ];
    cells.extend(day.map(Cell::day));
    cells.extend([
        text(t, col::KEYCHIP_ID, i),
        text(t, col::TITLE_NAME, i),
        text(t, col::PRODUCT_NAME, i),
        text(t, col::CATEGORY, i),
    ]);
    cells
}

fn payment(t: &Columns, i: usize) -> Vec<Cell> {
    payment_daily(t, i, Some(i), None)
}

/// A row of 支払明細, or (with a day) of its daily view: 参考情報's cells and the refund.
fn payment_daily(
    t: &Columns,
    template: usize,
    data: Option<usize>,
    day: Option<NaiveDate>,
) -> Vec<Cell> {
    let mut cells = reference_daily(t, template, data, day);
    cells.extend([
        Cell::decimal_or_dash(t.decimal(col::REFUND_UNIT_PRICE, template)),
        day_int(t, col::REFUND_AMOUNT, template, data),
    ]);
    cells
}

fn reference(t: &Columns, i: usize) -> Vec<Cell> {
    reference_daily(t, i, Some(i), None)
}

/// A row of 参考情報, or (with a day) of its daily view.
fn reference_daily(
    t: &Columns,
    template: usize,
    data: Option<usize>,
    day: Option<NaiveDate>,
) -> Vec<Cell> {
    let mut cells = product_leading(t, template, day);
    cells.extend([
        day_int(t, col::COUNT, template, data),
        Cell::decimal_or_dash(t.decimal(col::UNIT_PRICE, template)),
        day_int(t, col::AMOUNT, template, data),
    ]);
    cells
}
