//! What ingest keeps in the database: the file ledger, the accepted ids, the open quarantine and
//! the batches. A batch records its accepted ids as it goes, tagged with it, once it is pending,
//! and they are forgotten with it if it never commits; its outcome is committed in one
//! transaction: files, quarantine changes and the batch's state together.

use super::accepted::{AcceptedId, AcceptedIds};
use super::{
    optional, text, Cell, Cells, Database, DbError, DbResult, Engine, PARAMETERS_PER_STATEMENT,
};
use crate::domain::parse_date;
use chrono::{NaiveDate, SecondsFormat, Utc};
use std::collections::HashMap;

/// The lake files of a batch, as recorded one per line.
pub(super) fn split_lines(files: String) -> Vec<String> {
    files.lines().map(str::to_owned).collect()
}

/// Ids inserted by one statement: a flush records a day's ids, ~100,000, in a few statements.
const RECORDED_AT_ONCE: usize = 16_384;

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
    ///
    /// The ids are inserted in key order, so that they go through the ledger's index once, in
    /// order: a collector that writes its lines in time order, every key-chip's in turn, would
    /// have each id land on another page (`benches/README.md`, sessions 23 and 27). They are
    /// given a [`RECORDED_AT_ONCE`] at a time, in statements of a few parameters instead of
    /// multi-row statements of thousands bound value by value: PostgreSQL is given the ids'
    /// columns as three texts split by `string_to_array`, SQLite a feed's ids and hashes as one
    /// JSON object read by `json_each` (its keys the ids, its values the hashes: no element
    /// parsed twice), as the lookup is ([`Database::accepted_contents`]). Binding 32,000
    /// values a flush cost more than the inserts themselves (`benches/README.md`).
    pub async fn record_accepted(&self, batch: &str, ids: &AcceptedIds) -> DbResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let key = batch_key(batch)?;
        for piece in ids.in_key_order(RECORDED_AT_ONCE) {
            let mut tx = self.pool().begin().await?;
            self.insert_accepted(&mut tx, key, &piece).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// One statement inserting `ids`, all of one feed.
    async fn insert_accepted(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        key: i64,
        ids: &[AcceptedId<'_>],
    ) -> DbResult<()> {
        let statement = match self.engine {
            Engine::Postgres => sqlx::query(
                "INSERT INTO accepted_events (feed, event_id, content_hash, batch_key) \
                 SELECT $1, a.event_id, CAST(a.content_hash AS BIGINT), $4 \
                 FROM unnest(string_to_array($2, chr(31)), string_to_array($3, chr(31))) \
                 AS a(event_id, content_hash)",
            )
            .bind(ids[0].feed)
            .bind(unit_separated(ids.iter().map(|a| a.event_id)))
            .bind(unit_separated(ids.iter().map(|a| a.content_hash)))
            .bind(key),
            Engine::Sqlite => sqlx::query(
                "INSERT INTO accepted_events (feed, event_id, content_hash, batch_key) \
                 SELECT $1, a.key, a.value, $3 FROM json_each($2) AS a",
            )
            .bind(ids[0].feed)
            .bind(json_object(
                ids.iter().map(|a| (a.event_id, a.content_hash)),
            ))
            .bind(key),
        };
        statement.execute(&mut **tx).await?;
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

    // Ids are any printable ASCII: a quote, a backslash, braces or a comma reach the ledger and
    // come back as they were, each feed's apart, in a flush of both feeds.
    each_engine! {
        async fn ids_of_any_printable_ascii_are_recorded_and_found_by_feed(scratch) {
            let db = Database::connect(&scratch.url).await.unwrap();
            let odd = ["say \"hi\"", "C:\\dir\\", "{\"a\":1}", "a,b", "[1]", " x "];
            let mut ids = AcceptedIds::with_capacity(8);
            for (odd, n) in odd.iter().zip(1..) {
                ids.insert("plays", odd, n);
            }
            ids.insert("purchases", odd[0], -7);
            ids.insert("plays", "big", i64::MIN);
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

    // A flush of more ids than one statement takes records them all, each feed's in its own
    // statements, in key order whatever the order they were accepted in.
    each_engine! {
        async fn a_flush_larger_than_a_statement_records_every_id(scratch) {
            let db = Database::connect(&scratch.url).await.unwrap();
            let mut ids = AcceptedIds::with_capacity(0);
            let count = 2 * RECORDED_AT_ONCE as i64 + 5;
            for n in (0..count).rev() {
                let feed = if n % 7 == 0 { "purchases" } else { "plays" };
                ids.insert(feed, &format!("K{:03}-{:06}", n % 1000, n), n);
            }
            db.record_accepted("00000000000000ac", &ids).await.unwrap();
            for feed in ["plays", "purchases"] {
                let asked: Vec<String> = (0..count)
                    .map(|n| format!("K{:03}-{:06}", n % 1000, n))
                    .collect();
                let asked: Vec<&str> = asked.iter().map(String::as_str).collect();
                let found = db.accepted_contents(feed, &asked).await.unwrap();
                let expected: ContentsById = (0..count)
                    .filter(|n| (n % 7 == 0) == (feed == "purchases"))
                    .map(|n| (format!("K{:03}-{:06}", n % 1000, n), n))
                    .collect();
                assert_eq!(found, expected, "{feed}");
            }
        }
    }

    // The lookup answers for the ids asked and no others, among ids that sort between them.
    each_engine! {
        async fn a_lookup_answers_the_ids_asked_however_far_apart(scratch) {
            let db = Database::connect(&scratch.url).await.unwrap();
            let mut ids = AcceptedIds::with_capacity(102);
            for n in 0..100 {
                ids.insert("plays", &format!("m{n:03}"), n);
            }
            for (edge, hash) in [("a", -1), ("z", -2)] {
                ids.insert("plays", edge, hash);
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
