//! The `totals` view: 支払合計 as the guide's 6-9 to 6-11 show it, for the selected store and
//! title. A selection's statement is computed from that selection's payment details (and, for
//! a store, its adjustment slips) with the rules of `statements.md` — the same function the
//! close uses — never as a share of the partner's statement.

use super::cells::Cell;
use super::{matches, ExportError, ExportRequest};
use crate::domain::{payment_totals, Issuer, PaymentFigures, Percent, Rates, Yen};
use crate::domain::{AdjustmentKind, Month, Parse, PaymentMethod};
use crate::lake::layout::{Area, StatementTable};
use crate::lake::schema::col;
use crate::lake::{Columns, Location};
use std::collections::BTreeMap;

/// The guide's store and title choices (6-9): by name or code; none means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub store: Option<String>,
    pub title: Option<String>,
}

/// The fields the totals view can be filtered on (the guide's 6-9 form).
pub(super) const FILTERED: [&str; 3] = ["取引先コード", "取引先名", "集計対象期間"];

/// One partner's selection in one month: what its statement is computed from.
#[derive(Default)]
struct Selected {
    name: String,
    /// The names of the selected store and title, as the details spell them.
    store_name: Option<String>,
    title_name: Option<String>,
    payments: Vec<PaymentFigures>,
    slips: Vec<(AdjustmentKind, Yen)>,
}

impl Selection {
    /// Whether row `i` of a table with stores and titles is in the selection.
    fn holds(&self, table: &Columns, i: usize) -> bool {
        let chosen = |choice: &Option<String>, code: &str, name: &str| {
            choice.as_deref().is_none_or(|c| {
                table.has(code)
                    && (Some(c) == table.text(code, i) || Some(c) == table.text(name, i))
            })
        };
        chosen(&self.store, col::STORE_CODE, col::STORE_NAME)
            && (self.title.is_none() || chosen(&self.title, col::TITLE_CODE, col::TITLE_NAME))
    }
}

/// The partner of row `i`, its selection started if it is the first of its rows.
fn partner_of<'a>(
    partners: &'a mut BTreeMap<String, Selected>,
    table: &Columns,
    i: usize,
) -> &'a mut Selected {
    let code = table.text(col::PARTNER_CODE, i).unwrap_or_default();
    let selected = partners.entry(code.to_owned()).or_default();
    let text = |column: &str| table.has(column).then(|| table.text(column, i)).flatten();
    selected.name = text(col::PARTNER_NAME).unwrap_or_default().to_owned();
    selected.store_name = text(col::STORE_NAME)
        .map(str::to_owned)
        .or(selected.store_name.take());
    selected.title_name = text(col::TITLE_NAME)
        .map(str::to_owned)
        .or(selected.title_name.take());
    selected
}

/// Each partner's selected payment details and slips of one month.
async fn select(
    lake: &Location,
    area: Area,
    month: Month,
    selection: &Selection,
    totals: &Columns<'_>,
) -> Result<BTreeMap<String, Selected>, ExportError> {
    let mut partners = BTreeMap::new();
    if selection.store.is_none() {
        for i in 0..totals.len() {
            partner_of(&mut partners, totals, i);
        }
    }
    if let Some(batch) = lake
        .get_batch(&StatementTable::PaymentDetails.path(area, month))
        .await?
    {
        let details = Columns::new(&batch);
        for i in (0..details.len()).filter(|&i| selection.holds(&details, i)) {
            partner_of(&mut partners, &details, i)
                .payments
                .push(PaymentFigures {
                    method: details
                        .text(col::PAYMENT_METHOD, i)
                        .and_then(|m| PaymentMethod::parse(m).ok()),
                    count: details.int(col::COUNT, i).unwrap_or_default(),
                    amount: details.yen(col::AMOUNT, i),
                    refund_unit_price: details
                        .decimal(col::REFUND_UNIT_PRICE, i)
                        .unwrap_or_default(),
                });
        }
    }
    // Slips carry a store and no title: a title selection has none (`holds` says no).
    if let Some(batch) = lake
        .get_batch(&StatementTable::Adjustments.path(area, month))
        .await?
    {
        let slips = Columns::new(&batch);
        for i in (0..slips.len()).filter(|&i| selection.holds(&slips, i)) {
            let kind = slips
                .text(col::KIND, i)
                .and_then(|k| AdjustmentKind::parse(k).ok());
            let amount = slips.yen(col::AMOUNT, i).unwrap_or_default();
            if let Some(kind) = kind {
                partner_of(&mut partners, &slips, i)
                    .slips
                    .push((kind, amount));
            }
        }
    }
    Ok(partners)
}

/// The rates a close recorded with row `i` of its `payment_totals`.
fn recorded_rates(totals: &Columns, i: usize) -> Option<Rates> {
    Some(Rates {
        aimepay_fee: Percent(totals.decimal("aimepay_fee", i)?),
        emoney_fee: Percent(totals.decimal("emoney_fee", i)?),
        consumption_tax: Percent(totals.decimal("consumption_tax", i)?),
    })
}

/// How a statement names its selection: the selected store's or title's name, or "all".
fn chosen_name<'a>(choice: &'a Option<String>, seen: &'a Option<String>, all: &'a str) -> &'a str {
    match choice {
        None => all,
        Some(given) => seen.as_deref().unwrap_or(given),
    }
}

pub(super) async fn rows(
    lake: &Location,
    area: Area,
    months: &[Month],
    request: &ExportRequest,
    issuer: &Issuer,
) -> Result<Vec<Vec<Cell>>, ExportError> {
    let selection = &request.selection;
    let mut rows = Vec::new();
    for &month in months {
        let Some(batch) = lake
            .get_batch(&StatementTable::PaymentTotals.path(area, month))
            .await?
        else {
            continue;
        };
        let totals = Columns::new(&batch);
        for (code, selected) in select(lake, area, month, selection, &totals).await? {
            let summary = [
                Cell::text(&code),
                Cell::text(&selected.name),
                Cell::month(month),
            ];
            if !matches(&FILTERED, &summary, &request.filters) {
                continue;
            }
            // The partner's statement over all titles: what the close recorded, rates included.
            let row = (0..totals.len()).find(|&i| {
                totals.text(col::PARTNER_CODE, i) == Some(&code)
                    && totals.text(col::TITLE_CODE, i).is_none()
            });
            let rates = row
                .and_then(|i| recorded_rates(&totals, i))
                .ok_or_else(|| {
                    ExportError::Invalid(format!(
                        "payment_totals of {month} has no rates for {code}"
                    ))
                })?;
            let statement = payment_totals(&selected.payments, &selected.slips, rates)
                .map_err(|e| ExportError::Invalid(format!("{code}: {e}")))?;
            let registration = row.and_then(|i| totals.text(col::REGISTRATION_NUMBER, i));
            let registered = row.and_then(|i| totals.text(col::REGISTERED_NAME, i));
            let payment_date = row.and_then(|i| totals.date(col::PAYMENT_DATE, i));
            let pairs = [
                ("発行元名", Cell::text(&issuer.name)),
                ("登録番号", Cell::text(&issuer.registration_number)),
                ("取引先コード", Cell::text(&code)),
                ("取引先名", Cell::text(&selected.name)),
                ("登録番号", Cell::text(registration.unwrap_or_default())),
                ("登録名", Cell::text_or_dash(registered)),
                ("集計対象期間", Cell::month(month)),
                ("お支払日", payment_date.map_or(Cell::Dash, Cell::date)),
                (
                    "店舗名",
                    Cell::text(chosen_name(
                        &selection.store,
                        &selected.store_name,
                        "全店舗",
                    )),
                ),
                (
                    "対象タイトル名",
                    Cell::text(chosen_name(&selection.title, &selected.title_name, "全て")),
                ),
            ];
            rows.push(vec![Cell::text("項目"), Cell::text("内容")]);
            rows.extend(pairs.into_iter().map(|(k, v)| vec![Cell::text(k), v]));
            rows.push(
                super::View::Totals
                    .headers()
                    .iter()
                    .map(Cell::text)
                    .collect(),
            );
            for line in statement.lines(&rates) {
                let note = Cell::text(line.note);
                rows.push(vec![Cell::text(line.label), Cell::int(line.amount.0), note]);
            }
        }
    }
    Ok(rows)
}
