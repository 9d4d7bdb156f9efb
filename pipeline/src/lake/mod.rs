//! The lake: one object-store location (a local directory by default, S3 or another
//! S3-compatible store in production) that holds everything kakin produces, as Parquet in Hive
//! layout (`lake.md`). The same type reaches the incoming area where collectors drop their logs.
//!
//! Every object appears whole or not at all: object_store's local store writes aside and renames,
//! S3 makes an upload visible only when it completes. Parquet files are written with zstd and a
//! fixed row-group size, in an order fixed by the caller, so that the same rows give the same
//! bytes.

mod columns;
mod parquet_file;
mod scan;
mod table;

pub use columns::Columns;
pub use parquet_file::{ParquetFile, ParquetSink};
pub use scan::scan_table;
pub use table::{cells, Cell, Kind, Table};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("{0:?} is not a location kakin can use (file://… or s3://bucket/prefix)")]
    UnsupportedUrl(String),
    #[error("{url}: {source}")]
    Store {
        url: String,
        source: object_store::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
}

pub type LakeResult<T> = Result<T, LakeError>;

/// An object-store location: a store and the prefix of this location in it.
#[derive(Clone, Debug)]
pub struct Location {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
    /// The directory of a `file://` location.
    local: Option<std::path::PathBuf>,
}

/// A location's objects as local files: the directory itself for a local location, a
/// temporary copy otherwise.
pub struct LocalCopy {
    root: std::path::PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl LocalCopy {
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }
}

/// An object of a location: its path relative to the location, and its size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub size: u64,
    /// The store's version tag of the object, when it has one.
    pub e_tag: Option<String>,
}

impl Location {
    /// `file://DIR` (relative to the working directory unless absolute; created when missing)
    /// or `s3://bucket/prefix` (credentials, region and endpoint from the usual `AWS_*`
    /// variables).
    pub fn open(url: &str) -> LakeResult<Location> {
        if let Some(dir) = url.strip_prefix("file://") {
            let dir = std::path::absolute(dir)?;
            std::fs::create_dir_all(&dir)?;
            let store =
                LocalFileSystem::new_with_prefix(&dir).map_err(|source| LakeError::Store {
                    url: url.to_owned(),
                    source,
                })?;
            return Ok(Location {
                store: Arc::new(store),
                prefix: String::new(),
                url: url.into(),
                local: Some(dir),
            });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let store = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|source| LakeError::Store {
                    url: url.to_owned(),
                    source,
                })?;
            let prefix = prefix.trim_matches('/').to_owned();
            return Ok(Location {
                store: Arc::new(store),
                prefix,
                url: url.into(),
                local: None,
            });
        }
        Err(LakeError::UnsupportedUrl(url.to_owned()))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn full(&self, path: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(path)
        } else {
            ObjectPath::from(format!("{}/{path}", self.prefix))
        }
    }

    fn relative(&self, full: &ObjectPath) -> String {
        let full = full.as_ref();
        if self.prefix.is_empty() {
            full.to_owned()
        } else {
            full.strip_prefix(&self.prefix)
                .unwrap_or(full)
                .trim_start_matches('/')
                .to_owned()
        }
    }

    fn error(&self, source: object_store::Error) -> LakeError {
        LakeError::Store {
            url: self.url.clone(),
            source,
        }
    }

    /// Put `bytes` at `path`, whole or not at all.
    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> LakeResult<()> {
        let payload = PutPayload::from(Bytes::from(bytes));
        self.store
            .put(&self.full(path), payload)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Put the contents of a local file at `path`, streamed (multipart on S3).
    pub async fn put_file(&self, path: &str, file: &std::path::Path) -> LakeResult<()> {
        let mut source = tokio::fs::File::open(file).await?;
        let mut upload =
            object_store::buffered::BufWriter::new(self.store.clone(), self.full(path));
        tokio::io::copy(&mut source, &mut upload).await?;
        upload.shutdown().await?;
        Ok(())
    }

    /// The whole object at `path`.
    pub async fn get(&self, path: &str) -> LakeResult<Bytes> {
        let result = self
            .store
            .get(&self.full(path))
            .await
            .map_err(|e| self.error(e))?;
        result.bytes().await.map_err(|e| self.error(e))
    }

    /// The whole object at `path`, or none when there is none.
    pub async fn get_if_present(&self, path: &str) -> LakeResult<Option<Bytes>> {
        match self.store.get(&self.full(path)).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(|e| self.error(e))?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Stream the object at `path` into `sink`, chunk by chunk.
    pub async fn get_into(
        &self,
        path: &str,
        mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> LakeResult<()> {
        let result = self
            .store
            .get(&self.full(path))
            .await
            .map_err(|e| self.error(e))?;
        let mut stream = result.into_stream();
        while let Some(chunk) = stream.next().await {
            sink(&chunk.map_err(|e| self.error(e))?)?;
        }
        Ok(())
    }

    /// Every object under `prefix` (relative to the location), by path.
    pub async fn list(&self, prefix: &str) -> LakeResult<Vec<Entry>> {
        let full = self.full(prefix);
        let mut entries: Vec<Entry> = self
            .store
            .list(Some(&full))
            .map_ok(|meta| Entry {
                path: self.relative(&meta.location),
                size: meta.size,
                e_tag: meta.e_tag,
            })
            .try_collect()
            .await
            .map_err(|e| self.error(e))?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    /// The objects under `prefixes` as local files, for readers that read files (polars).
    pub async fn local_copy(&self, prefixes: &[&str]) -> LakeResult<LocalCopy> {
        if let Some(dir) = &self.local {
            return Ok(LocalCopy {
                root: dir.clone(),
                _temp: None,
            });
        }
        let temp = tempfile::tempdir()?;
        for prefix in prefixes {
            for entry in self.list(prefix).await? {
                let target = temp.path().join(&entry.path);
                std::fs::create_dir_all(target.parent().expect("an object has a folder"))?;
                let mut file = std::fs::File::create(&target)?;
                self.get_into(&entry.path, |chunk| {
                    std::io::Write::write_all(&mut file, chunk)
                })
                .await?;
            }
        }
        Ok(LocalCopy {
            root: temp.path().to_owned(),
            _temp: Some(temp),
        })
    }

    /// Put `table` at `path` as one Parquet file.
    pub async fn put_table(&self, path: &str, table: Table) -> LakeResult<()> {
        self.put(path, table.encode()?).await
    }

    /// Put one record batch at `path` as one Parquet file (a table rewritten from what the
    /// lake held).
    pub async fn put_batch(&self, path: &str, batch: &arrow_array::RecordBatch) -> LakeResult<()> {
        let bytes = ParquetSink::bytes(batch.schema(), std::slice::from_ref(batch))?;
        self.put(path, bytes).await
    }

    /// The Parquet file at `path` as one record batch, or none when there is no such file.
    pub async fn get_batch(&self, path: &str) -> LakeResult<Option<arrow_array::RecordBatch>> {
        let Some(bytes) = self.get_if_present(path).await? else {
            return Ok(None);
        };
        use arrow_array::RecordBatchReader;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)?
            .build()?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        Ok(Some(arrow_select::concat::concat_batches(
            &schema, &batches,
        )?))
    }

    pub async fn delete(&self, path: &str) -> LakeResult<()> {
        match self.store.delete(&self.full(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }
}
