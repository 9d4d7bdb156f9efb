//! The ids a batch has accepted that the database's answers may not show yet.
//!
//! A batch records its accepted ids in the ledger as it goes, every [`FLUSH`] ids in a
//! transaction of their own (tagged with the batch, so that a killed run's are removed), so that
//! its memory is a few flushes' ids whatever the size of the night. The database is asked about
//! a chunk's ids as soon as the chunk before it is answered, while that chunk is decided; a
//! flush records in the background for as many chunks as it takes, and is waited for only when
//! the next one is due. An answer shows every id recorded before it was asked, so these hold
//! the rest: the ids accepted since the last flush began, those of the flush recording, and
//! those of the flush last seen recorded until the chunk after is decided (that chunk's answer
//! was asked before the flush was seen recorded).

use super::Feed;
use crate::db::AcceptedId;
use ahash::AHashMap;
use compact_str::CompactString;

/// Ids accepted before they are recorded in a transaction of their own: two chunks' worth, so
/// that a flush's ids, sorted, lie closer together in the ledger's index; more would hold more
/// memory as the night grows (`benches/README.md`, session 23).
const FLUSH: usize = 2 * super::reader::CHUNK;

/// Content hashes by id, one map per feed.
type ByFeed = [AHashMap<CompactString, i64>; 2];

pub(super) struct Recent {
    unflushed: Vec<AcceptedId>,
    /// The ids of `unflushed`.
    accepted: ByFeed,
    /// The ids of the flush recording.
    recording: ByFeed,
    /// The ids of the flush seen recorded at the end of the last chunk.
    recorded: ByFeed,
}

impl Default for Recent {
    /// Room for a flush's ids made at once, not grown id by id.
    fn default() -> Self {
        let room = || AHashMap::with_capacity(FLUSH);
        Recent {
            unflushed: Vec::with_capacity(FLUSH),
            accepted: [room(), room()],
            recording: Default::default(),
            recorded: Default::default(),
        }
    }
}

impl Recent {
    /// The content hash accepted under `id` that the answers in use may not show.
    pub fn get(&self, feed: Feed, id: &str) -> Option<i64> {
        let feed = feed as usize;
        [&self.accepted, &self.recording, &self.recorded]
            .into_iter()
            .find_map(|ids| ids[feed].get(id))
            .copied()
    }

    pub fn accept(&mut self, accepted: AcceptedId, feed: Feed) {
        self.accepted[feed as usize].insert(accepted.event_id.clone(), accepted.content_hash);
        self.unflushed.push(accepted);
    }

    /// At the end of a chunk: the ids seen recorded at the end of the chunk before are no longer
    /// needed (the next chunk's answer was asked after).
    pub fn chunk_ended(&mut self) {
        self.recorded.iter_mut().for_each(|ids| ids.clear());
    }

    /// Whether enough ids wait for the next flush.
    pub fn flush_due(&self) -> bool {
        self.unflushed.len() >= FLUSH
    }

    /// Once the flush recording is seen recorded (at the end of a chunk, after
    /// [`Recent::chunk_ended`]): the ids to record next. Those just recorded are kept for the
    /// next chunk.
    pub fn flush(&mut self) -> Vec<AcceptedId> {
        // Their maps' room is used again, not grown anew.
        let emptied = std::mem::take(&mut self.recorded);
        let accepted = std::mem::replace(&mut self.accepted, emptied);
        self.recorded = std::mem::replace(&mut self.recording, accepted);
        std::mem::replace(&mut self.unflushed, Vec::with_capacity(FLUSH))
    }

    /// The ids not flushed, recorded when the batch commits.
    pub fn take_unflushed(&mut self) -> Vec<AcceptedId> {
        std::mem::take(&mut self.unflushed)
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

    /// A flush's ids are held while it records, however many chunks that takes, and then until
    /// the chunk after it was seen recorded is decided: that chunk's answer was asked before.
    #[test]
    fn a_flushed_id_is_held_until_the_answers_in_use_were_asked_after_it_was_seen_recorded() {
        let mut recent = Recent::default();
        for n in 0..FLUSH {
            recent.accept(play(n), Feed::Plays);
        }
        assert_eq!(recent.get(Feed::Plays, "P-7"), Some(7));
        recent.chunk_ended();
        assert!(recent.flush_due());
        assert_eq!(recent.flush().len(), FLUSH);
        assert!(!recent.flush_due());
        for _ in 0..3 {
            recent.chunk_ended();
            assert_eq!(recent.get(Feed::Plays, "P-7"), Some(7), "still recording");
        }
        assert_eq!(recent.get(Feed::Purchases, "P-7"), None);
        for n in FLUSH..2 * FLUSH {
            recent.accept(play(n), Feed::Plays);
        }
        recent.chunk_ended();
        assert_eq!(recent.flush().len(), FLUSH, "the first flush seen recorded");
        assert_eq!(
            recent.get(Feed::Plays, "P-7"),
            Some(7),
            "kept for the next chunk"
        );
        recent.chunk_ended();
        assert_eq!(recent.get(Feed::Plays, "P-7"), None);
        let recording = Some(FLUSH as i64);
        assert_eq!(recent.get(Feed::Plays, &format!("P-{FLUSH}")), recording);
        recent.accept(play(2 * FLUSH), Feed::Plays);
        assert_eq!(recent.take_unflushed(), vec![play(2 * FLUSH)]);
    }
}
