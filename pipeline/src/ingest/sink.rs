//! The lake side of a batch: rows go to one Parquet file per partition (a play date, a
//! delivery date of the quarantine), written aside as they come, in the order they were read,
//! and put in place together when the batch is done.

use crate::lake::{LakeResult, Location, ParquetFile};
use arrow_array::builder::{Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One cell of a row bound for the lake.
pub enum Value<'a> {
    Str(&'a str),
    Int(i64),
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
}

/// Rows buffered before they are handed to the Parquet writer.
const BUFFERED_ROWS: usize = 16 * 1024;

enum Column {
    Str(StringBuilder),
    Int(Int64Builder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl Column {
    fn of(data_type: &DataType) -> Column {
        match data_type {
            DataType::Utf8 => Column::Str(StringBuilder::new()),
            DataType::Int64 => Column::Int(Int64Builder::new()),
            DataType::Timestamp(_, tz) => {
                Column::Timestamp(TimestampMicrosecondBuilder::new().with_timezone_opt(tz.clone()))
            }
            other => unreachable!("the lake's event tables have no {other} column"),
        }
    }

    fn push(&mut self, value: &Value) {
        match (self, value) {
            (Column::Str(b), Value::Str(v)) => b.append_value(v),
            (Column::Int(b), Value::Int(v)) => b.append_value(*v),
            (Column::Timestamp(b), Value::Timestamp(v)) => b.append_value(*v),
            _ => unreachable!("a row's values follow its schema"),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Str(b) => Arc::new(b.finish()),
            Column::Int(b) => Arc::new(b.finish()),
            Column::Timestamp(b) => Arc::new(b.finish()),
        }
    }
}

struct Partition {
    schema: SchemaRef,
    columns: Vec<Column>,
    buffered: usize,
    rows: u64,
    file: ParquetFile,
}

impl Partition {
    fn flush(&mut self) -> LakeResult<()> {
        if self.buffered == 0 {
            return Ok(());
        }
        let arrays = self.columns.iter_mut().map(Column::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        self.file.write(&batch)?;
        self.buffered = 0;
        Ok(())
    }
}

/// The files of one batch, by lake path.
#[derive(Default)]
pub struct Partitions {
    open: BTreeMap<String, Partition>,
}

impl Partitions {
    /// Append a row to the file at `path` (created on its first row).
    pub fn push(&mut self, path: &str, schema: &SchemaRef, row: &[Value]) -> LakeResult<()> {
        if !self.open.contains_key(path) {
            let file = ParquetFile::create(path, schema.clone())?;
            let columns = schema
                .fields()
                .iter()
                .map(|f| Column::of(f.data_type()))
                .collect();
            let partition = Partition {
                schema: schema.clone(),
                columns,
                buffered: 0,
                rows: 0,
                file,
            };
            self.open.insert(path.to_owned(), partition);
        }
        let partition = self.open.get_mut(path).expect("inserted above");
        for (column, value) in partition.columns.iter_mut().zip(row) {
            column.push(value);
        }
        partition.buffered += 1;
        partition.rows += 1;
        if partition.buffered == BUFFERED_ROWS {
            partition.flush()?;
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// The lake paths of the batch's files, in order.
    pub fn paths(&self) -> Vec<String> {
        self.open.keys().cloned().collect()
    }

    /// Close every file and put it in place; the paths written and their row counts.
    pub async fn publish(self, lake: &Location) -> LakeResult<Vec<(String, u64)>> {
        let mut written = Vec::new();
        for (path, mut partition) in self.open {
            partition.flush()?;
            partition.file.publish(lake).await?;
            written.push((path, partition.rows));
        }
        Ok(written)
    }
}
