//! What ingest keeps in the database: the file ledger, the accepted ids, the open quarantine and
//! the batches. A batch records its accepted ids as it goes, tagged with it, once it is pending,
//! and they are forgotten with it if it never commits; its outcome is committed in one
//! transaction: files, quarantine changes and the batch's state together.

use super::{
    optional, text, Cell, Cells, Database, DbError, DbResult, Engine, PARAMETERS_PER_STATEMENT,
};
use crate::domain::parse_date;
use chrono::{NaiveDate, SecondsFormat, Utc};
use compact_str::CompactString;
use std::collections::HashMap;

/// The lake files of a batch, as recorded one per line.
pub(super) fn split_lines(files: String) -> Vec<String> {
    files.lines().map(str::to_owned).collect()
}

/// `ids` in the ledger's key order, feed by feed.
///
/// A stable sort: it takes runs already in order whole (a collector that writes each key-chip's
/// events together sends long ones), where an unstable one sorted every id again. Each feed's
/// ids are compared by their first 32 bytes as two numbers, and by the rest only when those are
/// equal: in time order, comparing the feeds' and the ids' texts cost as many instructions as
/// ~6 % of the ingest (callgrind, `benches/README.md`, session 24).
fn in_key_order(ids: &[AcceptedId]) -> Vec<&AcceptedId> {
    let feeds: std::collections::BTreeSet<&str> = ids.iter().map(|id| id.feed).collect();
    let mut in_order = Vec::with_capacity(ids.len());
    for feed in feeds {
        let mut keyed: Vec<([u128; 2], &AcceptedId)> = ids
            .iter()
            .filter(|id| id.feed == feed)
            .map(|id| (leading_bytes(id.event_id.as_bytes()), id))
            .collect();
        keyed.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1.event_id.as_bytes().cmp(b.1.event_id.as_bytes()))
        });
        in_order.extend(keyed.into_iter().map(|(_, id)| id));
    }
    in_order
}

/// A text's first 32 bytes as numbers that order as the bytes do (zeros after a shorter text,
/// which sorts first among those it begins).
fn leading_bytes(text: &[u8]) -> [u128; 2] {
    let mut leading = [0u8; 32];
    let bytes = &text[..text.len().min(32)];
    leading[..bytes.len()].copy_from_slice(bytes);
    let (first, second) = leading.split_at(16);
    [first, second].map(|half| u128::from_be_bytes(half.try_into().expect("16 bytes")))
}

/// A batch's name (16 hexadecimal digits, `ingest::batch_name`) as the ledger keeps it beside
/// each id: one 64-bit integer, half the bytes of the text.
fn batch_key(batch: &str) -> DbResult<i64> {
    match u64::from_str_radix(batch, 16) {
        Ok(key) if batch.len() == 16 => Ok(key as i64),
        _ => Err(DbError::Corrupt {
            table: "ingest_batches",
            reason: format!("batch {batch:?} is not named by 16 hexadecimal digits"),
        }),
    }
}

/// `values` as one text for PostgreSQL to split with `string_to_array(…, chr(31))`: ids are
/// printable ASCII, so the unit separator is in none of them (nor in a feed or a number).
fn unit_separated<T: std::fmt::Display>(values: impl Iterator<Item = T>) -> String {
    use std::fmt::Write;
    let mut joined = String::new();
    for (i, value) in values.enumerate() {
        let separator = if i == 0 { "" } else { "\u{1f}" };
        write!(joined, "{separator}{value}").expect("writing to a String does not fail");
    }
    joined
}

/// A file that an ingest run has taken in, with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestedFile {
    pub path: String,
    pub sha256: String,
    pub size: i64,
    pub e_tag: Option<String>,
    pub feed: String,
    pub delivery_date: NaiveDate,
    pub rows: i64,
    pub accepted: i64,
    pub duplicates: i64,
    pub quarantined: i64,
    pub batch: String,
}

/// A quarantined row awaiting a master data fix, with its fields in the feed's column order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRow {
    pub file: String,
    pub line: i64,
    pub feed: String,
    pub delivery_date: NaiveDate,
    pub fields: String,
    pub reason: String,
    pub detail: String,
}

/// `text` as a JSON string at the end of `json`. Ids may hold any printable ASCII, a quote or
/// a backslash included, which JSON escapes (serde_json does, for those few); every other id
/// is copied as it is, looked at in one pass that the compiler vectorizes (no early exit).
fn push_json_text(json: &mut String, text: &str) {
    let escaped = text.bytes().fold(false, |any, b| {
        any | (b == b'"') | (b == b'\\') | (b < 0x20)
    });
    if escaped {
        json.push_str(&serde_json::to_string(text).expect("a text serializes as JSON"));
    } else {
        json.push('"');
        json.push_str(text);
        json.push('"');
    }
}

/// `texts` as one JSON array, for SQLite's `json_each`.
fn json_array(texts: &[&str]) -> String {
    let mut json = String::with_capacity(texts.iter().map(|t| t.len() + 3).sum::<usize>() + 2);
    json.push('[');
    for (i, text) in texts.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        push_json_text(&mut json, text);
    }
    json.push(']');
    json
}

/// `entries` as one JSON object in their order, for SQLite's `json_each` (its keys are a
/// feed's ids, which are unique).
fn json_object<'a>(entries: impl ExactSizeIterator<Item = (&'a str, i64)>) -> String {
    // An id of the collectors' ~25 characters and its hash take ~45 bytes.
    let mut json = String::with_capacity(entries.len() * 48 + 2);
    let mut number = itoa::Buffer::new();
    json.push('{');
    for (i, (key, value)) in entries.enumerate() {
        if i > 0 {
            json.push(',');
        }
        push_json_text(&mut json, key);
        json.push(':');
        json.push_str(number.format(value));
    }
    json.push('}');
    json
}

/// The content hashes accepted under ids, by id: the answer of a lookup, in which ingest looks
/// up every line's id (hashed with aHash, not the standard library's SipHash).
pub type ContentsById = ahash::AHashMap<String, i64>;

/// An id accepted into the lake, and the hash of its content as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedId {
    pub feed: &'static str,
    pub event_id: CompactString,
    pub content_hash: i64,
}

/// Everything a batch changes in the database, committed at once (but the ids it recorded as it
/// went, [`Database::record_accepted`], before).
#[derive(Debug, Default)]
pub struct BatchCommit {
    pub batch: String,
    pub files: Vec<IngestedFile>,
    pub opened: Vec<OpenRow>,
    pub still_open: Vec<OpenRow>,
    pub closed: Vec<(String, i64)>,
    /// Rows of the batch's files quarantined, by reason.
    pub reasons: std::collections::BTreeMap<String, i64>,
}

impl Database {
    /// Batches recorded as started and never committed (those of killed runs), with the lake
    /// files each was about to write (none recorded: a batch begun before they were).
    pub async fn pending_batches(&self) -> DbResult<Vec<(String, Option<Vec<String>>)>> {
        let rows = sqlx::query(
            "SELECT batch, lake_files FROM ingest_batches WHERE state = 'pending' ORDER BY batch",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let c = Cells::new(row, "ingest_batches");
                Ok((
                    c.text("batch")?,
                    c.optional_text("lake_files")?.map(split_lines),
                ))
            })
            .collect()
    }

    /// Record that `batch` is about to write `files` to the lake. A committed batch is never
    /// turned back to pending (its files would be removed as a killed run's): that is an error.
    pub async fn begin_batch(&self, batch: &str, files: &[String]) -> DbResult<()> {
        let started = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        let begun = sqlx::query(
            "INSERT INTO ingest_batches (batch, state, started_at, lake_files) \
             VALUES ($1, 'pending', $2, $3) \
             ON CONFLICT (batch) DO UPDATE SET started_at = excluded.started_at, \
             lake_files = excluded.lake_files WHERE ingest_batches.state = 'pending'",
        )
        .bind(batch)
        .bind(started)
        .bind(files.join("\n"))
        .execute(self.pool())
        .await?;
        if begun.rows_affected() == 0 {
            return Err(DbError::Corrupt {
                table: "ingest_batches",
                reason: format!("batch {batch} is committed already and cannot be written again"),
            });
        }
        Ok(())
    }

    /// Forget a pending batch whose files were removed, with the ids it recorded. Its ids are
    /// found by their batch, which no index holds: this reads the whole ledger, once per killed
    /// batch (an index would cost every id of every night).
    pub async fn forget_batch(&self, batch: &str) -> DbResult<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM accepted_events WHERE batch_key = $1")
            .bind(batch_key(batch)?)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM ingest_batches WHERE batch = $1 AND state = 'pending'")
            .bind(batch)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Record `ids` as accepted by `batch`, which is pending, in a transaction of their own: a
    /// batch records its ids as it goes ([`Database::forget_batch`] removes them if it is
    /// killed).
    pub async fn record_accepted(&self, batch: &str, ids: &[AcceptedId]) -> DbResult<()> {
        let mut tx = self.pool().begin().await?;
        self.insert_accepted(&mut tx, batch, ids).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One statement of a few parameters instead of multi-row statements of thousands, each
    /// bound value by value: PostgreSQL is given the ids' columns as three texts split by
    /// `string_to_array`, SQLite a feed's ids and hashes as one JSON object read by `json_each`
    /// (its keys the ids, its values the hashes: no element parsed twice), as the lookup
    /// is ([`Database::accepted_contents`]). Binding 32,000 values a flush cost more than the
    /// inserts themselves (`benches/README.md`).
    ///
    /// The ids are inserted in key order. A collector that writes its lines in time order,
    /// every key-chip's in turn, has each id land on another page of the ledger's index;
    /// sorted, a flush's ids go through the index once, in order (`benches/README.md`,
    /// session 23: a month of such files, the ids' inserts 4.5 → 3.0 s).
    async fn insert_accepted(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        batch: &str,
        ids: &[AcceptedId],
    ) -> DbResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let key = batch_key(batch)?;
        let ids = in_key_order(ids);
        if self.engine == Engine::Postgres {
            sqlx::query(
                "INSERT INTO accepted_events (feed, event_id, content_hash, batch_key) \
                 SELECT a.feed, a.event_id, CAST(a.content_hash AS BIGINT), $4 \
                 FROM unnest(string_to_array($1, chr(31)), string_to_array($2, chr(31)), \
                 string_to_array($3, chr(31))) AS a(feed, event_id, content_hash)",
            )
            .bind(unit_separated(ids.iter().map(|a| a.feed)))
            .bind(unit_separated(ids.iter().map(|a| &a.event_id)))
            .bind(unit_separated(ids.iter().map(|a| a.content_hash)))
            .bind(key)
            .execute(&mut **tx)
            .await?;
            return Ok(());
        }
        for of_feed in ids.chunk_by(|a, b| a.feed == b.feed) {
            sqlx::query(
                "INSERT INTO accepted_events (feed, event_id, content_hash, batch_key) \
                 SELECT $1, a.key, a.value, $3 FROM json_each($2) AS a",
            )
            .bind(of_feed[0].feed)
            .bind(json_object(
                of_feed
                    .iter()
                    .map(|a| (a.event_id.as_str(), a.content_hash)),
            ))
            .bind(key)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// The file ledger, by path.
    pub async fn ingested_files(&self) -> DbResult<HashMap<String, IngestedFile>> {
        let rows = sqlx::query(
            "SELECT path, sha256, size, e_tag, feed, delivery_date, rows_read, accepted, \
             duplicates, quarantined, batch FROM ingested_files",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let c = Cells::new(row, "ingested_files");
                let file = IngestedFile {
                    path: c.text("path")?,
                    sha256: c.text("sha256")?,
                    size: c.int("size")?,
                    e_tag: c.optional_text("e_tag")?,
                    feed: c.text("feed")?,
                    delivery_date: c.parse("delivery_date", parse_date)?,
                    rows: c.int("rows_read")?,
                    accepted: c.int("accepted")?,
                    duplicates: c.int("duplicates")?,
                    quarantined: c.int("quarantined")?,
                    batch: c.text("batch")?,
                };
                Ok((file.path.clone(), file))
            })
            .collect()
    }

    /// The content hash accepted earlier under each of `ids` of `feed`, for those accepted.
    ///
    /// PostgreSQL is given the ids as one text split by `string_to_array` and joined to the
    /// ledger: an `IN` list of thousands of parameters is planned as a scan of the whole
    /// ledger filtered by the list (measured: seconds per chunk at a million ids, growing with
    /// the ledger), the join as one index probe per id. SQLite is given them as one JSON array
    /// (`json_each`), joined the same way: an `IN` list bound a value at a time cost more than
    /// its probes.
    pub async fn accepted_contents(&self, feed: &str, ids: &[&str]) -> DbResult<ContentsById> {
        let mut found = ContentsById::new();
        for chunk in ids.chunks(PARAMETERS_PER_STATEMENT) {
            let rows = match self.engine {
                Engine::Postgres => {
                    sqlx::query(
                        "SELECT a.event_id, a.content_hash \
                         FROM unnest(string_to_array($2, chr(31))) AS asked(event_id) \
                         JOIN accepted_events a ON a.feed = $1 AND a.event_id = asked.event_id",
                    )
                    .bind(feed)
                    .bind(unit_separated(chunk.iter()))
                    .fetch_all(self.pool())
                    .await?
                }
                Engine::Sqlite => {
                    sqlx::query(
                        "SELECT a.event_id, a.content_hash FROM json_each($2) AS asked \
                         CROSS JOIN accepted_events a ON a.feed = $1 AND a.event_id = asked.value",
                    )
                    .bind(feed)
                    .bind(json_array(chunk))
                    .fetch_all(self.pool())
                    .await?
                }
            };
            for row in rows {
                let c = Cells::new(&row, "accepted_events");
                found.insert(c.text("event_id")?, c.int("content_hash")?);
            }
        }
        Ok(found)
    }

    /// The open quarantine, in the order the rows were first read.
    pub async fn open_quarantine(&self) -> DbResult<Vec<OpenRow>> {
        let rows = sqlx::query(
            "SELECT file, line, feed, delivery_date, fields, reason, detail FROM open_quarantine \
             ORDER BY delivery_date, file, line",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let c = Cells::new(row, "open_quarantine");
                Ok(OpenRow {
                    file: c.text("file")?,
                    line: c.int("line")?,
                    feed: c.text("feed")?,
                    delivery_date: c.parse("delivery_date", parse_date)?,
                    fields: c.text("fields")?,
                    reason: c.text("reason")?,
                    detail: c.text("detail")?,
                })
            })
            .collect()
    }

    /// Commit what a batch did, and mark it committed. (Its rows are collected before they are
    /// inserted: a future holding the closures that map them across an await is not known to
    /// be `Send`, and a batch commits on a task of its own.)
    pub async fn commit_batch(&self, commit: &BatchCommit) -> DbResult<()> {
        let mut tx = self.pool().begin().await?;
        self.insert_rows(
            &mut tx,
            "quarantine_counts",
            &["batch", "reason", "rows"],
            commit
                .reasons
                .iter()
                .map(|(reason, rows)| vec![text(&commit.batch), text(reason), Cell::Int(*rows)])
                .collect::<Vec<_>>(),
        )
        .await?;
        self.insert_rows(
            &mut tx,
            "ingested_files",
            &[
                "path",
                "sha256",
                "size",
                "e_tag",
                "feed",
                "delivery_date",
                "rows_read",
                "accepted",
                "duplicates",
                "quarantined",
                "batch",
            ],
            commit
                .files
                .iter()
                .map(|f| {
                    vec![
                        text(&f.path),
                        text(&f.sha256),
                        Cell::Int(f.size),
                        optional(f.e_tag.as_ref()),
                        text(&f.feed),
                        text(f.delivery_date),
                        Cell::Int(f.rows),
                        Cell::Int(f.accepted),
                        Cell::Int(f.duplicates),
                        Cell::Int(f.quarantined),
                        text(&f.batch),
                    ]
                })
                .collect::<Vec<_>>(),
        )
        .await?;
        for (file, line) in &commit.closed {
            sqlx::query("DELETE FROM open_quarantine WHERE file = $1 AND line = $2")
                .bind(file)
                .bind(*line)
                .execute(&mut *tx)
                .await?;
        }
        for row in &commit.still_open {
            sqlx::query(
                "UPDATE open_quarantine SET reason = $1, detail = $2 WHERE file = $3 AND line = $4",
            )
            .bind(&row.reason)
            .bind(&row.detail)
            .bind(&row.file)
            .bind(row.line)
            .execute(&mut *tx)
            .await?;
        }
        self.insert_rows(
            &mut tx,
            "open_quarantine",
            &[
                "file",
                "line",
                "feed",
                "delivery_date",
                "fields",
                "reason",
                "detail",
            ],
            commit
                .opened
                .iter()
                .map(|r| {
                    vec![
                        text(&r.file),
                        Cell::Int(r.line),
                        text(&r.feed),
                        text(r.delivery_date),
                        text(&r.fields),
                        text(&r.reason),
                        text(&r.detail),
                    ]
                })
                .collect::<Vec<_>>(),
        )
        .await?;
        let started = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        sqlx::query(
            "INSERT INTO ingest_batches (batch, state, started_at, lake_files) \
             VALUES ($1, 'committed', $2, '') ON CONFLICT (batch) DO UPDATE SET state = 'committed'",
        )
        .bind(&commit.batch)
        .bind(started)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::each_engine;

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            // Ids that share their first 32 bytes or fewer, are shorter than 16 or 32, or begin
            // one another come out in the order of their whole texts, feed by feed.
            #[test]
            fn ids_come_in_the_order_of_their_feed_and_whole_text(
                ids in proptest::collection::vec(
                    (any::<bool>(), "(P20261008-000042-(0000000000000000)?)?[0-9A-Z\\-]{0,24}"),
                    0..200,
                ),
            ) {
                let ids: Vec<AcceptedId> = ids
                    .into_iter()
                    .filter(|(_, id)| !id.is_empty())
                    .map(|(plays, id)| AcceptedId {
                        feed: if plays { "plays" } else { "purchases" },
                        event_id: id.into(),
                        content_hash: 0,
                    })
                    .collect();
                let mut expected: Vec<&AcceptedId> = ids.iter().collect();
                expected.sort_by(|a, b| (a.feed, &a.event_id).cmp(&(b.feed, &b.event_id)));
                prop_assert_eq!(in_key_order(&ids), expected);
            }
        }
    }

    // Ids are any printable ASCII: a quote, a backslash, braces or a comma reach the ledger and
    // come back as they were, each feed's apart, in a flush of both feeds.
    each_engine! {
        async fn ids_of_any_printable_ascii_are_recorded_and_found_by_feed(scratch) {
            let db = Database::connect(&scratch.url).await.unwrap();
            let odd = ["say \"hi\"", "C:\\dir\\", "{\"a\":1}", "a,b", "[1]", " x "];
            let id = |feed, event_id: &str, content_hash| AcceptedId {
                feed,
                event_id: event_id.into(),
                content_hash,
            };
            let mut ids: Vec<AcceptedId> =
                odd.iter().zip(1..).map(|(odd, n)| id("plays", odd, n)).collect();
            ids.push(id("purchases", odd[0], -7));
            ids.push(id("plays", "big", i64::MIN));
            db.record_accepted("00000000000000ab", &ids).await.unwrap();

            let mut asked: Vec<&str> = odd.to_vec();
            asked.extend(["big", "never"]);
            let plays = db.accepted_contents("plays", &asked).await.unwrap();
            let mut expected: ContentsById =
                odd.iter().zip(1..).map(|(id, n)| ((*id).to_owned(), n)).collect();
            expected.insert("big".into(), i64::MIN);
            assert_eq!(plays, expected);
            let purchases = db.accepted_contents("purchases", &asked).await.unwrap();
            assert_eq!(purchases, ContentsById::from([(odd[0].to_owned(), -7)]));
            db.forget_batch("00000000000000ab").await.unwrap();
            assert!(db.accepted_contents("plays", &asked).await.unwrap().is_empty());
        }
    }

    // The lookup answers for the ids asked and no others, among ids that sort between them.
    each_engine! {
        async fn a_lookup_answers_the_ids_asked_however_far_apart(scratch) {
            let db = Database::connect(&scratch.url).await.unwrap();
            let mut ids: Vec<AcceptedId> = (0..100)
                .map(|n| AcceptedId {
                    feed: "plays",
                    event_id: format!("m{n:03}").into(),
                    content_hash: n,
                })
                .collect();
            for (edge, hash) in [("a", -1), ("z", -2)] {
                ids.push(AcceptedId { feed: "plays", event_id: edge.into(), content_hash: hash });
            }
            db.record_accepted("00000000000000ab", &ids).await.unwrap();
            let expected = |pairs: &[(&str, i64)]| -> ContentsById {
                pairs.iter().map(|(id, n)| ((*id).to_owned(), *n)).collect()
            };
            let far = db.accepted_contents("plays", &["z", "m050", "a", "b"]).await.unwrap();
            assert_eq!(far, expected(&[("a", -1), ("z", -2), ("m050", 50)]));
            let near = db.accepted_contents("plays", &["m011", "m010", "m0105"]).await.unwrap();
            assert_eq!(near, expected(&[("m010", 10), ("m011", 11)]));
            let beside = db.accepted_contents("plays", &["m012", "m010"]).await.unwrap();
            assert_eq!(beside, expected(&[("m010", 10), ("m012", 12)]));
        }
    }
}
