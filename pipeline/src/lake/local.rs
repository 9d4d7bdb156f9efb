//! A `file://` location, read and written with the file system: durable, atomic puts through a
//! staging folder, and listings that take any file name and never follow a symbolic link.

use super::Entry;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where files are written before they are renamed into place. Hive readers skip folders whose
/// name starts with `_`, and no table of the lake has such a name.
const STAGING: &str = "_staging";

/// The file of `path` (relative to the location) in `dir`.
pub fn file(dir: &Path, path: &str) -> PathBuf {
    dir.join(path)
}

/// A staging file of this process that no other write uses.
fn staging_file(dir: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "{}-{}.part",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    dir.join(STAGING).join(name)
}

/// Sync a folder, so that a rename or a new entry in it survives a crash.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Move a synced staging file into place at `path`, and sync the folders it changed.
fn install(dir: &Path, staged: &Path, path: &str) -> std::io::Result<()> {
    let target = file(dir, path);
    let folder = target.parent().expect("a file has a folder");
    if !folder.exists() {
        std::fs::create_dir_all(folder)?;
        // The new folders' own entries, up to the location.
        let mut created = folder;
        while let Some(parent) = created.parent().filter(|p| p.starts_with(dir)) {
            sync_dir(parent)?;
            if parent == dir {
                break;
            }
            created = parent;
        }
    }
    std::fs::rename(staged, &target)?;
    sync_dir(folder)
}

/// Write `write` to a new staging file, sync it, and put it in place at `path`.
async fn put_with(
    dir: &Path,
    path: &str,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()> + Send + 'static,
) -> std::io::Result<()> {
    let (dir, path) = (dir.to_owned(), path.to_owned());
    tokio::task::spawn_blocking(move || {
        let staged = staging_file(&dir);
        std::fs::create_dir_all(staged.parent().expect("staging has a folder"))?;
        let written = (|| {
            let mut out = std::fs::File::create(&staged)?;
            write(&mut out)?;
            out.sync_all()?;
            install(&dir, &staged, &path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&staged);
        }
        written
    })
    .await
    .expect("writing a file does not panic")
}

pub async fn put(dir: &Path, path: &str, bytes: Vec<u8>) -> std::io::Result<()> {
    put_with(dir, path, move |out| out.write_all(&bytes)).await
}

pub async fn put_file(dir: &Path, path: &str, source: &Path) -> std::io::Result<()> {
    let source = source.to_owned();
    put_with(dir, path, move |out| {
        std::io::copy(&mut std::fs::File::open(&source)?, out).map(|_| ())
    })
    .await
}

pub async fn delete(dir: &Path, path: &str) -> std::io::Result<()> {
    match std::fs::remove_file(file(dir, path)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Remove the staging files of writers that were killed.
pub async fn remove_staging(dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(dir.join(STAGING)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Stream the file at `path` into `sink`.
pub fn read_into(
    dir: &Path,
    path: &str,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut source = std::fs::File::open(file(dir, path))?;
    let mut buffer = vec![0; 256 * 1024];
    loop {
        match source.read(&mut buffer)? {
            0 => return Ok(()),
            n => sink(&buffer[..n])?,
        }
    }
}

/// Every regular file under `prefix`, by path, with a version tag from its metadata (inode,
/// modification time, size); and a sentence for each entry that is not listed: symbolic links
/// (never followed) and names that are not UTF-8. The staging folder is not listed.
pub fn list(dir: &Path, prefix: &str) -> std::io::Result<(Vec<Entry>, Vec<String>)> {
    let folder = match prefix.rsplit_once('/') {
        Some((folder, _)) => dir.join(folder),
        None => dir.to_owned(),
    };
    let (mut entries, mut unlisted) = (Vec::new(), Vec::new());
    let mut stack = vec![folder];
    while let Some(folder) = stack.pop() {
        let children = match std::fs::read_dir(&folder) {
            Ok(children) => children,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for child in children {
            let child = child?;
            let path = child.path();
            let relative = path.strip_prefix(dir).expect("under the location");
            let Some(relative) = relative.to_str() else {
                unlisted.push(format!(
                    "{}: the name is not UTF-8 text",
                    relative.to_string_lossy()
                ));
                continue;
            };
            if !relative.starts_with(prefix) && !prefix.starts_with(relative) {
                continue;
            }
            if relative == STAGING || relative.starts_with(&format!("{STAGING}/")) {
                continue;
            }
            let kind = child.file_type()?;
            if kind.is_symlink() {
                unlisted.push(format!("{relative}: a symbolic link (not followed)"));
            } else if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && relative.starts_with(prefix) {
                let meta = child.metadata()?;
                let modified = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
                entries.push(Entry {
                    path: relative.to_owned(),
                    size: meta.len(),
                    e_tag: Some(format!("{:x}-{modified:x}-{:x}", meta.ino(), meta.len())),
                });
            }
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    unlisted.sort();
    Ok((entries, unlisted))
}
