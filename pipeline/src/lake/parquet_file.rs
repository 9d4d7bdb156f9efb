//! Parquet files as the lake holds them: zstd, fixed row groups, written to a local temporary
//! file first and then put in place whole.

use super::{LakeError, LakeResult, Location};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use std::sync::Mutex;

/// Rows per row group: bounds the memory of a writer, and fixes the layout of the bytes.
pub(super) const ROW_GROUP: usize = 128 * 1024;

fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("level 3 is valid"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .build()
}

/// A Parquet file being written aside, to be put at its path in a [`Location`].
pub struct ParquetFile {
    path: String,
    temp: tempfile::NamedTempFile,
    writer: ArrowWriter<std::fs::File>,
}

impl ParquetFile {
    pub fn create(path: &str, schema: SchemaRef) -> LakeResult<ParquetFile> {
        let temp = tempfile::NamedTempFile::new()?;
        let writer = ArrowWriter::try_new(temp.reopen()?, schema, Some(properties()))?;
        Ok(ParquetFile {
            path: path.to_owned(),
            temp,
            writer,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> LakeResult<()> {
        self.writer.write(batch)?;
        Ok(())
    }

    /// Close the file and put it in place.
    pub async fn publish(self, location: &Location) -> LakeResult<()> {
        self.writer.close()?;
        location.put_file(&self.path, self.temp.path()).await
    }
}

/// Writes whole tables: a schema and its record batches become one Parquet object, in memory.
/// A table may be given a row group at a time as it is built (a row group's values written
/// at once or in parts give the same bytes).
///
/// Each row group's columns are encoded on every core (parquet's [`ArrowColumnWriter`]s, one
/// per column, taken in turn by the cores), then put in the file in their order: the bytes
/// are those one [`ArrowWriter`] writes, in a fraction of the time for a table of millions of
/// rows (a month to date's daily views), whose text columns' dictionaries are most of it.
pub struct ParquetSink {
    file: SerializedFileWriter<Vec<u8>>,
    columns: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// The rows of the row group being filled, as given.
    group: Vec<RecordBatch>,
    grouped: usize,
}

impl ParquetSink {
    pub fn bytes(schema: SchemaRef, batches: &[RecordBatch]) -> LakeResult<Vec<u8>> {
        let mut sink = ParquetSink::new(schema)?;
        for batch in batches {
            sink.write(batch)?;
        }
        sink.finish()
    }

    pub fn new(schema: SchemaRef) -> LakeResult<ParquetSink> {
        let (file, columns) = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(properties()))?
            .into_serialized_writer()?;
        Ok(ParquetSink {
            file,
            columns,
            schema,
            group: Vec::new(),
            grouped: 0,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> LakeResult<()> {
        let mut written = 0;
        while written < batch.num_rows() {
            let rows = (ROW_GROUP - self.grouped).min(batch.num_rows() - written);
            self.group.push(batch.slice(written, rows));
            self.grouped += rows;
            written += rows;
            if self.grouped == ROW_GROUP {
                self.write_group()?;
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> LakeResult<Vec<u8>> {
        if self.grouped > 0 {
            self.write_group()?;
        }
        Ok(self.file.into_inner()?)
    }

    /// Encode the row group being filled and append it to the file.
    fn write_group(&mut self) -> LakeResult<()> {
        let index = self.file.flushed_row_groups().len();
        let writers = self.columns.create_column_writers(index)?;
        let group = std::mem::take(&mut self.group);
        self.grouped = 0;
        let chunks = encoded_columns(&self.schema, &group, writers)?;
        let mut row_group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        Ok(())
    }
}

/// The columns of `group` encoded by their `writers` (the lake's tables are flat: one writer
/// per column), the cores taking the next column not yet taken: the chunks in column order.
fn encoded_columns(
    schema: &SchemaRef,
    group: &[RecordBatch],
    writers: Vec<ArrowColumnWriter>,
) -> LakeResult<Vec<ArrowColumnChunk>> {
    assert_eq!(writers.len(), schema.fields().len(), "a lake table is flat");
    let columns = Mutex::new(writers.into_iter().enumerate());
    let encode = |column: usize, mut writer: ArrowColumnWriter| -> LakeResult<_> {
        let field = schema.field(column);
        for batch in group {
            for leaf in compute_leaves(field, batch.column(column))? {
                writer.write(&leaf)?;
            }
        }
        Ok((column, writer.close()?))
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut chunks = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| {
                    let mut encoded = Vec::new();
                    loop {
                        let next = columns.lock().expect("no encoder panics").next();
                        let Some((column, writer)) = next else {
                            return Ok::<_, LakeError>(encoded);
                        };
                        encoded.push(encode(column, writer)?);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("encoding a column does not panic"))
            .collect::<LakeResult<Vec<_>>>()
    })?
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    chunks.sort_by_key(|(column, _)| *column);
    Ok(chunks.into_iter().map(|(_, chunk)| chunk).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;

    /// Rows of a text column with repeats and nulls, an integer column and a text column
    /// of distinct values, in batches of uneven sizes that cross row groups.
    fn batches(rows: usize) -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("store", DataType::Utf8, true),
            Field::new("count", DataType::Int64, false),
            Field::new("keychip", DataType::Utf8, false),
        ]));
        let batch = |from: usize, to: usize| {
            let stores: StringArray = (from..to)
                .map(|r| (r % 7 != 3).then(|| format!("店舗{}", r % 97)))
                .collect();
            let counts: Int64Array = (from..to).map(|r| (r * 31 % 1000) as i64).collect();
            let keychips: StringArray = (from..to).map(|r| Some(format!("A{r:011}"))).collect();
            let columns: Vec<ArrayRef> =
                vec![Arc::new(stores), Arc::new(counts), Arc::new(keychips)];
            RecordBatch::try_new(schema.clone(), columns).unwrap()
        };
        let cuts = [0, 1000, 70_000, ROW_GROUP + 5, 2 * ROW_GROUP, rows];
        let batches = cuts.windows(2).map(|w| batch(w[0], w[1])).collect();
        (schema, batches)
    }

    #[test]
    fn columns_encoded_on_every_core_give_the_bytes_of_one_arrow_writer() {
        let (schema, batches) = batches(2 * ROW_GROUP + 12_345);
        let mut writer =
            ArrowWriter::try_new(Vec::new(), schema.clone(), Some(properties())).unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        let expected = writer.into_inner().unwrap();
        let bytes = ParquetSink::bytes(schema, &batches).unwrap();
        assert_eq!(bytes.len(), expected.len());
        assert!(bytes == expected, "the same rows give the same bytes");
    }
}
