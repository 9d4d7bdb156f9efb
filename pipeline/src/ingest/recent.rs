//! The ids a batch has accepted that the database's answers may not show yet.
//!
//! A batch records its accepted ids in the ledger as it goes, every [`FLUSH`] ids in a
//! transaction of their own (tagged with the batch, so that a killed run's are removed), so that
//! its memory is a few chunks' ids whatever the size of the night. The database is asked about
//! a chunk's ids while the chunk before it is decided, once the flushes before that one are
//! done: its answer shows every id flushed until then, and these hold the rest — the ids
//! accepted since the last flush, and those of the last flush, which the answer in use may have
//! been asked before.

use super::Feed;
use crate::db::AcceptedId;
use ahash::AHashMap;

/// Ids accepted before they are recorded in a transaction of their own.
const FLUSH: usize = super::reader::CHUNK;

/// Content hashes by id, one map per feed.
type ByFeed = [AHashMap<String, i64>; 2];

#[derive(Default)]
pub(super) struct Recent {
    unflushed: Vec<AcceptedId>,
    /// The ids of `unflushed`.
    accepted: ByFeed,
    /// The ids of the last flush.
    flushed: ByFeed,
}

impl Recent {
    /// The content hash accepted under `id` since the answers in use were asked.
    pub fn get(&self, feed: Feed, id: &str) -> Option<i64> {
        let feed = feed as usize;
        self.accepted[feed]
            .get(id)
            .or_else(|| self.flushed[feed].get(id))
            .copied()
    }

    pub fn accept(&mut self, accepted: AcceptedId, feed: Feed) {
        self.accepted[feed as usize].insert(accepted.event_id.clone(), accepted.content_hash);
        self.unflushed.push(accepted);
    }

    /// At the end of a chunk, once the next chunk's question was asked after every earlier
    /// flush was done: the ids to record now, when there are enough of them.
    pub fn flush(&mut self) -> Option<Vec<AcceptedId>> {
        if self.unflushed.len() < FLUSH {
            self.flushed = ByFeed::default();
            return None;
        }
        self.flushed = std::mem::take(&mut self.accepted);
        Some(std::mem::take(&mut self.unflushed))
    }

    /// The ids not flushed, recorded when the batch commits.
    pub fn into_unflushed(self) -> Vec<AcceptedId> {
        self.unflushed
    }
}
