//! The events a close bills, read from the lake with polars' lazy API and reduced to daily
//! counts per key-chip and charge (or product, payment method and price): the only place where
//! millions of rows are touched. Money is not computed here.
//!
//! An event is billed by the close of max(the first close that saw its batch, its play month):
//! a batch committed since the last close is first seen by this one.

use crate::domain::{parse_date, Month, Parse, PaymentMethod};
use chrono::NaiveDate;
use polars::prelude::*;
use std::path::Path;

/// Plays of one key-chip, charge and day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyPlays {
    pub keychip: String,
    pub date: NaiveDate,
    pub charge: String,
    pub count: i64,
}

/// Purchases of one key-chip, product, payment method, unit price and day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyPurchases {
    pub keychip: String,
    pub date: NaiveDate,
    pub product: String,
    pub method: PaymentMethod,
    pub unit_price: i64,
    pub quantity: i64,
}

/// The plays and purchases billed by the close of `month`, from the lake at `root`, with play
/// dates up to `until`. `batches` are the committed batches with the first close that saw (or
/// will see) each.
pub fn billed(
    root: &Path,
    month: Month,
    until: NaiveDate,
    batches: &[(String, Month)],
) -> PolarsResult<(Vec<DailyPlays>, Vec<DailyPurchases>)> {
    let seen = DataFrame::new_infer_height(vec![
        Column::new(
            "batch".into(),
            batches.iter().map(|(b, _)| b.as_str()).collect::<Vec<_>>(),
        ),
        Column::new(
            "first_close".into(),
            batches
                .iter()
                .map(|(_, m)| m.to_string())
                .collect::<Vec<_>>(),
        ),
    ])?;
    let plays = match billed_rows(root, "plays", "play_date", month, until, &seen)? {
        None => Vec::new(),
        Some(rows) => {
            let daily = rows
                .group_by([col("keychip_id"), col("play_date"), col("charge_code")])
                .agg([col("count").sum()])
                .sort(
                    ["keychip_id", "play_date", "charge_code"],
                    Default::default(),
                )
                .collect()?;
            let (keychips, dates, charges) = (
                daily.column("keychip_id")?.str()?,
                daily.column("play_date")?.str()?,
                daily.column("charge_code")?.str()?,
            );
            let counts = daily.column("count")?.i64()?;
            (0..daily.height())
                .map(|i| DailyPlays {
                    keychip: keychips.get(i).unwrap_or_default().to_owned(),
                    date: date(dates.get(i)),
                    charge: charges.get(i).unwrap_or_default().to_owned(),
                    count: counts.get(i).unwrap_or_default(),
                })
                .collect()
        }
    };
    let purchases = match billed_rows(root, "purchases", "purchase_date", month, until, &seen)? {
        None => Vec::new(),
        Some(rows) => {
            let keys = [
                "keychip_id",
                "purchase_date",
                "product_code",
                "payment_method",
                "unit_price",
            ];
            let daily = rows
                .group_by(keys.map(col))
                .agg([col("quantity").sum()])
                .sort(keys, Default::default())
                .collect()?;
            let (keychips, dates, products, methods) = (
                daily.column("keychip_id")?.str()?,
                daily.column("purchase_date")?.str()?,
                daily.column("product_code")?.str()?,
                daily.column("payment_method")?.str()?,
            );
            let (prices, quantities) = (
                daily.column("unit_price")?.i64()?,
                daily.column("quantity")?.i64()?,
            );
            (0..daily.height())
                .map(|i| DailyPurchases {
                    keychip: keychips.get(i).unwrap_or_default().to_owned(),
                    date: date(dates.get(i)),
                    product: products.get(i).unwrap_or_default().to_owned(),
                    method: PaymentMethod::parse(methods.get(i).unwrap_or_default())
                        .expect("the lake holds accepted payment methods"),
                    unit_price: prices.get(i).unwrap_or_default(),
                    quantity: quantities.get(i).unwrap_or_default(),
                })
                .collect()
        }
    };
    Ok((plays, purchases))
}

fn date(text: Option<&str>) -> NaiveDate {
    parse_date(text.unwrap_or_default()).expect("the lake's partitions are dates")
}

/// The rows of `table` that the close of `month` bills, or none when the table is empty.
fn billed_rows(
    root: &Path,
    table: &str,
    date_column: &str,
    month: Month,
    until: NaiveDate,
    seen: &DataFrame,
) -> PolarsResult<Option<LazyFrame>> {
    let Some(rows) = crate::lake::scan_table(&root.join(table))? else {
        return Ok(None);
    };
    let month_text = month.to_string();
    let play_month = col(date_column).str().slice(lit(0), lit(7));
    let first_close = col("first_close");
    let billed_now = first_close
        .eq(lit(month_text.clone()))
        .and(play_month.clone().lt_eq(lit(month_text.clone())))
        .or(play_month.eq(lit(month_text)))
        .and(col(date_column).lt_eq(lit(until.to_string())));
    let rows = rows
        .join(
            seen.clone().lazy(),
            [col("batch")],
            [col("batch")],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(billed_now);
    Ok(Some(rows))
}
