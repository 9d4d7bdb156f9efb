//! The `totals` view: 支払合計 as the guide's 6-9 to 6-11 show it, for the selected store and
//! title. A selection's statement is computed from that selection's payment details (and, for
//! a store, its adjustment slips) with the rules of `statements.md` — the same function the
//! close uses — never as a share of the partner's statement.

use super::cells::Cell;
use super::{matches, ExportError, ExportRequest};
use crate::close::{payment_totals, table_path, Area, PaymentFigures, PaymentTotals, Rates};
use crate::db::Database;
use crate::domain::{AdjustmentKind, Month, Parse, PaymentMethod};
use crate::lake::{Columns, Location};
use std::collections::BTreeMap;

/// The platform, as every statement shows it.
#[derive(Debug, Clone, Default)]
pub struct Issuer {
    pub name: String,
    pub registration_number: String,
}

/// The guide's store and title choices (6-9): by name or code; none means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub store: Option<String>,
    pub title: Option<String>,
}

/// The fields the totals view can be filtered on (the guide's 6-9 form).
pub(super) const FILTERED: [&str; 3] = ["取引先コード", "取引先名", "集計対象期間"];

/// The item labels and notes of the guide's 6-11.
fn labelled(t: &PaymentTotals, rates: &Rates) -> Vec<(String, i64, String)> {
    let tax = rates.consumption_tax.normalize();
    let items = [
        ("(A1) AimePay決済金額", t.a1, String::new()),
        (
            "(A2) AimePay利用手数料(税込)",
            t.a2,
            format!("AimePay決済金額(A1) × {}%", rates.aimepay_fee.normalize()),
        ),
        ("(B1) 電子マネー決済金額", t.b1, String::new()),
        (
            "(B2) 電子マネー決済手数料(税抜)",
            t.b2,
            format!("電子マネー決済金額(B1) × {}%", rates.emoney_fee.normalize()),
        ),
        (
            "(B3) 決済手数料消費税",
            t.b3,
            format!("電子マネー決済手数料(B2) × 消費税({tax}%)"),
        ),
        ("(B4) 電子マネー利用手数料預り金(B2 + B3)", t.b4, String::new()),
        ("(C1) 販売委託手数料(税込)", t.c1, "利用回数 × 返金単価".into()),
        ("(D1) 支払金額(税込)", t.d1, "キャンペーン協力金等".into()),
        ("(E1) 手数料等返金額(税込)", t.e1, String::new()),
        ("(F1) AimePay利用手数料(税込)(A2)", t.f1, String::new()),
        ("(F2) 手数料等返金額(税込)(E1)", t.f2, String::new()),
        ("(F3) 課税売上税込金額(F1 - F2)", t.f3, String::new()),
        ("(F4) 消費税相当金額", t.f4, format!("{tax}%")),
        ("(G1) 課税仕入税込金額(C1 + D1)", t.g1, String::new()),
        ("(G2) 消費税相当金額", t.g2, format!("{tax}%")),
        (
            "お支払合計金額(A1 + B1 - B4 - F3 + G1)",
            t.pay,
            "AimePay決済金額 + 電子マネー決済金額 - 電子マネー利用手数料預り金 - 課税売上税込金額 + 課税仕入税込金額".into(),
        ),
    ];
    items
        .into_iter()
        .map(|(label, value, note)| (label.to_owned(), value, note))
        .collect()
}

/// One partner's selection in one month: what its statement is computed from.
#[derive(Default)]
struct Selected {
    name: String,
    payments: Vec<PaymentFigures>,
    slips: Vec<(AdjustmentKind, i64)>,
}

pub(super) async fn rows(
    db: &Database,
    lake: &Location,
    area: Area,
    months: &[Month],
    request: &ExportRequest,
    issuer: &Issuer,
) -> Result<Vec<Vec<Cell>>, ExportError> {
    let master = db.master_data().await?;
    let selection = &request.selection;
    let chosen = |choice: &Option<String>, code: Option<&str>, name: Option<&str>| {
        choice
            .as_deref()
            .is_none_or(|c| Some(c) == code || Some(c) == name)
    };
    let mut rows = Vec::new();
    for &month in months {
        let rates = Rates::on(&master, month.last_day()).map_err(ExportError::Invalid)?;
        let mut partners: BTreeMap<String, Selected> = BTreeMap::new();
        let Some(totals) = lake
            .get_batch(&table_path(area, "payment_totals", month))
            .await?
        else {
            continue;
        };
        let totals = Columns::new(&totals);
        if selection.store.is_none() {
            for i in 0..totals.len() {
                let partner = totals
                    .text("partner_code", i)
                    .unwrap_or_default()
                    .to_owned();
                partners.entry(partner).or_default().name = totals
                    .text("partner_name", i)
                    .unwrap_or_default()
                    .to_owned();
            }
        }
        if let Some(batch) = lake
            .get_batch(&table_path(area, "payment_details", month))
            .await?
        {
            let details = Columns::new(&batch);
            for i in 0..details.len() {
                let store = chosen(
                    &selection.store,
                    details.text("store_code", i),
                    details.text("store_name", i),
                );
                let title = chosen(
                    &selection.title,
                    details.text("title_code", i),
                    details.text("title_name", i),
                );
                if !(store && title) {
                    continue;
                }
                let partner = details.text("partner_code", i).unwrap_or_default();
                let selected = partners.entry(partner.to_owned()).or_default();
                selected.name = details
                    .text("partner_name", i)
                    .unwrap_or_default()
                    .to_owned();
                selected.payments.push(PaymentFigures {
                    method: details
                        .text("payment_method", i)
                        .and_then(|m| PaymentMethod::parse(m).ok()),
                    count: details.int("count", i).unwrap_or_default(),
                    amount: details.int("amount", i),
                    refund_unit_price: details.decimal("refund_unit_price", i).unwrap_or_default(),
                });
            }
        }
        // Slips carry a store and no title: a title selection has none.
        if selection.title.is_none() {
            if let Some(batch) = lake
                .get_batch(&table_path(area, "adjustments", month))
                .await?
            {
                let slips = Columns::new(&batch);
                for i in 0..slips.len() {
                    let store = chosen(
                        &selection.store,
                        slips.text("store_code", i),
                        slips.text("store_name", i),
                    );
                    let kind = slips
                        .text("kind", i)
                        .and_then(|k| AdjustmentKind::parse(k).ok());
                    let (Some(kind), true) = (kind, store) else {
                        continue;
                    };
                    let partner = slips.text("partner_code", i).unwrap_or_default();
                    let selected = partners.entry(partner.to_owned()).or_default();
                    selected.name = slips.text("partner_name", i).unwrap_or_default().to_owned();
                    selected
                        .slips
                        .push((kind, slips.int("amount", i).unwrap_or_default()));
                }
            }
        }
        for (code, selected) in partners {
            let summary = [
                Cell::text(&code),
                Cell::text(&selected.name),
                Cell::month(month),
            ];
            if !matches(&FILTERED, &summary, &request.filters) {
                continue;
            }
            let statement = payment_totals(&selected.payments, &selected.slips, rates);
            let row = (0..totals.len()).find(|&i| totals.text("partner_code", i) == Some(&code));
            let registration = row.and_then(|i| totals.text("registration_number", i));
            let registered = row.and_then(|i| totals.text("registered_name", i));
            let payment_date = row.and_then(|i| totals.date("payment_date", i));
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
                    Cell::text(selection.store.as_deref().unwrap_or("全店舗")),
                ),
                (
                    "対象タイトル名",
                    Cell::text(selection.title.as_deref().unwrap_or("全て")),
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
            for (label, value, note) in labelled(&statement, &rates) {
                rows.push(vec![Cell::text(label), Cell::int(value), Cell::text(note)]);
            }
        }
    }
    Ok(rows)
}
