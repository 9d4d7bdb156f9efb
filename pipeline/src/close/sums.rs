//! The month to date's daily sums (`provisional/daily/`): one file per event file that an open
//! month bills, its events summed per key-chip and key (`events::daily_sums`). Event files
//! never change once their batch is committed, so a refresh sums only the files committed
//! since the last refresh and reads the others' sums, which are a fraction of their size: its
//! time follows the night, not the month. Sums of files no open month bills any longer (a
//! close billed them) are deleted; a killed refresh leaves whole sums, which its rerun uses.

use super::{events, CloseError};
use crate::lake::layout::{EventFile, DAILY_SUMS};
use crate::lake::{LocalCopy, Location};
use std::collections::BTreeSet;

/// The daily sums of every one of `files`, summing those that have none yet, as local files
/// (under [`DAILY_SUMS`]); the sums of other files are deleted.
pub async fn up_to_date(lake: &Location, files: &[&EventFile]) -> Result<LocalCopy, CloseError> {
    let kept: BTreeSet<String> = lake
        .list(DAILY_SUMS)
        .await?
        .into_iter()
        .map(|entry| entry.path)
        .collect();
    let wanted: BTreeSet<String> = files.iter().map(|f| f.sums_path()).collect();
    let missing: Vec<&EventFile> = files
        .iter()
        .copied()
        .filter(|f| !kept.contains(&f.sums_path()))
        .collect();
    sum(lake, &missing).await?;
    let stale = kept.iter().filter(|path| !wanted.contains(*path));
    for path in stale {
        lake.delete(path).await?;
    }
    let wanted: Vec<String> = wanted.into_iter().collect();
    Ok(lake.local_files(&wanted).await?)
}

/// Sum each of `files` and put its sums in the lake.
async fn sum(lake: &Location, files: &[&EventFile]) -> Result<(), CloseError> {
    if files.is_empty() {
        return Ok(());
    }
    let paths: Vec<String> = files.iter().map(|f| f.path()).collect();
    let events = lake.local_files(&paths).await?;
    for file in files {
        // polars runs its own runtime: it reads on a thread outside ours.
        let sums = std::thread::scope(|scope| {
            scope
                .spawn(|| events::daily_sums(events.root(), file))
                .join()
        })
        .expect("summing an event file does not panic")?;
        lake.put(&file.sums_path(), sums).await?;
    }
    Ok(())
}

/// Forget the sums of `files`, billed by a close.
pub async fn forget(lake: &Location, files: &[&EventFile]) -> Result<(), CloseError> {
    for file in files {
        lake.delete(&file.sums_path()).await?;
    }
    Ok(())
}
