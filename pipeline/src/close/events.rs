//! The events a close bills, read from the lake with polars' lazy API and reduced to daily
//! counts per key-chip and charge (or product, payment method and price): the only place where
//! millions of rows are touched. Money is not computed here.
//!
//! An event is billed by the close of max(the first close that saw its batch, its play month):
//! a batch committed since the last close is first seen by this one. Since the lake holds one
//! file per batch and play date (`plays/play_date=D/<batch>.parquet`), that rule picks whole
//! files ([`Billing`]): the events are read from the billed files only — on S3 only those are
//! fetched — and no row is tested.

use crate::domain::{ChargeCode, KeychipId, Month, Parse, PaymentMethod, ProductCode};
use crate::lake::layout::{EventFile, EventTable};
use chrono::NaiveDate;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Plays of one key-chip, charge and day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyPlays {
    pub keychip: KeychipId,
    pub date: NaiveDate,
    pub charge: ChargeCode,
    pub count: i64,
}

/// Purchases of one key-chip, product, payment method, unit price and day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyPurchases {
    pub keychip: KeychipId,
    pub date: NaiveDate,
    pub product: ProductCode,
    pub method: PaymentMethod,
    pub unit_price: i64,
    pub quantity: i64,
}

/// The columns an event table is summed by (the second is the date, which the partition
/// gives) and the column summed.
fn summed_by(table: EventTable) -> (&'static [&'static str], &'static str) {
    match table {
        EventTable::Plays => (&["keychip_id", "play_date", "charge_code"], "count"),
        EventTable::Purchases => (
            &[
                "keychip_id",
                "purchase_date",
                "product_code",
                "payment_method",
                "unit_price",
            ],
            "quantity",
        ),
    }
}

/// The plays and purchases of the event `files` (those a [`Billing`] bills), read under
/// `root` from the files themselves or, given the month to date's `sums` folder, from each
/// file's daily sums ([`daily_sums`]) there.
pub fn billed(
    root: &Path,
    sums: Option<&str>,
    files: &[&EventFile],
) -> PolarsResult<(Vec<DailyPlays>, Vec<DailyPurchases>)> {
    let billed = Billed { root, sums, files };
    let plays = match billed.daily(EventTable::Plays)? {
        None => Vec::new(),
        Some(daily) => {
            let (keychips, dates, charges) = (
                daily.column("keychip_id")?.str()?,
                daily.column("play_date")?.date()?.physical(),
                daily.column("charge_code")?.str()?,
            );
            let counts = daily.column("count")?.i64()?;
            // Each column iterated chunk after chunk (a row looked up by its index would look
            // its chunk up first: a month's daily counts come in a chunk per day), into a
            // vector sized first (the chunks' iterators do not tell their length).
            let mut plays = Vec::with_capacity(daily.height());
            let rows = keychips.iter().zip(dates.iter()).zip(charges.iter());
            plays.extend(
                rows.zip(counts.iter())
                    .map(|(((keychip, day), charge), count)| DailyPlays {
                        keychip: code(keychip),
                        date: date(day),
                        charge: code(charge),
                        count: count.unwrap_or_default(),
                    }),
            );
            plays
        }
    };
    let purchases = match billed.daily(EventTable::Purchases)? {
        None => Vec::new(),
        Some(daily) => {
            let (keychips, dates, products, methods) = (
                daily.column("keychip_id")?.str()?,
                daily.column("purchase_date")?.date()?.physical(),
                daily.column("product_code")?.str()?,
                daily.column("payment_method")?.str()?,
            );
            let (prices, quantities) = (
                daily.column("unit_price")?.i64()?,
                daily.column("quantity")?.i64()?,
            );
            let rows = keychips.iter().zip(dates.iter()).zip(products.iter());
            let figures = methods.iter().zip(prices.iter()).zip(quantities.iter());
            let mut purchases = Vec::with_capacity(daily.height());
            purchases.extend(rows.zip(figures).map(
                |(((keychip, day), product), ((method, price), quantity))| {
                    DailyPurchases {
                        keychip: code(keychip),
                        date: date(day),
                        product: code(product),
                        method: PaymentMethod::parse(method.unwrap_or_default())
                            .expect("the lake holds accepted payment methods"),
                        unit_price: price.unwrap_or_default(),
                        quantity: quantity.unwrap_or_default(),
                    }
                },
            ));
            purchases
        }
    };
    Ok((plays, purchases))
}

/// The daily sums of each of the event `files` (at `root`), as Parquet: the summed column per
/// key-chip and the table's other keys, sorted by them; the files are summed together, in
/// parallel. A file never changes once its batch is committed, so its sums never do: the
/// month to date keeps them, and a refresh reads the events of the files committed since the
/// last refresh only.
pub fn daily_sums(root: &Path, files: &[&EventFile]) -> PolarsResult<Vec<Vec<u8>>> {
    let plans = files
        .iter()
        .map(|file| {
            let (keys, measure) = summed_by(file.table);
            let keys: Vec<&str> = keys.iter().copied().filter(|k| *k != keys[1]).collect();
            let path = PlRefPath::new(root.join(file.path()).display().to_string());
            Ok(LazyFrame::scan_parquet(path, Default::default())?
                .group_by(keys.iter().map(|k| col(*k)).collect::<Vec<_>>())
                .agg([col(measure).sum()])
                .sort(keys.iter().copied(), Default::default())
                .logical_plan)
        })
        .collect::<PolarsResult<Vec<_>>>()?;
    let summed = LazyFrame::collect_all_with_engine(plans, Engine::Auto, Default::default())?;
    summed
        .into_iter()
        .map(|mut sums| {
            let mut bytes = Vec::new();
            ParquetWriter::new(&mut bytes)
                .with_compression(ParquetCompression::Zstd(None))
                .finish(&mut sums)?;
            Ok(bytes)
        })
        .collect()
}

/// A code of an accepted event: ingest parsed it before the lake took it.
fn code<T: Parse>(text: Option<&str>) -> T {
    T::parse(text.unwrap_or_default()).expect("the lake holds accepted events' codes")
}

/// A date column's day (polars counts days from 1970-01-01).
fn date(days: Option<i32>) -> NaiveDate {
    const UNIX_EPOCH_FROM_CE: i32 = 719_163;
    days.and_then(|d| NaiveDate::from_num_days_from_ce_opt(d + UNIX_EPOCH_FROM_CE))
        .expect("the lake's partitions are dates")
}

/// What one computation bills (`statements.md`): the month, its last play date, and the month
/// whose close first sees the batches no close has seen yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Billing {
    pub month: Month,
    pub until: NaiveDate,
    pub first_open: Month,
}

impl Billing {
    /// What the close of `month` bills: every play date of the month and before.
    pub fn close_of(month: Month) -> Billing {
        Billing {
            month,
            until: month.last_day(),
            first_open: month,
        }
    }

    /// Whether the events of `file` are billed here, its batch first seen by the close of
    /// `first_close` (none yet: the next close's). An event is billed by the close of max(the
    /// first close that saw its batch, its play month).
    pub fn bills(&self, file: &EventFile, first_close: Option<Month>) -> bool {
        let first_close = first_close.unwrap_or(self.first_open);
        let play_month = Month::of(file.date);
        file.date <= self.until
            && ((first_close == self.month && play_month <= self.month) || play_month == self.month)
    }
}

/// The event files one computation bills, in the lake's copy at `root` (or their daily sums,
/// under `sums`).
struct Billed<'a> {
    root: &'a Path,
    sums: Option<&'a str>,
    files: &'a [&'a EventFile],
}

impl Billed<'_> {
    /// The billed files of `table`, by play date.
    fn files(&self, table: EventTable) -> BTreeMap<NaiveDate, Vec<PathBuf>> {
        let mut files: BTreeMap<NaiveDate, Vec<PathBuf>> = BTreeMap::new();
        for file in self.files.iter().filter(|f| f.table == table) {
            files.entry(file.date).or_default().push(
                self.root
                    .join(self.sums.unwrap_or_default())
                    .join(file.path()),
            );
        }
        for paths in files.values_mut() {
            paths.sort();
        }
        files
    }

    /// The daily sums of `table`'s measure per its keys over the files this computation
    /// bills, day after day; none when no file is billed. Each day's files are summed on their
    /// own, the days in parallel; a day of one file's daily sums is summed already. (The rows
    /// are not sorted: the statements group them by their own keys.)
    fn daily(&self, table: EventTable) -> PolarsResult<Option<DataFrame>> {
        let (keys, measure) = summed_by(table);
        let files = self.files(table);
        if files.is_empty() {
            return Ok(None);
        }
        let date_column = keys[1];
        let per_day_keys: Vec<Expr> = keys
            .iter()
            .filter(|k| **k != date_column)
            .map(|k| col(*k))
            .collect();
        let days = files
            .into_iter()
            .map(|(date, paths)| {
                let summed = self.sums.is_some() && paths.len() == 1;
                let paths = paths
                    .iter()
                    .map(|p| PlRefPath::new(p.display().to_string()))
                    .collect();
                let day = LazyFrame::scan_parquet_files(paths, Default::default())?;
                let day = match summed {
                    true => day,
                    false => day.group_by(per_day_keys.clone()).agg([col(measure).sum()]),
                };
                Ok(day.with_column(lit(date).cast(DataType::Date).alias(date_column)))
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        let daily = concat(days, UnionArgs::default())?
            .select(
                keys.iter()
                    .chain(&[measure])
                    .map(|k| col(*k))
                    .collect::<Vec<_>>(),
            )
            .collect()?;
        Ok(Some(daily))
    }
}
