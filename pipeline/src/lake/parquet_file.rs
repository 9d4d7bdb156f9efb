//! Parquet files as the lake holds them: zstd, fixed row groups, written to a local temporary
//! file first and then put in place whole.

use super::{LakeResult, Location};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

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
pub struct ParquetSink {
    writer: ArrowWriter<Vec<u8>>,
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
        let writer = ArrowWriter::try_new(Vec::new(), schema, Some(properties()))?;
        Ok(ParquetSink { writer })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> LakeResult<()> {
        self.writer.write(batch)?;
        Ok(())
    }

    pub fn finish(self) -> LakeResult<Vec<u8>> {
        Ok(self.writer.into_inner()?)
    }
}
