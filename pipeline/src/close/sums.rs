//! The month to date's daily sums (`provisional/daily/`): one file per event file that an open
//! month bills, its events summed per key-chip and key (`events::daily_sums`). Event files
//! never change once their batch is committed, so a refresh sums only the files committed
//! since the last refresh and reads the others' sums, which are a fraction of their size: its
//! time follows the night, not the month. The close reads them too (summing what no refresh
//! did) and forgets those of the files it billed; a refresh deletes any other no open month
//! bills. A killed run leaves whole sums, which its rerun uses.

use super::{events, CloseError};
use crate::lake::layout::{EventFile, DAILY_SUMS};
use crate::lake::{LocalCopy, Location};
use std::collections::BTreeSet;

/// The daily sums of every one of `files`, summing those that have none yet, as local files
/// (under [`DAILY_SUMS`]).
pub async fn read(lake: &Location, files: &[&EventFile]) -> Result<LocalCopy, CloseError> {
    let kept = kept(lake).await?;
    let (summed, missing): (Vec<&EventFile>, Vec<&EventFile>) =
        files.iter().partition(|f| kept.contains(&f.sums_path()));
    let summed: Vec<String> = summed.iter().map(|f| f.sums_path()).collect();
    let copy = lake.local_files(&summed).await?;
    sum(lake, &missing, &copy).await?;
    Ok(copy)
}

/// Delete the sums of every file but `files` (those the open months bill).
pub async fn forget_all_but(lake: &Location, files: &[&EventFile]) -> Result<(), CloseError> {
    let wanted: BTreeSet<String> = files.iter().map(|f| f.sums_path()).collect();
    Ok(lake
        .delete_all(kept(lake).await?.difference(&wanted))
        .await?)
}

async fn kept(lake: &Location) -> Result<BTreeSet<String>, CloseError> {
    let listed = lake.list(DAILY_SUMS).await?;
    Ok(listed.into_iter().map(|entry| entry.path).collect())
}

/// How many event files are summed together: their sums are in memory until put.
const SUMMED_TOGETHER: usize = 16;

/// Sum each of `files`, put its sums in the lake and hold them in `copy`.
async fn sum(lake: &Location, files: &[&EventFile], copy: &LocalCopy) -> Result<(), CloseError> {
    for files in files.chunks(SUMMED_TOGETHER) {
        let paths: Vec<String> = files.iter().map(|f| f.path()).collect();
        let events = lake.local_files(&paths).await?;
        // polars runs its own runtime: it reads on a thread outside ours.
        let sums = std::thread::scope(|scope| {
            scope
                .spawn(|| events::daily_sums(events.root(), files))
                .join()
        })
        .expect("summing event files does not panic")?;
        let puts = files.iter().zip(sums).map(|(file, sums)| async move {
            copy.hold(&file.sums_path(), &sums)?;
            lake.put(&file.sums_path(), sums).await?;
            crate::failpoint("daily-sums-put");
            Ok::<_, crate::lake::LakeError>(())
        });
        // All at once: they are a few (SUMMED_TOGETHER), each waiting on the store.
        futures::future::try_join_all(puts).await?;
    }
    Ok(())
}

/// Forget the sums of `files`, billed by a close.
pub async fn forget(lake: &Location, files: &[&EventFile]) -> Result<(), CloseError> {
    Ok(lake.delete_all(files.iter().map(|f| f.sums_path())).await?)
}
