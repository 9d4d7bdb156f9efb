//! Reading a table back by column name, row by row: what a close wrote, for the reissue that
//! rewrites it and the exports that format it.

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Decimal128Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// The columns of a record batch, by name.
#[derive(Clone, Copy)]
pub struct Columns<'a> {
    batch: &'a RecordBatch,
}

impl<'a> Columns<'a> {
    pub fn new(batch: &'a RecordBatch) -> Self {
        Columns { batch }
    }

    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn has(&self, name: &str) -> bool {
        self.batch.column_by_name(name).is_some()
    }

    fn column(&self, name: &str) -> &'a dyn Array {
        self.batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("the table has a column {name}"))
            .as_ref()
    }

    pub fn text(&self, name: &str, row: usize) -> Option<&'a str> {
        let array = self.column(name).as_string::<i32>();
        array.is_valid(row).then(|| array.value(row))
    }

    pub fn int(&self, name: &str, row: usize) -> Option<i64> {
        let array = self.column(name).as_primitive::<Int64Type>();
        array.is_valid(row).then(|| array.value(row))
    }

    /// An amount in yen.
    pub fn yen(&self, name: &str, row: usize) -> Option<crate::domain::Yen> {
        self.int(name, row).map(crate::domain::Yen)
    }

    pub fn decimal(&self, name: &str, row: usize) -> Option<Decimal> {
        let array = self.column(name).as_primitive::<Decimal128Type>();
        array.is_valid(row).then(|| {
            Decimal::from_i128_with_scale(array.value(row), array.scale() as u32).normalize()
        })
    }

    pub fn date(&self, name: &str, row: usize) -> Option<NaiveDate> {
        let array = self.column(name).as_primitive::<Date32Type>();
        array.is_valid(row).then(|| {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
            epoch + chrono::TimeDelta::days(i64::from(array.value(row)))
        })
    }

    /// What tells a row apart: its values in every column but `except`, as text.
    pub fn identity(&self, row: usize, except: &[&str]) -> Vec<String> {
        use arrow_schema::DataType;
        self.batch
            .schema()
            .fields()
            .iter()
            .filter(|f| !except.contains(&f.name().as_str()))
            .map(|f| {
                let name = f.name();
                match f.data_type() {
                    DataType::Utf8 => format!("{:?}", self.text(name, row)),
                    DataType::Int64 => format!("{:?}", self.int(name, row)),
                    DataType::Date32 => format!("{:?}", self.date(name, row)),
                    DataType::Decimal128(..) => format!("{:?}", self.decimal(name, row)),
                    other => format!("{other}"),
                }
            })
            .collect()
    }

    /// A text column, owned, in row order.
    pub fn texts(&self, name: &str) -> Vec<Option<String>> {
        (0..self.len())
            .map(|row| self.text(name, row).map(str::to_owned))
            .collect()
    }
}
