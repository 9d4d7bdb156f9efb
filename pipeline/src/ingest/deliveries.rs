//! The delivered files: `<incoming>/<feed>/<delivery-date>/<name>.csv[.gz]`, taken in order of
//! delivery date, then path; each fetched to a local temporary file while its SHA-256 is
//! computed, so that memory stays flat however large a delivery is.

use super::feed::Feed;
use crate::domain::parse_date;
use crate::lake::{Entry, LakeResult, Location};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use std::io::Write;

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

/// Every delivered file up to `until` in the order `feeds.md` fixes, and the paths that do not
/// fit the layout.
pub async fn list(
    incoming: &Location,
    until: Option<NaiveDate>,
) -> LakeResult<(Vec<Delivery>, Vec<String>)> {
    let mut deliveries = Vec::new();
    let mut strays = Vec::new();
    for feed in Feed::ALL {
        for entry in incoming.list(&format!("{}/", feed.name())).await? {
            match place(feed, &entry) {
                Some(d) if until.is_none_or(|until| d.date <= until) => deliveries.push(d),
                Some(_) => {}
                None => strays.push(entry.path),
            }
        }
    }
    deliveries.sort_by(|a, b| (a.date, &a.path).cmp(&(b.date, &b.path)));
    Ok((deliveries, strays))
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

pub async fn fetch(incoming: &Location, delivery: &Delivery) -> LakeResult<Fetched> {
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
    Ok(Fetched {
        local,
        sha256: hex::encode(hasher.finalize()),
    })
}
