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
}

fn days_since_epoch(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - 719_163
}

impl Table {
    /// A table of `columns` (name, kind, nullable).
    pub fn new<S: AsRef<str>>(columns: &[(S, Kind, bool)]) -> Table {
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
                Kind::Text => Builder::Text(StringBuilder::new()),
                Kind::Date => Builder::Date(Date32Builder::new()),
                Kind::Flag => Builder::Flag(BooleanBuilder::new()),
                Kind::Int => Builder::Int(Int64Builder::new()),
                Kind::Decimal => Builder::Decimal(
                    Decimal128Builder::new()
                        .with_precision_and_scale(18, DECIMAL_SCALE)
                        .expect("18,4"),
                ),
            })
            .collect();
        Table {
            schema: Arc::new(Schema::new(fields)),
            builders,
        }
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
    }

    /// The table as one Parquet file's bytes.
    pub fn encode(self) -> super::LakeResult<Vec<u8>> {
        let schema = self.schema();
        super::ParquetSink::bytes(schema, &[self.finish()])
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn finish(mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self
            .builders
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
        RecordBatch::try_new(self.schema.clone(), arrays).expect("builders follow the schema")
    }
}
