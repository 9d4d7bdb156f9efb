//! The events a close bills, reduced to daily counts per key-chip and charge (or product,
//! payment method and price): the only place where millions of rows are touched. polars' lazy
//! API sums the event files (once each, [`daily_sums`]); the close and the month to date read
//! those sums with parquet's own reader straight into rows, both cores reading, since a month's
//! sums are hundreds of small files that polars would plan, read and concatenate as frames
//! first. Money is not computed here.
//!
//! An event is billed by the close of max(the first close that saw its batch, its play month):
//! a batch committed since the last close is first seen by this one. Since the lake holds one
//! file per batch and play date (`plays/play_date=D/<batch>.parquet`), that rule picks whole
//! files ([`Billing`]): the events are read from the billed files only — on S3 only those are
//! fetched — and no row is tested.

use super::CloseError;
use crate::domain::{ChargeCode, KeychipId, Month, Parse, PaymentMethod, ProductCode};
use crate::lake::layout::{EventFile, EventTable};
use crate::lake::LakeError;
use arrow_array::cast::AsArray;
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::errors::{ParquetError, Result as ParquetResult};
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
/// `root` from the files themselves (each day's files summed by polars) or, given the month to
/// date's `sums` folder, from each file's daily sums ([`daily_sums`]) there, read straight
/// into rows.
pub fn billed(
    root: &Path,
    sums: Option<&str>,
    files: &[&EventFile],
) -> Result<(Vec<DailyPlays>, Vec<DailyPurchases>), CloseError> {
    if let Some(sums) = sums {
        let billed = Billed {
            root: &root.join(sums),
            files,
        };
        let plays = billed.summed(EventTable::Plays, plays_of);
        let purchases = billed.summed(EventTable::Purchases, purchases_of);
        return Ok((
            plays.map_err(LakeError::from)?,
            purchases.map_err(LakeError::from)?,
        ));
    }
    let billed = Billed { root, files };
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
                    .map(|(((keychip, day), charge), count)| {
                        DailyPlays::read(keychip, date(day), charge, count)
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
                    let sale = [product, method];
                    DailyPurchases::read(keychip, date(day), sale, [price, quantity])
                },
            ));
            purchases
        }
    };
    Ok((plays, purchases))
}

impl DailyPlays {
    /// A row of a table of daily counts (accepted events: every value is there and parses).
    fn read(
        keychip: Option<&str>,
        date: NaiveDate,
        charge: Option<&str>,
        count: Option<i64>,
    ) -> DailyPlays {
        DailyPlays {
            keychip: code(keychip),
            date,
            charge: code(charge),
            count: count.unwrap_or_default(),
        }
    }
}

impl DailyPurchases {
    /// A row of a table of daily purchases: the product and payment method, the unit price
    /// and the quantity.
    fn read(
        keychip: Option<&str>,
        date: NaiveDate,
        [product, method]: [Option<&str>; 2],
        [unit_price, quantity]: [Option<i64>; 2],
    ) -> DailyPurchases {
        DailyPurchases {
            keychip: code(keychip),
            date,
            product: code(product),
            method: PaymentMethod::parse(method.unwrap_or_default())
                .expect("the lake holds accepted payment methods"),
            unit_price: unit_price.unwrap_or_default(),
            quantity: quantity.unwrap_or_default(),
        }
    }
}

/// The rows of a batch of a daily-sums file of plays, all of `date`.
fn plays_of(batch: &RecordBatch, date: NaiveDate, rows: &mut Vec<DailyPlays>) -> ParquetResult<()> {
    let (keychips, charges) = (texts(batch, "keychip_id")?, texts(batch, "charge_code")?);
    let counts = numbers(batch, "count")?;
    let days = keychips.iter().zip(charges.iter()).zip(counts.iter());
    rows.extend(
        days.map(|((keychip, charge), count)| DailyPlays::read(keychip, date, charge, count)),
    );
    Ok(())
}

/// The rows of a batch of a daily-sums file of purchases, all of `date`.
fn purchases_of(
    batch: &RecordBatch,
    date: NaiveDate,
    rows: &mut Vec<DailyPurchases>,
) -> ParquetResult<()> {
    let (keychips, products) = (texts(batch, "keychip_id")?, texts(batch, "product_code")?);
    let methods = texts(batch, "payment_method")?;
    let (prices, quantities) = (numbers(batch, "unit_price")?, numbers(batch, "quantity")?);
    let sales = keychips.iter().zip(products.iter()).zip(methods.iter());
    let figures = prices.iter().zip(quantities.iter());
    rows.extend(
        sales
            .zip(figures)
            .map(|(((keychip, product), method), (price, quantity))| {
                DailyPurchases::read(keychip, date, [product, method], [price, quantity])
            }),
    );
    Ok(())
}

/// Column `name` of a daily-sums batch, as text.
fn texts<'b>(batch: &'b RecordBatch, name: &str) -> ParquetResult<&'b StringArray> {
    column(batch, name)?
        .as_string_opt()
        .ok_or_else(|| ParquetError::General(format!("daily sums: {name} is not text")))
}

/// Column `name` of a daily-sums batch, as whole numbers.
fn numbers<'b>(batch: &'b RecordBatch, name: &str) -> ParquetResult<&'b Int64Array> {
    column(batch, name)?
        .as_primitive_opt()
        .ok_or_else(|| ParquetError::General(format!("daily sums: {name} is not a number")))
}

fn column<'b>(batch: &'b RecordBatch, name: &str) -> ParquetResult<&'b ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| ParquetError::General(format!("daily sums: no column {name}")))
}

/// The rows of the daily-sums file at `path` (of `date`), added to `rows` by `rows_of`.
fn read_sums<R>(
    path: &Path,
    date: NaiveDate,
    rows_of: fn(&RecordBatch, NaiveDate, &mut Vec<R>) -> ParquetResult<()>,
    rows: &mut Vec<R>,
) -> ParquetResult<()> {
    let (count, batches) = sums_batches(path)?;
    rows.reserve(count);
    for batch in batches {
        rows_of(&batch?, date, rows)?;
    }
    Ok(())
}

/// How many rows of a daily-sums file are decoded at a time.
const SUMS_BATCH: usize = 65_536;

/// The record batches of the daily-sums file at `path`, typed by its Parquet schema (text as
/// `Utf8`, sums as `Int64`), not by the Arrow schema polars wrote beside it.
fn sums_batches(path: &Path) -> ParquetResult<(usize, ParquetRecordBatchReader)> {
    let options = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
    let file = std::fs::File::open(path).map_err(|e| ParquetError::External(Box::new(e)))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)?;
    let rows = reader.metadata().file_metadata().num_rows();
    let rows = usize::try_from(rows).unwrap_or_default();
    Ok((rows, reader.with_batch_size(SUMS_BATCH).build()?))
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
/// their own paths under `root`).
struct Billed<'a> {
    root: &'a Path,
    files: &'a [&'a EventFile],
}

impl Billed<'_> {
    /// The billed files of `table`, by play date.
    fn files(&self, table: EventTable) -> BTreeMap<NaiveDate, Vec<PathBuf>> {
        let mut files: BTreeMap<NaiveDate, Vec<PathBuf>> = BTreeMap::new();
        for file in self.files.iter().filter(|f| f.table == table) {
            files
                .entry(file.date)
                .or_default()
                .push(self.root.join(file.path()));
        }
        for paths in files.values_mut() {
            paths.sort();
        }
        files
    }

    /// The daily sums of `table`'s measure per its keys over the event files this computation
    /// bills, day after day; none when no file is billed. Each day's files are summed on their
    /// own, the days in parallel. (The rows are not sorted: the statements group them by their
    /// own keys.)
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
                let paths = paths
                    .iter()
                    .map(|p| PlRefPath::new(p.display().to_string()))
                    .collect();
                let day = LazyFrame::scan_parquet_files(paths, Default::default())?
                    .group_by(per_day_keys.clone())
                    .agg([col(measure).sum()]);
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

    /// The daily counts of `table` read from the daily sums of the files this computation
    /// bills, each file straight into rows by `rows_of`: the files, in the order of their days,
    /// shared among the cores in runs of consecutive files, the runs joined in order. A day of
    /// several files (late deliveries) gives a key-chip's charge or product several rows of
    /// that day, which the counting adds up.
    fn summed<R: Send>(
        &self,
        table: EventTable,
        rows_of: fn(&RecordBatch, NaiveDate, &mut Vec<R>) -> ParquetResult<()>,
    ) -> ParquetResult<Vec<R>> {
        let files: Vec<(NaiveDate, PathBuf)> = self
            .files(table)
            .into_iter()
            .flat_map(|(date, paths)| paths.into_iter().map(move |path| (date, path)))
            .collect();
        let runs = super::on_every_core(|core, cores| {
            let run = &files[core * files.len() / cores..(core + 1) * files.len() / cores];
            let mut rows = Vec::new();
            for (date, path) in run {
                read_sums(path, *date, rows_of, &mut rows).map_err(|e| {
                    ParquetError::General(format!("daily sums {}: {e}", path.display()))
                })?;
            }
            Ok(rows)
        });
        let runs = runs.into_iter().collect::<ParquetResult<Vec<Vec<R>>>>()?;
        let mut rows = Vec::with_capacity(runs.iter().map(Vec::len).sum());
        for run in runs {
            rows.extend(run);
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::layout::DAILY_SUMS;

    /// An event file of the lake under `root` with `frame`'s rows.
    fn event_file(root: &Path, path: &str, mut frame: DataFrame) -> EventFile {
        let file = EventFile::parse(path).unwrap();
        let at = root.join(path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        ParquetWriter::new(std::fs::File::create(at).unwrap())
            .finish(&mut frame)
            .unwrap();
        file
    }

    fn plays(keychips: &[&str], charges: &[&str], counts: &[i64]) -> DataFrame {
        df!("keychip_id" => keychips, "charge_code" => charges, "count" => counts).unwrap()
    }

    fn purchases(keychips: &[&str], products: &[&str], quantities: &[i64]) -> DataFrame {
        let methods = vec!["EMONEY"; keychips.len()];
        let prices = vec![100i64; keychips.len()];
        df!("keychip_id" => keychips, "product_code" => products, "payment_method" => methods,
            "unit_price" => prices, "quantity" => quantities)
        .unwrap()
    }

    type Totals = BTreeMap<(String, NaiveDate, String), i64>;

    /// The counts of the daily rows added up by key-chip, day and charge or product.
    fn totals(
        (plays, purchases): (Vec<DailyPlays>, Vec<DailyPurchases>),
    ) -> (Totals, Totals, Vec<NaiveDate>) {
        let mut totals = (Totals::new(), Totals::new());
        for p in &plays {
            let key = (p.keychip.to_string(), p.date, p.charge.to_string());
            *totals.0.entry(key).or_default() += p.count;
        }
        for p in &purchases {
            let key = (p.keychip.to_string(), p.date, p.product.to_string());
            *totals.1.entry(key).or_default() += p.quantity;
        }
        let dates = plays.iter().map(|p| p.date).collect();
        (totals.0, totals.1, dates)
    }

    #[test]
    fn daily_sums_read_as_rows_count_what_the_events_count_days_of_several_files_included() {
        let root = tempfile::tempdir().unwrap();
        let files = [
            event_file(
                root.path(),
                "plays/play_date=2026-10-02/b1.parquet",
                plays(
                    &["K1", "K1", "K2", "K1"],
                    &["C1", "C1", "C1", "C2"],
                    &[1, 1, 1, 5],
                ),
            ),
            // A late delivery: the 2nd again, with the same key-chip and charge.
            event_file(
                root.path(),
                "plays/play_date=2026-10-02/b2.parquet",
                plays(&["K1", "K3"], &["C1", "C1"], &[1, 2]),
            ),
            event_file(
                root.path(),
                "plays/play_date=2026-10-01/b1.parquet",
                plays(&["K2", "K2"], &["C1", "C1"], &[1, 1]),
            ),
            event_file(
                root.path(),
                "purchases/purchase_date=2026-10-02/b1.parquet",
                purchases(&["K1", "K1"], &["P1", "P1"], &[2, 3]),
            ),
            event_file(
                root.path(),
                "purchases/purchase_date=2026-10-02/b2.parquet",
                purchases(&["K1"], &["P1"], &[4]),
            ),
        ];
        let files: Vec<&EventFile> = files.iter().collect();
        for (file, sums) in files.iter().zip(daily_sums(root.path(), &files).unwrap()) {
            let at = root.path().join(file.sums_path());
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(at, sums).unwrap();
        }

        let (events, sums) = (
            totals(billed(root.path(), None, &files).unwrap()),
            totals(billed(root.path(), Some(DAILY_SUMS), &files).unwrap()),
        );
        assert_eq!(sums.0, events.0);
        assert_eq!(sums.1, events.1);
        let day = |d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        assert_eq!(sums.0[&("K1".into(), day("2026-10-02"), "C1".into())], 3);
        assert_eq!(sums.1[&("K1".into(), day("2026-10-02"), "P1".into())], 9);
        // The rows come day after day, as the first row of a detail row fixes its names.
        assert!(sums.2.is_sorted(), "{:?}", sums.2);
        assert_eq!(sums.2.len(), 6, "a row per file's key-chip and charge");

        // A damaged file of sums is named in the error.
        let damaged = root.path().join(files[1].sums_path());
        std::fs::write(&damaged, "not Parquet").unwrap();
        let error = billed(root.path(), Some(DAILY_SUMS), &files).unwrap_err();
        assert!(
            error.to_string().contains(&damaged.display().to_string()),
            "{error}"
        );
    }
}
