//! `kakin export VIEW`: the billing site's CSV downloads (`lake.md`, "CSV exports"), read from
//! the statement tables of committed closes (or, with `--provisional`, the month to date).
//! Filters are the guide's search forms: partial match on text, from–to ranges on months,
//! dates and numbers, exact choices (ALL.Net区分), and by default the latest 12 closed months.

mod cells;
mod totals;
mod views;

pub use crate::domain::Issuer;
pub use cells::{encode, Cell, EncodeError, Encoding};
pub use totals::Selection;

use crate::db::{Database, DbError};
use crate::domain::{Month, Parse};
use crate::lake::layout::{closing_month_of, Area, StatementTable};
use crate::lake::{Columns, LakeError, Location};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("lake: {0}")]
    Lake(#[from] LakeError),
}

/// A view of `lake.md`'s CSV exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Invoices,
    Billing,
    BillingDaily,
    Adjustments,
    Payments,
    PaymentsDaily,
    Reference,
    ReferenceDaily,
    Totals,
}

impl View {
    pub const ALL: [(&'static str, View); 9] = [
        ("invoices", View::Invoices),
        ("billing", View::Billing),
        ("billing-daily", View::BillingDaily),
        ("adjustments", View::Adjustments),
        ("payments", View::Payments),
        ("payments-daily", View::PaymentsDaily),
        ("reference", View::Reference),
        ("reference-daily", View::ReferenceDaily),
        ("totals", View::Totals),
    ];

    pub fn parse(name: &str) -> Result<View, String> {
        View::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<&str> = View::ALL.iter().map(|(n, _)| *n).collect();
                format!("{name:?} is not a view: one of {}", names.join(", "))
            })
    }

    /// The guide's column headers, in order.
    pub fn headers(self) -> Vec<&'static str> {
        use View::*;
        const PLACE: [&str; 4] = ["取引先コード", "取引先名", "店舗名", "プレイ年月"];
        const DAY: [&str; 1] = ["日時"];
        const PRODUCT: [&str; 4] = ["個体識別番号", "タイトル名", "商品名", "区分"];
        const CHARGE: [&str; 3] = ["個体識別番号", "品名", "課金名"];
        const FIGURES: [&str; 3] = ["回数", "単価", "金額"];
        const REFUND: [&str; 2] = ["返金単価", "返金金額"];
        let parts: &[&[&str]] = match self {
            Invoices => &[&[
                "請求書発行月",
                "取引先名",
                "取引先コード",
                "請求書番号",
                "ファイル",
            ]],
            Billing => &[
                &[
                    "請求書発行月",
                    "取引先コード",
                    "取引先名",
                    "店舗名",
                    "プレイ年月",
                ],
                &["個体識別番号", "ALL.Net区分", "品名", "課金名"],
                &FIGURES,
            ],
            BillingDaily => &[&PLACE, &DAY, &CHARGE, &FIGURES],
            Adjustments => &[
                &[
                    "請求書発行月",
                    "取引先コード",
                    "取引先名",
                    "店舗名",
                    "調整伝票番号",
                ],
                &[
                    "品目番号",
                    "品名",
                    "個体識別番号",
                    "調整日",
                    "振替予定日",
                    "数量",
                ],
                &["単価", "金額", "明細適用"],
            ],
            Payments => &[&PLACE, &PRODUCT, &FIGURES, &REFUND],
            PaymentsDaily => &[&PLACE, &DAY, &PRODUCT, &FIGURES, &REFUND],
            Reference => &[&PLACE, &PRODUCT, &FIGURES],
            ReferenceDaily => &[&PLACE, &DAY, &PRODUCT, &FIGURES],
            Totals => &[&["項目", "金額", "備考"]],
        };
        parts.concat()
    }

    /// The lake table the view reads.
    fn table(self) -> StatementTable {
        use StatementTable as T;
        use View::*;
        match self {
            Invoices => T::Invoices,
            Billing => T::BillingDetails,
            BillingDaily => T::BillingDaily,
            Adjustments => T::Adjustments,
            Payments | Totals => T::PaymentDetails,
            PaymentsDaily => T::PaymentDaily,
            Reference => T::ReferenceInfo,
            ReferenceDaily => T::ReferenceDaily,
        }
    }
}

/// One search condition of the guide's forms, on a column named by its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Partial match (the guide: 検索は部分一致で行われます).
    Contains { header: String, text: String },
    /// One of the form's choices (ALL.Net区分, 品名, 課金名).
    Equals { header: String, text: String },
    /// From–to, either end open: months, dates, days and numbers.
    Range {
        header: String,
        from: Option<String>,
        to: Option<String>,
    },
}

impl Filter {
    /// `HEADER=TEXT` as a partial match.
    pub fn contains(spec: &str) -> Result<Filter, String> {
        let (header, text) = split(spec)?;
        Ok(Filter::Contains { header, text })
    }

    /// `HEADER=TEXT` as an exact choice.
    pub fn equals(spec: &str) -> Result<Filter, String> {
        let (header, text) = split(spec)?;
        Ok(Filter::Equals { header, text })
    }

    /// `HEADER=FROM..TO`, either end may be empty.
    pub fn range(spec: &str) -> Result<Filter, String> {
        let (header, range) = split(spec)?;
        let (from, to) = range
            .split_once("..")
            .ok_or_else(|| format!("{spec:?}: a range is HEADER=FROM..TO"))?;
        let bound = |b: &str| -> Result<Option<String>, String> {
            match b.trim() {
                "" => Ok(None),
                b if Ordinal::of(b).is_some() => Ok(Some(b.to_owned())),
                b => Err(format!("{b:?} is not a month, a date or a number")),
            }
        };
        Ok(Filter::Range {
            header,
            from: bound(from)?,
            to: bound(to)?,
        })
    }

    fn header(&self) -> &str {
        match self {
            Filter::Contains { header, .. }
            | Filter::Equals { header, .. }
            | Filter::Range { header, .. } => header,
        }
    }

    fn accepts(&self, cell: &str) -> bool {
        match self {
            Filter::Contains { text, .. } => cell.contains(text.as_str()),
            Filter::Equals { text, .. } => cell == text,
            Filter::Range { from, to, .. } => {
                let Some(value) = Ordinal::of(cell) else {
                    return false;
                };
                let within = |bound: &Option<String>, ok: fn(&Ordinal, &Ordinal) -> bool| {
                    bound
                        .as_deref()
                        .and_then(Ordinal::of)
                        .is_none_or(|b| value.comparable(&b) && ok(&value, &b))
                };
                within(from, |v, b| v >= b) && within(to, |v, b| v <= b)
            }
        }
    }
}

fn split(spec: &str) -> Result<(String, String), String> {
    spec.split_once('=')
        .map(|(h, t)| (h.trim().to_owned(), t.to_owned()))
        .ok_or_else(|| format!("{spec:?}: a filter is HEADER=VALUE (a header of the view)"))
}

/// A value a range compares: a number, a day or a month, in any of the guide's spellings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ordinal {
    Number(Decimal),
    Day(NaiveDate),
    Month(Month),
}

impl Ordinal {
    fn of(text: &str) -> Option<Ordinal> {
        let text = text.trim();
        if let Ok(n) = Decimal::from_str(text) {
            return Some(Ordinal::Number(n));
        }
        for format in ["%Y年%m月%d日", "%Y/%m/%d", "%Y-%m-%d"] {
            if let Ok(day) = NaiveDate::parse_from_str(text, format) {
                return Some(Ordinal::Day(day));
            }
        }
        let month = text
            .strip_suffix('月')
            .map_or(text.to_owned(), |m| m.replace('年', "-"));
        let month = match month.split_once('-') {
            Some((y, m)) if m.len() == 1 => format!("{y}-0{m}"),
            _ => month,
        };
        Month::parse(&month).ok().map(Ordinal::Month)
    }

    fn comparable(&self, other: &Ordinal) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// Which adjustment slips the `adjustments` view lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlipKinds {
    /// The invoice's 調整明細.
    #[default]
    Billing,
    Payment,
    Refund,
    All,
}

impl SlipKinds {
    pub(super) fn lists(self, kind: Option<&str>) -> bool {
        match self {
            SlipKinds::All => true,
            SlipKinds::Billing => kind == Some("BILLING"),
            SlipKinds::Payment => kind == Some("PAYMENT"),
            SlipKinds::Refund => kind == Some("REFUND"),
        }
    }
}

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct ExportRequest {
    pub filters: Vec<Filter>,
    /// Every closed month, not only the latest 12.
    pub all_months: bool,
    /// The open months' month-to-date figures instead of the closes'.
    pub provisional: bool,
    pub slip_kinds: SlipKinds,
    /// The `totals` view's store and title (by name or code; none = all).
    pub selection: Selection,
}

/// The rows of `view` (the first is the header) as `request` selects them.
pub async fn export(
    db: &Database,
    lake: &Location,
    view: View,
    request: &ExportRequest,
    issuer: &Issuer,
) -> Result<Vec<Vec<Cell>>, ExportError> {
    let area = if request.provisional {
        Area::Provisional
    } else {
        Area::Closed
    };
    if view == View::Invoices && request.provisional {
        return Err(ExportError::Invalid(
            "the month to date has no invoices: they are issued by the close".into(),
        ));
    }
    let headers = view.headers();
    for filter in &request.filters {
        let known = match view {
            View::Totals => totals::FILTERED.contains(&filter.header()),
            _ => headers.contains(&filter.header()),
        };
        if !known {
            return Err(ExportError::Invalid(format!(
                "{:?} is not a column of the {} view",
                filter.header(),
                View::ALL
                    .iter()
                    .find(|(_, v)| *v == view)
                    .map_or("", |(n, _)| n)
            )));
        }
    }
    let months = months(db, lake, area, request.all_months).await?;
    if view == View::Totals {
        return totals::rows(lake, area, &months, request, issuer).await;
    }
    let mut rows = vec![headers.iter().map(Cell::text).collect::<Vec<_>>()];
    for month in months {
        let Some(batch) = lake.get_batch(&view.table().path(area, month)).await? else {
            continue;
        };
        let table = Columns::new(&batch);
        rows.extend(
            views::rows(view, &table, request.slip_kinds)
                .into_iter()
                .filter(|row| matches(&headers, row, &request.filters)),
        );
    }
    Ok(rows)
}

/// Whether a row meets every filter.
fn matches(headers: &[&str], row: &[Cell], filters: &[Filter]) -> bool {
    filters.iter().all(|f| {
        headers
            .iter()
            .position(|h| *h == f.header())
            .is_some_and(|i| f.accepts(row[i].shown()))
    })
}

/// The months an export reads: the closed ones (the latest 12 unless `all`), or the open
/// months that have month-to-date tables.
async fn months(
    db: &Database,
    lake: &Location,
    area: Area,
    all: bool,
) -> Result<Vec<Month>, ExportError> {
    match area {
        Area::Closed => {
            let closed = db.closed_months().await?;
            let skip = if all {
                0
            } else {
                closed.len().saturating_sub(12)
            };
            Ok(closed.into_iter().skip(skip).collect())
        }
        Area::Provisional => {
            let last_closed = db.last_closed_month().await?;
            let mut months: Vec<Month> = lake
                .list(&StatementTable::PaymentTotals.folder(Area::Provisional))
                .await?
                .iter()
                .filter_map(|e| closing_month_of(&e.path))
                .filter(|m| last_closed.is_none_or(|last| *m > last))
                .collect();
            months.sort();
            Ok(months)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_the_guides_search_forms() {
        let store = Filter::contains("店舗名=渋谷").unwrap();
        assert!(store.accepts("ゲームセンター渋谷店"));
        assert!(!store.accepts("ゲームセンター新宿店"));
        let class = Filter::equals("ALL.Net区分=P-ras").unwrap();
        assert!(class.accepts("P-ras"));
        assert!(!class.accepts("P-ras2"));
        let months = Filter::range("プレイ年月=2019-10..2019年12月").unwrap();
        assert!(months.accepts("2019年11月"));
        assert!(months.accepts("2019年12月"));
        assert!(!months.accepts("2020年01月"));
        let amounts = Filter::range("金額=-100..").unwrap();
        assert!(amounts.accepts("-50"));
        assert!(!amounts.accepts("-150"));
        let dates = Filter::range("振替予定日=2016/11/1..2016/11/30").unwrap();
        assert!(dates.accepts("2016/11/7"));
        assert!(!dates.accepts("2016/12/7"));
        assert!(!months.accepts("-"), "the placeholder is in no range");
        assert!(Filter::range("金額=abc..").is_err());
    }
}
