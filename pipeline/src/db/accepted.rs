//! The ids a batch has accepted and not recorded yet, and the order the ledger takes them in.
//!
//! Ingest records a batch's accepted ids a flush at a time
//! ([`Database::record_accepted`](super::Database::record_accepted)),
//! and the fewer the flushes of a day, the fewer times they pass through the day's part of the
//! ledger's index: ids that arrive in time order, every key-chip's in turn, land in as many
//! runs across that part as there are key-chips in a flush, each flush rewriting most of its
//! pages (`benches/README.md`, session 27). Until recorded, a flush's ids are asked of this set
//! instead of the database, so the set holds them compactly: their texts one after the other,
//! a 16-byte entry each and a table of positions, ~45 bytes an id where a map of strings beside
//! a vector of ids took ~85.

/// Ids accepted under their feeds, with their content hashes, found by feed and id.
pub struct AcceptedIds {
    /// Every id's text, one after the other.
    texts: String,
    entries: Vec<Entry>,
    /// Positions in `entries`, by a hash of their id ([`AcceptedIds::hash`]).
    positions: hashbrown::HashTable<u32>,
    /// The feeds' names, an entry's `feed` indexing them.
    feeds: Vec<&'static str>,
}

/// Every set hashes an id alike, so that one hash finds it in any ([`AcceptedIds::find`]);
/// seeded at random once a process, so that no file's ids can be made to collide.
static HASHER: std::sync::LazyLock<ahash::RandomState> =
    std::sync::LazyLock::new(ahash::RandomState::new);

#[derive(Clone, Copy)]
struct Entry {
    start: u32,
    len: u16,
    feed: u16,
    content_hash: i64,
}

/// An id of [`AcceptedIds`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedId<'a> {
    pub feed: &'static str,
    pub event_id: &'a str,
    pub content_hash: i64,
}

impl Default for AcceptedIds {
    fn default() -> Self {
        AcceptedIds::with_capacity(0)
    }
}

impl AcceptedIds {
    /// Room for `ids` made at once, not grown id by id (memory not touched is not taken).
    pub fn with_capacity(ids: usize) -> Self {
        AcceptedIds {
            // A collector's id is ~25 characters.
            texts: String::with_capacity(ids * 24),
            entries: Vec::with_capacity(ids),
            positions: hashbrown::HashTable::with_capacity(ids),
            feeds: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The hash under which every set finds `event_id` (of any feed).
    pub fn hash(event_id: &str) -> u64 {
        HASHER.hash_one(event_id)
    }

    /// The content hash accepted under `event_id` in `feed`.
    pub fn get(&self, feed: &str, event_id: &str) -> Option<i64> {
        self.find(Self::hash(event_id), feed, event_id)
    }

    /// [`AcceptedIds::get`] with the id's [`AcceptedIds::hash`] known.
    pub fn find(&self, hash: u64, feed: &str, event_id: &str) -> Option<i64> {
        if self.is_empty() {
            return None;
        }
        let feed = self.feeds.iter().position(|f| *f == feed)? as u16;
        let position = self.positions.find(hash, |&p| self.is(p, feed, event_id))?;
        Some(self.entries[*position as usize].content_hash)
    }

    /// Emptied, its room kept for the next ids.
    pub fn clear(&mut self) {
        self.texts.clear();
        self.entries.clear();
        self.positions.clear();
        self.feeds.clear();
    }

    /// Add an id not in the set (ingest accepts an id once).
    pub fn insert(&mut self, feed: &'static str, event_id: &str, content_hash: i64) {
        debug_assert!(
            self.get(feed, event_id).is_none(),
            "{event_id} accepted twice"
        );
        let feed = match self.feeds.iter().position(|f| *f == feed) {
            Some(known) => known,
            None => {
                self.feeds.push(feed);
                self.feeds.len() - 1
            }
        } as u16;
        let position = self.entries.len() as u32;
        self.entries.push(Entry {
            start: self.texts.len() as u32,
            len: u16::try_from(event_id.len()).expect("ids are at most 64 characters"),
            feed,
            content_hash,
        });
        self.texts.push_str(event_id);
        let (entries, texts) = (&self.entries, &self.texts);
        self.positions
            .insert_unique(Self::hash(event_id), position, |&p| {
                Self::hash(text(texts, &entries[p as usize]))
            });
    }

    fn is(&self, position: u32, feed: u16, event_id: &str) -> bool {
        let entry = &self.entries[position as usize];
        entry.feed == feed && text(&self.texts, entry) == event_id
    }

    fn id(&self, entry: &Entry) -> AcceptedId<'_> {
        AcceptedId {
            feed: self.feeds[entry.feed as usize],
            event_id: text(&self.texts, entry),
            content_hash: entry.content_hash,
        }
    }

    /// The ids in the ledger's key order (by feed, then id), `at_most` at a time, each feed's
    /// apart. Only their positions are sorted, so that a flush's order takes 4 bytes an id.
    pub fn in_key_order(&self, at_most: usize) -> impl Iterator<Item = Vec<AcceptedId<'_>>> {
        // Each feed's rank among the feeds' names, so that feeds compare as numbers.
        let rank: Vec<usize> = (0..self.feeds.len())
            .map(|f| {
                self.feeds
                    .iter()
                    .filter(|other| **other < self.feeds[f])
                    .count()
            })
            .collect();
        let key = |p: u32| {
            let entry = &self.entries[p as usize];
            let id = text(&self.texts, entry);
            (rank[entry.feed as usize], leading_bytes(id), id)
        };
        let mut positions: Vec<u32> = (0..self.entries.len() as u32).collect();
        // A stable sort takes runs already in order whole (a collector that writes each
        // key-chip's events together sends long ones). The first 16 bytes as one number decide
        // almost every comparison: comparing the texts alone cost as many instructions as ~6 %
        // of an ingest in time order (callgrind, `benches/README.md`, session 24).
        positions.sort_by(|&a, &b| {
            let (a, b) = (key(a), key(b));
            (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| a.2.cmp(b.2))
        });
        // Where each piece ends in `positions`: each feed's ids apart, `at_most` at a time.
        let feed = |p: &u32| self.entries[*p as usize].feed;
        let mut ends = Vec::new();
        let mut end = 0;
        for of_feed in positions.chunk_by(|a, b| feed(a) == feed(b)) {
            for piece in of_feed.chunks(at_most) {
                end += piece.len();
                ends.push(end);
            }
        }
        let starts = std::iter::once(0).chain(ends.clone());
        starts.zip(ends).map(move |(start, end)| {
            positions[start..end]
                .iter()
                .map(|p| self.id(&self.entries[*p as usize]))
                .collect()
        })
    }
}

fn text<'a>(texts: &'a str, entry: &Entry) -> &'a str {
    let start = entry.start as usize;
    &texts[start..start + entry.len as usize]
}

/// A text's first 16 bytes as a number that orders as the bytes do: zeros after a shorter text,
/// which sorts first among those it begins (ids are printable, so none holds a zero byte).
fn leading_bytes(text: &str) -> u128 {
    let bytes = text.as_bytes();
    if let Some(first) = bytes.first_chunk::<16>() {
        return u128::from_be_bytes(*first);
    }
    let mut leading = [0u8; 16];
    leading[..bytes.len()].copy_from_slice(bytes);
    u128::from_be_bytes(leading)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Ids that share their first 16 bytes or fewer, are shorter than 16, or begin one
        // another come out in the order of their whole texts, feed by feed, and each is found
        // under its feed alone.
        #[test]
        fn ids_come_in_the_order_of_their_feed_and_whole_text_and_are_found_by_feed(
            ids in proptest::collection::btree_set(
                (any::<bool>(), "(P20261008-000042-(0000000000000000)?)?[0-9A-Z\\-]{1,24}"),
                0..200,
            ),
        ) {
            let feed = |plays| if plays { "plays" } else { "purchases" };
            let mut accepted = AcceptedIds::with_capacity(4);
            for (n, (plays, id)) in ids.iter().enumerate() {
                accepted.insert(feed(*plays), id, n as i64);
            }
            prop_assert_eq!(accepted.len(), ids.len());
            for (n, (plays, id)) in ids.iter().enumerate() {
                prop_assert_eq!(accepted.get(feed(*plays), id), Some(n as i64));
                let other = ids.contains(&(!plays, id.clone()));
                prop_assert_eq!(accepted.get(feed(!plays), id).is_some(), other);
            }
            let mut expected: Vec<(&str, &str)> =
                ids.iter().map(|(plays, id)| (feed(*plays), id.as_str())).collect();
            expected.sort();
            let pieces: Vec<Vec<AcceptedId>> = accepted.in_key_order(7).collect();
            prop_assert!(pieces.iter().all(|p| !p.is_empty() && p.len() <= 7));
            prop_assert!(pieces.iter().all(|p| p.iter().all(|a| a.feed == p[0].feed)));
            let in_order: Vec<(&str, &str)> =
                pieces.iter().flatten().map(|a| (a.feed, a.event_id)).collect();
            prop_assert_eq!(in_order, expected);
        }
    }

    #[test]
    fn an_id_not_accepted_is_not_found() {
        let mut accepted = AcceptedIds::with_capacity(0);
        assert!(accepted.is_empty());
        assert_eq!(accepted.get("plays", "P1"), None);
        accepted.insert("plays", "P1", 7);
        assert_eq!(accepted.get("plays", "P1"), Some(7));
        assert_eq!(accepted.get("plays", "P10"), None);
        assert_eq!(accepted.get("plays", "P"), None);
        assert_eq!(accepted.get("purchases", "P1"), None);
    }
}
