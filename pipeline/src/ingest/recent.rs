//! The ids a batch has accepted that the database's answers may not show yet.
//!
//! A batch records its accepted ids in the ledger as it goes, every [`FLUSH`] ids in a
//! transaction of their own (tagged with the batch, so that a killed run's are removed), so that
//! its memory is a few chunks' ids whatever the size of the night. The database is asked about
//! a chunk's ids as soon as the chunk before it is answered, while that chunk is decided and the
//! flush before it may still be recording: one flush at a time is in flight, and it overlaps the
//! decisions. An answer shows every id flushed before it was asked, so these hold the rest: the
//! ids accepted since the last flush, and those of the last two flushes (the last is recording;
//! the one before may have been when the answer in use was asked).

use super::Feed;
use crate::db::AcceptedId;
use ahash::AHashMap;
use compact_str::CompactString;

/// Ids accepted before they are recorded in a transaction of their own.
const FLUSH: usize = super::reader::CHUNK;

/// Content hashes by id, one map per feed.
type ByFeed = [AHashMap<CompactString, i64>; 2];

#[derive(Default)]
pub(super) struct Recent {
    unflushed: Vec<AcceptedId>,
    /// The ids of `unflushed`.
    accepted: ByFeed,
    /// The ids of the last flush, then of the one before it.
    flushed: [ByFeed; 2],
}

impl Recent {
    /// The content hash accepted under `id` since the answers in use were asked.
    pub fn get(&self, feed: Feed, id: &str) -> Option<i64> {
        let feed = feed as usize;
        std::iter::once(&self.accepted)
            .chain(&self.flushed)
            .find_map(|ids| ids[feed].get(id))
            .copied()
    }

    pub fn accept(&mut self, accepted: AcceptedId, feed: Feed) {
        self.accepted[feed as usize].insert(accepted.event_id.clone(), accepted.content_hash);
        self.unflushed.push(accepted);
    }

    /// At the end of a chunk, once the flush before is recorded: the ids to record now, when
    /// there are enough of them. The flush before it is kept one chunk more: the next chunk's
    /// answer was asked while it was recording.
    pub fn flush(&mut self) -> Option<Vec<AcceptedId>> {
        let flushing = self.unflushed.len() >= FLUSH;
        let newest = if flushing {
            std::mem::take(&mut self.accepted)
        } else {
            ByFeed::default()
        };
        let before = std::mem::take(&mut self.flushed[0]);
        self.flushed = [newest, before];
        flushing.then(|| std::mem::take(&mut self.unflushed))
    }

    /// The ids not flushed, recorded when the batch commits.
    pub fn into_unflushed(self) -> Vec<AcceptedId> {
        self.unflushed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn play(n: usize) -> AcceptedId {
        AcceptedId {
            feed: Feed::Plays.name(),
            event_id: compact_str::format_compact!("P-{n}"),
            content_hash: n as i64,
        }
    }

    /// The answer used for a chunk was asked while the chunk before it was decided, when the
    /// flush before that one may still have been recording: an id is held until two more
    /// chunks have ended after its flush began.
    #[test]
    fn a_flushed_id_is_held_until_the_answers_in_use_were_asked_after_its_flush_was_recorded() {
        let mut recent = Recent::default();
        for n in 0..FLUSH {
            recent.accept(play(n), Feed::Plays);
        }
        assert_eq!(recent.get(Feed::Plays, "P-7"), Some(7));
        assert_eq!(recent.flush().map(|ids| ids.len()), Some(FLUSH));
        assert_eq!(recent.get(Feed::Plays, "P-7"), Some(7));
        recent.accept(play(FLUSH), Feed::Plays);
        assert_eq!(recent.flush(), None, "fewer ids than a flush wait");
        assert_eq!(recent.get(Feed::Plays, "P-7"), Some(7));
        assert_eq!(recent.get(Feed::Purchases, "P-7"), None);
        assert_eq!(recent.flush(), None);
        assert_eq!(recent.get(Feed::Plays, "P-7"), None);
        let unflushed = Some(FLUSH as i64);
        assert_eq!(recent.get(Feed::Plays, &format!("P-{FLUSH}")), unflushed);
        assert_eq!(recent.into_unflushed(), vec![play(FLUSH)]);
    }
}
