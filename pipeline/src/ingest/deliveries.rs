//! The delivered files: `<incoming>/<feed>/<delivery-date>/<name>.csv[.gz]`, taken in order of
//! delivery date, then path; each fetched to a local temporary file while its SHA-256 is
//! computed, so that memory stays flat however large a delivery is.

use super::feed::Feed;
use crate::domain::parse_date;
use crate::lake::{Entry, LakeResult, Location};
use chrono::NaiveDate;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::io::Write;

/// Delivered files fetched at a time: each waits on the store, then on a core to check its gzip
/// data, so that a night's files neither wait for each other's downloads nor leave a core idle.
const FETCHING: usize = 4;

/// A file under the incoming location, by its place in the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub path: String,
    pub feed: Feed,
    pub date: NaiveDate,
    pub gzip: bool,
    pub size: u64,
    pub e_tag: Option<String>,
}

/// The delivered files up to `until`, in the order `feeds.md` fixes.
#[derive(Debug, Default)]
pub struct Listing {
    pub deliveries: Vec<Delivery>,
    /// Objects that do not fit the layout (left alone).
    pub strays: Vec<String>,
    /// Objects that cannot be listed or read as they are (a symbolic link, a name that is not
    /// UTF-8, an S3 key object_store refuses): reported, and the run fails.
    pub unlisted: Vec<String>,
}

pub async fn list(incoming: &Location, until: Option<NaiveDate>) -> LakeResult<Listing> {
    let mut listing = Listing::default();
    for feed in Feed::ALL {
        let (entries, unlisted) = incoming.list_all(&format!("{}/", feed.name())).await?;
        listing.unlisted.extend(unlisted);
        for entry in entries {
            match place(feed, &entry) {
                Some(d) if until.is_none_or(|until| d.date <= until) => listing.deliveries.push(d),
                Some(_) => {}
                None => listing.strays.push(entry.path),
            }
        }
    }
    listing
        .deliveries
        .sort_by(|a, b| (a.date, &a.path).cmp(&(b.date, &b.path)));
    Ok(listing)
}

fn place(feed: Feed, entry: &Entry) -> Option<Delivery> {
    let mut parts = entry.path.split('/');
    let (_, date, name) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let date = parse_date(date).ok()?;
    let gzip = name.ends_with(".csv.gz");
    if !(gzip || name.ends_with(".csv")) {
        return None;
    }
    Some(Delivery {
        path: entry.path.clone(),
        feed,
        date,
        gzip,
        size: entry.size,
        e_tag: entry.e_tag.clone(),
    })
}

/// A delivered file fetched to local disk, with its SHA-256.
pub struct Fetched {
    pub local: tempfile::NamedTempFile,
    pub sha256: String,
}

/// Fetch every delivery `wanted` ([`FETCHING`] at a time), in the deliveries' order: each with
/// its fetch's result, or `None` when it was not wanted.
pub fn fetch_wanted<'a>(
    incoming: &'a Location,
    deliveries: Vec<Delivery>,
    wanted: impl Fn(&Delivery) -> bool + 'a,
) -> impl Stream<Item = (Delivery, Option<LakeResult<Fetched>>)> + 'a {
    futures::stream::iter(deliveries)
        .map(move |delivery| {
            let fetching = wanted(&delivery).then(|| {
                let (incoming, delivery) = (incoming.clone(), delivery.clone());
                tokio::spawn(async move { fetch(&incoming, &delivery).await })
            });
            async move {
                let fetched = match fetching {
                    Some(task) => Some(task.await.expect("fetching a file does not panic")),
                    None => None,
                };
                (delivery, fetched)
            }
        })
        .buffered(FETCHING)
}

/// Fetch `delivery` to a local file, computing its SHA-256; a gzip file is decompressed once to
/// its end, so that a file truncated mid-member is found unreadable before any of its lines is
/// decided (it is reported and retried by the next run, not half ingested).
async fn fetch(incoming: &Location, delivery: &Delivery) -> LakeResult<Fetched> {
    let mut local = tempfile::NamedTempFile::new()?;
    let mut hasher = Sha256::new();
    {
        let file = local.as_file_mut();
        incoming
            .get_into(&delivery.path, |chunk| {
                hasher.update(chunk);
                file.write_all(chunk)
            })
            .await?;
        file.flush()?;
    }
    if delivery.gzip {
        let path = local.path().to_owned();
        tokio::task::spawn_blocking(move || {
            let mut whole = flate2::read::MultiGzDecoder::new(std::fs::File::open(path)?);
            std::io::copy(&mut whole, &mut std::io::sink())
        })
        .await
        .expect("decompressing does not panic")
        .map_err(|e| std::io::Error::new(e.kind(), format!("the gzip data is unreadable: {e}")))?;
    }
    Ok(Fetched {
        local,
        sha256: hex::encode(hasher.finalize()),
    })
}
