//! The ids a run has accepted that the database's answers may not show yet.
//!
//! A batch records its accepted ids in the ledger as it goes, every [`FLUSH`] ids (each 16,384
//! in a transaction of their own, tagged with the batch, so that a killed run's are removed),
//! and its last ones once its lines are decided, while the next batch is read; so that its
//! memory is a flush's ids whatever the size of the night. The fewer a day's flushes, the fewer
//! times its ids pass through the day's part of the ledger's index: ids that arrive in time
//! order land on as many pages as there are key-chips in a flush, sorted or not. So a flush
//! holds four chunks (eight made a 10 × night's peak memory grow past the goal), compactly
//! ([`AcceptedIds`]; `benches/README.md`, session 27).
//!
//! The database is asked about a chunk's ids as soon as the chunk before it is answered, while
//! that chunk is decided; a flush records in the background, and is waited for when the next
//! one is due (or seen recorded at the end of the first chunk after it is, when it completes a
//! batch, which then commits). An answer shows every id recorded before it was asked, so these
//! hold the rest: the ids accepted since the last flush began, those of the flush recording,
//! and those of the flush last seen recorded until the chunk after is decided (that chunk's
//! answer was asked before the flush was seen recorded).

use super::Feed;
use crate::db::AcceptedIds;
use std::sync::Arc;

/// Ids accepted before they are recorded: four chunks.
const FLUSH: usize = 4 * super::reader::CHUNK;

#[derive(Default)]
pub(super) struct Recent {
    /// Ids accepted since the last flush.
    accepted: AcceptedIds,
    /// The ids of the flush recording.
    recording: Arc<AcceptedIds>,
    /// The ids of the flush seen recorded at the end of the last chunk.
    recorded: Arc<AcceptedIds>,
    /// The room of the last flush's ids, for the next ones: not taken afresh at each flush.
    spare: Option<AcceptedIds>,
}

impl Recent {
    /// Room for a flush's ids made at once, not grown id by id.
    pub fn new() -> Recent {
        Recent {
            accepted: AcceptedIds::with_capacity(FLUSH),
            ..Recent::default()
        }
    }

    /// Once no line is decided any more: every id held, and their room, let go (ids not
    /// flushed are those of a batch that failed, which never commits).
    pub fn release(&mut self) {
        *self = Recent::default();
    }

    /// The content hash accepted under `id` that the answers in use may not show.
    pub fn get(&self, feed: Feed, id: &str) -> Option<i64> {
        let hash = AcceptedIds::hash(id);
        [&self.accepted, &*self.recording, &*self.recorded]
            .into_iter()
            .find_map(|ids| ids.find(hash, feed.name(), id))
    }

    pub fn accept(&mut self, feed: Feed, id: &str, content_hash: i64) {
        self.accepted.insert(feed.name(), id, content_hash);
    }

    /// At the end of a chunk: the ids seen recorded at the end of the chunk before are no longer
    /// needed (the next chunk's answer was asked after).
    pub fn chunk_ended(&mut self) {
        let recorded = std::mem::take(&mut self.recorded);
        if let Ok(mut room) = Arc::try_unwrap(recorded) {
            if !room.is_empty() {
                room.clear();
                self.spare = Some(room);
            }
        }
    }

    /// Whether enough ids wait for the next flush.
    pub fn flush_due(&self) -> bool {
        self.accepted.len() >= FLUSH
    }

    /// Whether ids wait for a flush.
    pub fn unflushed(&self) -> bool {
        !self.accepted.is_empty()
    }

    /// Once the flush before is seen recorded: the ids to record next, held until they are.
    pub fn flush(&mut self) -> Arc<AcceptedIds> {
        debug_assert!(
            self.recording.is_empty(),
            "the flush before is seen recorded"
        );
        let room = self.spare.take();
        let next = room.unwrap_or_else(|| AcceptedIds::with_capacity(FLUSH));
        let accepted = std::mem::replace(&mut self.accepted, next);
        self.recording = Arc::new(accepted);
        Arc::clone(&self.recording)
    }

    /// The flush recording is seen recorded (at the end of a chunk, after
    /// [`Recent::chunk_ended`]): its ids are kept for the next chunk.
    pub fn recorded(&mut self) {
        self.recorded = std::mem::take(&mut self.recording);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(recent: &mut Recent, ids: std::ops::Range<usize>) {
        for n in ids {
            recent.accept(Feed::Plays, &format!("P-{n}"), n as i64);
        }
    }

    /// A flush's ids are held while it records, however many chunks that takes, and then until
    /// the chunk after it was seen recorded is decided: that chunk's answer was asked before.
    #[test]
    fn a_flushed_id_is_held_until_the_answers_in_use_were_asked_after_it_was_seen_recorded() {
        let mut recent = Recent::new();
        accept(&mut recent, 0..FLUSH);
        assert_eq!(recent.get(Feed::Plays, "P-7"), Some(7));
        recent.chunk_ended();
        assert!(recent.flush_due());
        assert_eq!(recent.flush().len(), FLUSH);
        assert!(!recent.flush_due() && !recent.unflushed());
        for _ in 0..3 {
            recent.chunk_ended();
            assert_eq!(recent.get(Feed::Plays, "P-7"), Some(7), "still recording");
        }
        assert_eq!(recent.get(Feed::Purchases, "P-7"), None);
        accept(&mut recent, FLUSH..FLUSH + 1);
        recent.chunk_ended();
        recent.recorded();
        assert_eq!(
            recent.get(Feed::Plays, "P-7"),
            Some(7),
            "kept for the next chunk"
        );
        recent.chunk_ended();
        assert_eq!(recent.get(Feed::Plays, "P-7"), None);
        assert_eq!(
            recent.get(Feed::Plays, &format!("P-{FLUSH}")),
            Some(FLUSH as i64)
        );
        assert!(recent.unflushed() && !recent.flush_due());
        assert_eq!(recent.flush().len(), 1);
    }
}
