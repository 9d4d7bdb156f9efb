//! Whole tables for the lake, built row by row from owned cells: master data now, statement
//! tables later. (The ingest sink streams borrowed values instead: it is the hot path.)

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use std::sync::Arc;

use super::parquet_file::ROW_GROUP;
use super::LakeResult;

/// The type of a column.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Text,
    Date,
    Flag,
    Int,
    /// decimal(18, 4): unit prices and rates.
    Decimal,
}

/// One cell; `None` is null.
#[derive(Debug, Clone)]
pub enum Cell {
    Text(Option<String>),
    Date(Option<NaiveDate>),
    Flag(Option<bool>),
    Int(Option<i64>),
    Decimal(Option<Decimal>),
}

/// Constructors of non-null cells, as the tables' rows are written.
pub mod cells {
    use super::Cell;
    use rust_decimal::Decimal;

    pub fn text(value: impl ToString) -> Cell {
        Cell::Text(Some(value.to_string()))
    }

    pub fn optional(value: Option<impl ToString>) -> Cell {
        Cell::Text(value.map(|v| v.to_string()))
    }

    pub fn int(value: i64) -> Cell {
        Cell::Int(Some(value))
    }

    pub fn decimal(value: Decimal) -> Cell {
        Cell::Decimal(Some(value))
    }

    pub fn yen(value: crate::domain::Yen) -> Cell {
        Cell::Int(Some(value.0))
    }

    pub fn optional_yen(value: Option<crate::domain::Yen>) -> Cell {
        Cell::Int(value.map(|v| v.0))
    }
}

pub const DECIMAL_SCALE: i8 = 4;

enum Builder {
    Text(StringBuilder),
    Date(Date32Builder),
    Flag(BooleanBuilder),
    Int(Int64Builder),
    Decimal(Decimal128Builder),
}

/// A table being built: its schema and a builder per column.
pub struct Table {
    schema: SchemaRef,
    builders: Vec<Builder>,
    /// The rows in the builders.
    rows: usize,
    /// A table encoded as it is built: its full row groups, encoded.
    encoded: Option<super::ParquetSink>,
}

fn days_since_epoch(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - 719_163
}

/// The bytes reserved per row for a text column of a table whose size is known: codes and
/// names are mostly shorter. Reserved memory that is never written costs nothing (the OS
/// backs a page when it is first touched); a builder that outgrows it doubles, copying what it
/// holds into fresh memory — the cost that reserving avoids.
const TEXT_BYTES_PER_ROW: usize = 32;

impl Table {
    /// A table of `columns` (name, kind, nullable).
    pub fn new<S: AsRef<str>>(columns: &[(S, Kind, bool)]) -> Table {
        Table::with_rows(columns, 0)
    }

    /// A table of `columns` whose `rows` are known before they are pushed (the statements'
    /// daily views: millions at a national network's size), its builders sized for them.
    pub fn with_rows<S: AsRef<str>>(columns: &[(S, Kind, bool)], rows: usize) -> Table {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, kind, nullable)| {
                let data_type = match kind {
                    Kind::Text => DataType::Utf8,
                    Kind::Date => DataType::Date32,
                    Kind::Flag => DataType::Boolean,
                    Kind::Int => DataType::Int64,
                    Kind::Decimal => DataType::Decimal128(18, DECIMAL_SCALE),
                };
                Field::new(name.as_ref(), data_type, *nullable)
            })
            .collect();
        let builders = columns
            .iter()
            .map(|(_, kind, _)| match kind {
                Kind::Text => Builder::Text(StringBuilder::with_capacity(
                    rows,
                    rows * TEXT_BYTES_PER_ROW,
                )),
                Kind::Date => Builder::Date(Date32Builder::with_capacity(rows)),
                Kind::Flag => Builder::Flag(BooleanBuilder::with_capacity(rows)),
                Kind::Int => Builder::Int(Int64Builder::with_capacity(rows)),
                Kind::Decimal => Builder::Decimal(
                    Decimal128Builder::with_capacity(rows)
                        .with_precision_and_scale(18, DECIMAL_SCALE)
                        .expect("18,4"),
                ),
            })
            .collect();
        Table {
            schema: Arc::new(Schema::new(fields)),
            builders,
            rows: 0,
            encoded: None,
        }
    }

    /// A table of `columns` and `rows` that is encoded a row group at a time as it is built:
    /// only one row group's cells are held at once (a daily view of a national network's month
    /// is millions of rows). Its bytes are those of [`Table::encode`] of the whole table.
    pub fn encoded_as_built<S: AsRef<str>>(columns: &[(S, Kind, bool)], rows: usize) -> Table {
        let mut table = Table::with_rows(columns, rows.min(ROW_GROUP));
        let sink = super::ParquetSink::new(table.schema()).expect("a table's types are Parquet's");
        table.encoded = Some(sink);
        table
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        self.push_cells(&row);
    }

    /// Append a row given as cells borrowed from wherever they are (a daily view repeats its
    /// detail row's leading cells on every day: they are not copied for each).
    pub fn push_cells<'a>(&mut self, row: impl IntoIterator<Item = &'a Cell>) {
        for (builder, cell) in self.builders.iter_mut().zip(row) {
            match (builder, cell) {
                (Builder::Text(b), Cell::Text(v)) => b.append_option(v.as_deref()),
                (Builder::Date(b), Cell::Date(v)) => b.append_option(v.map(days_since_epoch)),
                (Builder::Flag(b), Cell::Flag(v)) => b.append_option(*v),
                (Builder::Int(b), Cell::Int(v)) => b.append_option(*v),
                (Builder::Decimal(b), Cell::Decimal(v)) => b.append_option(v.map(|mut d| {
                    d.rescale(DECIMAL_SCALE as u32);
                    d.mantissa()
                })),
                _ => unreachable!("a row's cells follow the table's columns"),
            }
        }
        self.rows += 1;
        if self.rows == ROW_GROUP {
            if let Some(encoded) = &mut self.encoded {
                let rows = finish(&self.schema, &mut self.builders);
                self.rows = 0;
                encoded
                    .write(&rows)
                    .expect("a full row group of a table is encoded in memory");
            }
        }
    }

    /// The table as one Parquet file's bytes.
    pub fn encode(mut self) -> LakeResult<Vec<u8>> {
        let rows = finish(&self.schema, &mut self.builders);
        let mut encoded = match self.encoded.take() {
            Some(encoded) => encoded,
            None => super::ParquetSink::new(self.schema())?,
        };
        encoded.write(&rows)?;
        encoded.finish()
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The table's rows (of a table not encoded as it is built).
    pub fn finish(mut self) -> RecordBatch {
        assert!(
            self.encoded.is_none(),
            "a table encoded as it is built is finished by encoding it"
        );
        finish(&self.schema, &mut self.builders)
    }
}

/// The rows in `builders` as a batch, the builders emptied.
fn finish(schema: &SchemaRef, builders: &mut [Builder]) -> RecordBatch {
    let arrays: Vec<ArrayRef> = builders
        .iter_mut()
        .map(|b| -> ArrayRef {
            match b {
                Builder::Text(b) => Arc::new(b.finish()),
                Builder::Date(b) => Arc::new(b.finish()),
                Builder::Flag(b) => Arc::new(b.finish()),
                Builder::Int(b) => Arc::new(b.finish()),
                Builder::Decimal(b) => Arc::new(b.finish()),
            }
        })
        .collect();
    RecordBatch::try_new(schema.clone(), arrays).expect("builders follow the schema")
}

#[cfg(test)]
mod tests {
    use super::cells::*;
    use super::*;

    fn filled(mut table: Table, rows: usize) -> Vec<u8> {
        for i in 0..rows {
            let name = "名".repeat(i % 40);
            table.push(vec![
                text(&name),
                Cell::Date(NaiveDate::from_ymd_opt(2026, 10, 1 + (i % 31) as u32)),
                Cell::Flag((i % 3 != 0).then_some(i % 2 == 0)),
                Cell::Int((i % 5 != 0).then_some(i as i64)),
                decimal(Decimal::new(i as i64, 1)),
            ]);
        }
        table.encode().unwrap()
    }

    const COLUMNS: [(&str, Kind, bool); 5] = [
        ("name", Kind::Text, false),
        ("day", Kind::Date, true),
        ("flag", Kind::Flag, true),
        ("count", Kind::Int, true),
        ("price", Kind::Decimal, false),
    ];

    #[test]
    fn a_table_sized_for_its_rows_encodes_the_same_bytes_whatever_it_was_sized_for() {
        let grown = filled(Table::new(&COLUMNS), 3_000);
        for rows in [1, 3_000, 100_000] {
            let sized = filled(Table::with_rows(&COLUMNS, rows), 3_000);
            assert_eq!(sized, grown, "{rows} rows");
        }
    }

    #[test]
    fn a_table_encoded_as_it_is_built_has_the_bytes_of_the_whole_table_encoded() {
        // Two full row groups and part of a third; exactly one; less than one; none.
        for rows in [2 * ROW_GROUP + 1_000, ROW_GROUP, 1_000, 0] {
            let whole = filled(Table::new(&COLUMNS), rows);
            let streamed = filled(Table::encoded_as_built(&COLUMNS, rows), rows);
            assert_eq!(streamed, whole, "{rows} rows");
        }
    }
}
