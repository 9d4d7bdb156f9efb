//! The lake: one object-store location (a local directory by default, S3 or another
//! S3-compatible store in production) that holds everything kakin produces, as Parquet in Hive
//! layout (`lake.md`). The same type reaches the incoming area where collectors drop their logs.
//!
//! Every object appears whole or not at all, and is durable before anything records it: a local
//! file is written under `_staging/` (a folder Hive readers skip), synced, renamed into place and
//! its folder synced; S3 makes an upload visible only when it completes, and a failed multipart
//! upload is aborted. The staging left by a killed writer is removed by the next one
//! ([`Location::remove_staging`]). Parquet files are written with zstd and a fixed row-group
//! size, in an order fixed by the caller, so that the same rows give the same bytes.
//!
//! A local location is read and written with the file system itself, not through object_store:
//! any file name a collector writes (spaces, `#`, `%`, `+`, non-ASCII) is listed as it is, and a
//! symbolic link is never followed (it is reported as a stray).

mod columns;
pub mod layout;
mod local;
mod parquet_file;
mod scan;
pub mod schema;
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

/// Objects fetched, put or deleted at a time where a run has many: on a remote store each
/// request waits on the network, not on a core, so that a month's hundreds of small files do
/// not take their round trips one after the other.
pub const AT_ONCE: usize = 8;

/// An object-store location: a store and the prefix of this location in it.
#[derive(Clone, Debug)]
pub struct Location {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
    /// The directory of a `file://` location.
    local: Option<std::path::PathBuf>,
    /// What was read from a remote store through this location (and its clones).
    fetched: Arc<Fetched>,
}

/// Objects and bytes read from a remote store: what a command cost in transfer.
#[derive(Debug, Default)]
struct Fetched {
    objects: std::sync::atomic::AtomicU64,
    bytes: std::sync::atomic::AtomicU64,
}

impl Fetched {
    fn add(&self, path: &str, bytes: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        tracing::debug!(path, bytes, "fetched");
        self.objects.fetch_add(1, Relaxed);
        self.bytes.fetch_add(bytes as u64, Relaxed);
    }
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

    /// Make `bytes`, which were just put in the lake at `path`, part of this copy without
    /// fetching them back (a local location's copy is the location itself: it has them).
    pub fn hold(&self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        if self._temp.is_none() {
            return Ok(());
        }
        let target = self.root.join(path);
        std::fs::create_dir_all(target.parent().expect("an object has a folder"))?;
        std::fs::write(target, bytes)
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
                    url: crate::domain::redacted(url),
                    source,
                })?;
            return Ok(Location {
                store: Arc::new(store),
                prefix: String::new(),
                url: crate::domain::redacted(url),
                local: Some(dir),
                fetched: Default::default(),
            });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let store = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|source| LakeError::Store {
                    url: crate::domain::redacted(url),
                    source,
                })?;
            let prefix = prefix.trim_matches('/').to_owned();
            return Ok(Location {
                store: Arc::new(store),
                prefix,
                url: crate::domain::redacted(url),
                local: None,
                fetched: Default::default(),
            });
        }
        Err(LakeError::UnsupportedUrl(crate::domain::redacted(url)))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The objects and bytes read so far from a remote store (none for a local directory).
    pub fn fetched(&self) -> Option<(u64, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        let f = &self.fetched;
        self.local
            .is_none()
            .then(|| (f.objects.load(Relaxed), f.bytes.load(Relaxed)))
    }

    /// The object path of `path`: as it is when it is a valid key (so that a key listed with
    /// `%`, `#` or `+` in it is read back by the same key), else percent-encoded.
    fn full(&self, path: &str) -> ObjectPath {
        let full = if self.prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{path}", self.prefix)
        };
        ObjectPath::parse(&full).unwrap_or_else(|_| ObjectPath::from(full))
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
        if let Some(dir) = &self.local {
            return Ok(local::put(dir, path, bytes).await?);
        }
        let payload = PutPayload::from(Bytes::from(bytes));
        self.store
            .put(&self.full(path), payload)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Put the contents of a local file at `path`, streamed (multipart on S3, aborted when it
    /// fails, so that no part is left stored).
    pub async fn put_file(&self, path: &str, file: &std::path::Path) -> LakeResult<()> {
        if let Some(dir) = &self.local {
            return Ok(local::put_file(dir, path, file).await?);
        }
        let mut source = tokio::fs::File::open(file).await?;
        let mut upload =
            object_store::buffered::BufWriter::new(self.store.clone(), self.full(path));
        let copied = async {
            tokio::io::copy(&mut source, &mut upload).await?;
            upload.shutdown().await
        }
        .await;
        if let Err(e) = copied {
            if let Err(abort) = upload.abort().await {
                tracing::warn!("aborting the upload of {path}: {abort}");
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// Remove what killed writers left half-written (local staging files). Only the holder of
    /// the writer lease calls it.
    pub async fn remove_staging(&self) -> LakeResult<()> {
        match &self.local {
            Some(dir) => Ok(local::remove_staging(dir).await?),
            None => Ok(()),
        }
    }

    /// The whole object at `path`.
    pub async fn get(&self, path: &str) -> LakeResult<Bytes> {
        if let Some(dir) = &self.local {
            return Ok(Bytes::from(std::fs::read(local::file(dir, path))?));
        }
        let result = self
            .store
            .get(&self.full(path))
            .await
            .map_err(|e| self.error(e))?;
        let bytes = result.bytes().await.map_err(|e| self.error(e))?;
        self.fetched.add(path, bytes.len());
        Ok(bytes)
    }

    /// The whole object at `path`, or none when there is none.
    pub async fn get_if_present(&self, path: &str) -> LakeResult<Option<Bytes>> {
        if let Some(dir) = &self.local {
            return match std::fs::read(local::file(dir, path)) {
                Ok(bytes) => Ok(Some(Bytes::from(bytes))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            };
        }
        match self.store.get(&self.full(path)).await {
            Ok(result) => {
                let bytes = result.bytes().await.map_err(|e| self.error(e))?;
                self.fetched.add(path, bytes.len());
                Ok(Some(bytes))
            }
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
        if let Some(dir) = &self.local {
            return Ok(local::read_into(dir, path, sink)?);
        }
        let result = self
            .store
            .get(&self.full(path))
            .await
            .map_err(|e| self.error(e))?;
        let mut stream = result.into_stream();
        let mut bytes = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.error(e))?;
            bytes += chunk.len();
            sink(&chunk)?;
        }
        self.fetched.add(path, bytes);
        Ok(())
    }

    /// Every object under `prefix` (relative to the location), by path.
    pub async fn list(&self, prefix: &str) -> LakeResult<Vec<Entry>> {
        let (entries, unlisted) = self.list_all(prefix).await?;
        match unlisted.into_iter().next() {
            None => Ok(entries),
            Some(problem) => Err(LakeError::Io(std::io::Error::other(problem))),
        }
    }

    /// Every object under `prefix` that can be read, by path, and a sentence for each that
    /// cannot (a symbolic link, a name that is not UTF-8, a key object_store refuses such as one
    /// with a `..` segment): a listing does not fail for one odd object.
    pub async fn list_all(&self, prefix: &str) -> LakeResult<(Vec<Entry>, Vec<String>)> {
        if let Some(dir) = &self.local {
            return Ok(local::list(dir, prefix)?);
        }
        let full = self.full(prefix);
        let mut listing = self.store.list(Some(&full));
        let (mut entries, mut unlisted) = (Vec::new(), Vec::new());
        while let Some(item) = listing.next().await {
            match item {
                Ok(meta) => entries.push(Entry {
                    path: self.relative(&meta.location),
                    size: meta.size,
                    e_tag: meta.e_tag,
                }),
                // One such key fails its whole page of the listing (and the pages after it):
                // say so, so that the run is not taken for complete.
                Err(object_store::Error::InvalidPath { source }) => unlisted.push(format!(
                    "under {prefix}: a key object_store cannot read ({source}); the objects \
                     listed with it were not seen: rename or remove it"
                )),
                Err(e) => return Err(self.error(e)),
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok((entries, unlisted))
    }

    /// The objects whose paths start with one of `prefixes` (a folder such as `plays/`, or a
    /// file such as `master/partners.parquet`) as local files, for readers that read files
    /// (polars).
    pub async fn local_copy(&self, prefixes: &[&str]) -> LakeResult<LocalCopy> {
        let mut paths = Vec::new();
        if self.local.is_none() {
            for prefix in prefixes {
                let folder = &prefix[..prefix.rfind('/').map_or(0, |i| i + 1)];
                let listed = self.list(folder).await?.into_iter().map(|e| e.path);
                paths.extend(listed.filter(|p| p.starts_with(prefix)));
            }
        }
        self.local_files(&paths).await
    }

    /// The objects at `paths` as local files, for readers that read files (polars): the
    /// directory itself for a local location; for a remote one, a temporary copy of those
    /// objects only, [`AT_ONCE`] fetched at a time.
    pub async fn local_files(&self, paths: &[String]) -> LakeResult<LocalCopy> {
        if let Some(dir) = &self.local {
            return Ok(LocalCopy {
                root: dir.clone(),
                _temp: None,
            });
        }
        let temp = tempfile::tempdir()?;
        let root = temp.path();
        futures::stream::iter(paths)
            .map(|path| async move {
                let target = root.join(path);
                std::fs::create_dir_all(target.parent().expect("an object has a folder"))?;
                let mut file = std::fs::File::create(&target)?;
                self.get_into(path, |chunk| std::io::Write::write_all(&mut file, chunk))
                    .await
            })
            .buffer_unordered(AT_ONCE)
            .try_collect::<()>()
            .await?;
        Ok(LocalCopy {
            root: root.to_owned(),
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
        if let Some(dir) = &self.local {
            return Ok(local::delete(dir, path).await?);
        }
        match self.store.delete(&self.full(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Delete every one of `paths` (none of them there is fine), [`AT_ONCE`] at a time.
    pub async fn delete_all(
        &self,
        paths: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> LakeResult<()> {
        futures::stream::iter(paths)
            .map(|path| async move { self.delete(path.as_ref()).await })
            .buffer_unordered(AT_ONCE)
            .try_collect()
            .await
    }
}
