//! Ingest: the nightly intake of key-chip logs into the lake (`feeds.md`, "Daily logs").
//!
//! A run takes every delivered file not ingested yet, in order of delivery date, then path,
//! each file's lines in order, after first retrying the quarantined rows still open. Every line
//! ends in exactly one of accepted (written to the lake), duplicate, or quarantined with its
//! reason. The run's output is one *batch*: one Parquet file per partition it touches, named
//! by a hash of what the run read, so that a rerun of the same work writes the same names and
//! bytes.
//!
//! Commit protocol: the batch is recorded as pending in the database; its accepted ids are
//! recorded as it goes, each 32,768 in transactions tagged with the batch, so that a run's
//! memory does not grow with the night ([`recent`]), the last ones once every line is decided;
//! its files are put in the lake; then one transaction records the files ingested, the
//! quarantine changes and the batch as committed. A run that finds a pending batch (a killed
//! run) first removes that batch's files and ids, then does the work again. A day's last ids
//! are recorded, and then its files put in place and committed, while the next day is read and
//! decided (its decisions find the ids of the batch before among those not yet recorded), the
//! batches committing in their order ([`Recording`]).

mod deliveries;
mod feed;
mod lines;
mod reader;
mod recent;
mod report;
mod rules;
mod sink;

pub use feed::Feed;
pub use report::{FileCounts, FileOutcome, FileReport, IngestReport, Progress, RetryCounts};

use crate::db::{BatchCommit, ContentsById, Database, DbError, IngestedFile, OpenRow};
use crate::domain::QuarantineReason;
use crate::lake::layout::{quarantine_path, EventTable, QUARANTINE};
use crate::lake::{LakeError, Location};
use ahash::AHashMap;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use compact_str::CompactString;
use deliveries::{Delivery, Fetched};
use feed::{reject, Event, Rejection};
use futures::StreamExt;
use lines::{FieldSplitter, Lines};
use reader::{canonical_fields, Chunk, FileReader};
use recent::Recent;
use rules::MasterIndex;
use sha2::{Digest, Sha256};
use sink::{Partitions, Value};
use std::collections::HashMap;
use std::pin::pin;
use std::sync::{Arc, LazyLock};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("lake: {0}")]
    Lake(#[from] LakeError),
    #[error("reading a delivered file: {0}")]
    Io(#[from] std::io::Error),
}

/// `kakin ingest`: ingest every delivered file under `incoming` up to `until` into `lake`.
pub async fn ingest(
    db: &Database,
    lake: &Location,
    incoming: &Location,
    until: Option<NaiveDate>,
    progress: &dyn Progress,
) -> Result<IngestReport, IngestError> {
    let mut report = IngestReport::default();
    for (batch, files) in db.pending_batches().await? {
        remove_batch(lake, &batch, files).await?;
        db.forget_batch(&batch).await?;
        report.removed.push(batch);
    }

    let deliveries::Listing {
        deliveries,
        strays,
        unlisted,
    } = deliveries::list(incoming, until).await?;
    report.strays = strays;
    report.unlisted = unlisted;
    progress.files(deliveries.len());
    let ledger = db.ingested_files().await?;
    // An object whose size and entity tag are those ingested is not fetched again.
    let unchanged_object = |delivery: &Delivery| {
        ledger.get(&delivery.path).is_some_and(|k| {
            k.size == delivery.size as i64 && k.e_tag.is_some() && k.e_tag == delivery.e_tag
        })
    };
    let mut fetching = pin!(deliveries::fetch_wanted(incoming, deliveries, |d| {
        !unchanged_object(d)
    }));
    let mut new = Vec::new();
    while let Some((delivery, fetched)) = fetching.next().await {
        let outcome = match (fetched, ledger.get(&delivery.path)) {
            (None, _) => FileOutcome::AlreadyIngested,
            (Some(Err(e)), _) => FileOutcome::Unreadable(e.to_string()),
            (Some(Ok(fetched)), Some(k)) if k.sha256 == fetched.sha256 => {
                FileOutcome::AlreadyIngested
            }
            (Some(Ok(_)), Some(_)) => FileOutcome::Changed,
            (Some(Ok(fetched)), None) => {
                new.push((delivery, fetched));
                continue;
            }
        };
        let file = FileReport {
            path: delivery.path,
            outcome,
        };
        progress.file_done(&file);
        report.files.push(file);
    }

    let open = db.open_quarantine().await?;
    if new.is_empty() && open.is_empty() {
        return Ok(report);
    }
    let master = MasterIndex::new(&db.master_data().await?);
    let mut recording = Recording::new(db, lake);
    let batches = batches(
        db,
        open,
        &new,
        &master,
        &mut recording,
        &mut report,
        progress,
    )
    .await;
    // Never left recording or committing in the background, not even when a batch failed.
    let last = recording.finish().await;
    batches?;
    report.batches.extend(last?);
    report
        .files
        .sort_by(|a, b| (delivery_date(&a.path), &a.path).cmp(&(delivery_date(&b.path), &b.path)));
    Ok(report)
}

/// The open quarantine retried as a batch of its own, then each delivery date's files as one,
/// in order.
async fn batches(
    db: &Database,
    open: Vec<OpenRow>,
    new: &[(Delivery, Fetched)],
    master: &MasterIndex,
    recording: &mut Recording,
    report: &mut IngestReport,
    progress: &dyn Progress,
) -> Result<(), IngestError> {
    if !open.is_empty() {
        // Named once its decisions are known (`retry`).
        let mut run = BatchRun::new(String::new(), master);
        report.retries = run.retry(db, open, recording).await?;
        run.finish(db, recording).await?;
    }
    for day in new.chunk_by(|(a, _), (b, _)| a.date == b.date) {
        let mut run = BatchRun::new(batch_name(day, &[], &[]), master);
        let mut reading = DayReading::start(db, day).await;
        for (delivery, fetched) in day {
            let counts = run
                .ingest_file(db, delivery, &mut reading, recording)
                .await?;
            run.record_file(delivery, fetched, &counts);
            let file = FileReport {
                path: delivery.path.clone(),
                outcome: FileOutcome::Ingested(counts),
            };
            progress.file_done(&file);
            report.files.push(file);
        }
        reading.finish(recording.waited()).await?;
        run.finish(db, recording).await?;
    }
    Ok(())
}

/// A run's accepted ids on their way to the ledger and its batches on their way to the lake, in
/// the background while the next batch is read and decided: one flush of ids recording at a
/// time; a batch put in place and committed once its last ids are recorded, one at a time and
/// in their order.
struct Recording {
    db: Database,
    lake: Location,
    /// The ids accepted and not yet seen recorded.
    recent: Recent,
    flushing: Option<Flushing>,
    /// The batches whose last ids the flush in flight records, to commit once it has.
    completed: Vec<Decided>,
    committing: Option<tokio::task::JoinHandle<Result<Option<String>, IngestError>>>,
    /// The batches committed that wrote files.
    committed: Vec<String>,
    /// How long the decisions waited for flushes, for the debug log.
    waited: std::time::Duration,
}

impl Recording {
    fn new(db: &Database, lake: &Location) -> Recording {
        Recording {
            db: db.clone(),
            lake: lake.clone(),
            recent: Recent::new(),
            flushing: None,
            completed: Vec::new(),
            committing: None,
            committed: Vec::new(),
            waited: std::time::Duration::ZERO,
        }
    }

    /// At the end of a chunk: a flush that completes a batch is seen recorded if it is, not
    /// waited for, so that the batch commits while the next is decided. Other flushes are seen
    /// when the next is due: nothing waits on them.
    async fn chunk_ended(&mut self) -> Result<(), IngestError> {
        self.recent.chunk_ended();
        let finished = self.flushing.as_ref().is_some_and(|f| f.is_finished());
        if finished && !self.completed.is_empty() {
            self.flushed().await?;
        }
        Ok(())
    }

    /// Wait for the flush in flight to be recorded, then start committing the batches it
    /// completed.
    async fn flushed(&mut self) -> Result<(), IngestError> {
        self.recorded().await?;
        self.commit_completed().await
    }

    /// Wait for the flush in flight to be recorded.
    async fn recorded(&mut self) -> Result<(), IngestError> {
        if let Some(flushing) = self.flushing.take() {
            let started = std::time::Instant::now();
            flushing.await.expect("recording ids does not panic")?;
            self.waited += started.elapsed();
            crate::failpoint("ingest-ids-recorded");
            self.recent.recorded();
        }
        Ok(())
    }

    /// Start committing the batches whose last ids are recorded.
    async fn commit_completed(&mut self) -> Result<(), IngestError> {
        for decided in std::mem::take(&mut self.completed) {
            self.commit(decided).await?;
        }
        Ok(())
    }

    /// Start recording the ids accepted since the last flush as `batch`'s (which is recorded
    /// as pending), once the flush before is recorded; `completed` the batch, if any, whose
    /// last ids they are.
    async fn flush(&mut self, batch: &str, completed: Option<Decided>) -> Result<(), IngestError> {
        self.flushed().await?;
        let ids = self.recent.flush();
        let (db, batch) = (self.db.clone(), batch.to_owned());
        self.flushing = Some(tokio::spawn(async move {
            db.record_accepted(&batch, &ids).await
        }));
        self.completed.extend(completed);
        Ok(())
    }

    /// Commit `decided`, every id of which is recorded or recording, once they are.
    async fn commit_when_recorded(&mut self, decided: Decided) -> Result<(), IngestError> {
        if self.flushing.is_some() {
            self.completed.push(decided);
            return Ok(());
        }
        self.commit(decided).await
    }

    /// Start committing `decided` once the batch before it is committed.
    async fn commit(&mut self, decided: Decided) -> Result<(), IngestError> {
        self.committed().await?;
        let (db, lake) = (self.db.clone(), self.lake.clone());
        self.committing = Some(tokio::spawn(decided.commit(db, lake)));
        Ok(())
    }

    /// Wait for the batch being committed.
    async fn committed(&mut self) -> Result<(), IngestError> {
        if let Some(committing) = self.committing.take() {
            let batch = committing
                .await
                .expect("committing a batch does not panic")?;
            self.committed.extend(batch);
        }
        Ok(())
    }

    /// How long the decisions waited for flushes since last asked.
    fn waited(&mut self) -> std::time::Duration {
        std::mem::take(&mut self.waited)
    }

    /// Wait for every flush and commit; the batches committed that wrote files. The ids held
    /// for the decisions are let go before the last batches commit, which writes their files'
    /// last row groups: a night's peak.
    async fn finish(mut self) -> Result<Vec<String>, IngestError> {
        let recorded = self.recorded().await;
        self.recent.release();
        let completed = match recorded {
            Ok(()) => self.commit_completed().await,
            Err(e) => Err(e),
        };
        let committed = self.committed().await;
        completed?;
        committed?;
        Ok(self.committed)
    }
}

/// The delivery-date folder of a delivered file's path.
fn delivery_date(path: &str) -> &str {
    path.split('/').nth(1).unwrap_or("")
}

/// A batch is named by what it read: its files (path and SHA-256), or the open rows it
/// retried and those of them it accepted. The retries and each delivery date are batches of
/// their own, committed one after the other, so that a run's memory is that of one day's
/// deliveries.
///
/// A retry that accepts nothing writes nothing and is named like every other such retry of the
/// same rows; one that accepts rows is named by them too, so it is a batch no close has seen
/// (rows are accepted once): an event's billing never depends on a batch that accepted
/// nothing (`statements.md`, "The close").
fn batch_name(files: &[(Delivery, Fetched)], open: &[OpenRow], accepted: &[&OpenRow]) -> String {
    let mut hasher = Sha256::new();
    for (delivery, fetched) in files {
        hasher.update(format!("file\t{}\t{}\n", delivery.path, fetched.sha256));
    }
    for row in open {
        hasher.update(format!("open\t{}\t{}\n", row.file, row.line));
    }
    for row in accepted {
        hasher.update(format!("accepted\t{}\t{}\n", row.file, row.line));
    }
    hex::encode(hasher.finalize())[..16].to_owned()
}

/// Remove every lake file of `batch`: the `files` it recorded, or when it recorded none (a batch
/// begun before batches did), every file of its name found by listing the tables.
async fn remove_batch(
    lake: &Location,
    batch: &str,
    files: Option<Vec<String>>,
) -> Result<(), LakeError> {
    if let Some(files) = files {
        for path in files {
            lake.delete(&path).await?;
        }
        return Ok(());
    }
    let name = format!("{batch}.parquet");
    let tables = EventTable::ALL.map(EventTable::name);
    for table in tables.iter().chain(&[QUARANTINE]) {
        for entry in lake.list(&format!("{table}/")).await? {
            if entry.path.rsplit('/').next() == Some(name.as_str()) {
                lake.delete(&entry.path).await?;
            }
        }
    }
    Ok(())
}

static QUARANTINE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("raw", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, false),
        Field::new("batch", DataType::Utf8, false),
    ]))
});

/// The database's answer about a chunk's ids, on its way.
type Asking = tokio::task::JoinHandle<Result<ContentsById, DbError>>;

/// A batch's accepted ids being recorded.
type Flushing = tokio::task::JoinHandle<Result<(), DbError>>;

/// A day's files read (decompressed, split, parsed) on a thread of their own, one after the
/// other, a few chunks ahead of the decisions and the Parquet writers; the database asked about
/// a chunk's ids while the chunk before it is decided ([`Recent`]). A file's last chunk is
/// followed by the next file's first at once, so that neither the reading nor the database
/// waits at the files' boundaries.
struct DayReading {
    received: tokio::sync::mpsc::Receiver<Chunk>,
    reading: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The next chunk, and the database's answer about its ids on its way.
    next: Option<(Chunk, Asking)>,
    /// How long the decisions waited, for the debug log.
    waited: Waited,
}

/// Where a day's decisions waited: for the reading thread, the database's answers.
#[derive(Debug, Default)]
struct Waited {
    reading: std::time::Duration,
    answers: std::time::Duration,
}

impl DayReading {
    async fn start(db: &Database, day: &[(Delivery, Fetched)]) -> DayReading {
        let (chunks, mut received) = tokio::sync::mpsc::channel::<Chunk>(2);
        let files: Vec<_> = day
            .iter()
            .map(|(delivery, fetched)| {
                let path = fetched.local.path().to_owned();
                (path, delivery.gzip, delivery.feed)
            })
            .collect();
        let reading = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            for (path, gzip, feed) in files {
                let mut lines = Lines::open(&path, gzip)?;
                let mut reader = FileReader::new(feed);
                loop {
                    let chunk = reader.read_chunk(&mut lines);
                    let last = chunk.last;
                    if chunks.blocking_send(chunk).is_err() {
                        return Ok(());
                    }
                    if last {
                        break;
                    }
                }
            }
            Ok(())
        });
        let next = received.recv().await.map(|chunk| ask(db, chunk));
        DayReading {
            received,
            reading,
            next,
            waited: Waited::default(),
        }
    }

    /// The next chunk with the database's answer about its ids, the one after it asked.
    async fn next_chunk(&mut self, db: &Database) -> Result<(Chunk, ContentsById), IngestError> {
        let Some((chunk, asking)) = self.next.take() else {
            // The reading thread stopped before the day's last chunk: its error says why.
            self.finish(std::time::Duration::ZERO).await?;
            unreachable!("the reading thread sends every file's last chunk or fails");
        };
        let started = std::time::Instant::now();
        let found = asking.await.expect("the lookup does not panic")?;
        let answered = std::time::Instant::now();
        self.next = self.received.recv().await.map(|chunk| ask(db, chunk));
        self.waited.answers += answered - started;
        self.waited.reading += answered.elapsed();
        Ok((chunk, found))
    }

    /// Wait for the reading thread; `flushes` how long the day's decisions waited for them.
    async fn finish(&mut self, flushes: std::time::Duration) -> Result<(), IngestError> {
        (&mut self.reading)
            .await
            .expect("the reading thread does not panic")?;
        tracing::debug!(waited = ?self.waited, ?flushes, "day read");
        Ok(())
    }
}

/// Start asking the database for the content hashes accepted earlier under the ids of
/// `chunk`. Every id is asked, those this batch accepted recently too: a decision looks at the
/// batch's recent acceptances first.
fn ask(db: &Database, chunk: Chunk) -> (Chunk, Asking) {
    let ids: Vec<CompactString> = chunk
        .lines
        .iter()
        .filter_map(|l| l.parsed.as_ref().ok())
        .map(|(e, _)| e.id.clone())
        .collect();
    let (db, feed) = (db.clone(), chunk.feed);
    let asking = tokio::spawn(async move {
        let ids: Vec<&str> = ids.iter().map(CompactString::as_str).collect();
        db.accepted_contents(feed.name(), &ids).await
    });
    (chunk, asking)
}

enum Decision {
    Accept,
    Duplicate,
    Quarantine(Rejection),
}

/// The state of one batch.
struct BatchRun<'m> {
    master: &'m MasterIndex,
    partitions: Partitions,
    /// The lake path of each feed's and date's events, formatted once (not for every row).
    paths: AHashMap<(Feed, NaiveDate), String>,
    /// Whether the batch is recorded as pending (before its first ids are).
    begun: bool,
    commit: BatchCommit,
}

impl<'m> BatchRun<'m> {
    fn new(batch: String, master: &'m MasterIndex) -> Self {
        BatchRun {
            master,
            partitions: Partitions::default(),
            paths: AHashMap::new(),
            begun: false,
            commit: BatchCommit {
                batch,
                ..Default::default()
            },
        }
    }

    /// What becomes of a line (`feeds.md`, "What bad input gets"), in the order of its reasons:
    /// parsed or quarantined as malformed or invalid; a duplicate of the content accepted
    /// earlier under its id (`earlier`); quarantined by the master data rules; a conflicting
    /// duplicate; accepted.
    fn decide(
        &self,
        parsed: &Result<(Event, i64), Rejection>,
        delivery: NaiveDate,
        earlier: impl FnOnce(&Event) -> Option<i64>,
    ) -> Decision {
        let (event, content) = match parsed {
            Ok((event, content)) => (event, *content),
            Err(rejection) => return Decision::Quarantine(rejection.clone()),
        };
        let earlier = earlier(event);
        if earlier == Some(content) {
            return Decision::Duplicate;
        }
        if let Err(rejection) = self.master.check(event, delivery) {
            return Decision::Quarantine(rejection);
        }
        match earlier {
            Some(_) => Decision::Quarantine(reject(
                QuarantineReason::ConflictingDuplicate,
                format!("{} was accepted earlier with other content", event.id),
            )),
            None => Decision::Accept,
        }
    }

    fn accept(
        &mut self,
        event: &Event,
        content_hash: i64,
        recent: &mut Recent,
    ) -> Result<(), LakeError> {
        let batch = &self.commit.batch;
        let path = self
            .paths
            .entry((event.feed, event.date))
            .or_insert_with(|| event.feed.partition(event.date, batch));
        self.partitions
            .push(path, event.feed.schema(), &event.values(batch))?;
        recent.accept(event.feed, &event.id, content_hash);
        Ok(())
    }

    /// Retry the open quarantine, oldest first: decide every row, name the batch by what it
    /// accepts ([`batch_name`]), then apply the decisions.
    async fn retry(
        &mut self,
        db: &Database,
        open: Vec<OpenRow>,
        recording: &mut Recording,
    ) -> Result<RetryCounts, IngestError> {
        let mut counts = RetryCounts {
            retried: open.len() as u64,
            ..Default::default()
        };
        let mut splitter = FieldSplitter::new();
        let mut parsed = Vec::new();
        for row in &open {
            let feed = Feed::from_name(&row.feed).ok_or_else(|| DbError::Corrupt {
                table: "open_quarantine",
                reason: format!("unknown feed {}", row.feed),
            })?;
            let fields = splitter.split(&row.fields);
            let event = feed.parse(&fields).map(|e| {
                let content = e.content_hash();
                (e, content)
            });
            parsed.push((row, feed, event));
        }
        let mut decided = Vec::new();
        for feed in Feed::ALL {
            let ids: Vec<&str> = parsed
                .iter()
                .filter(|(_, f, _)| *f == feed)
                .filter_map(|(_, _, e)| e.as_ref().ok().map(|(e, _)| e.id.as_str()))
                .collect();
            let found = db.accepted_contents(feed.name(), &ids).await?;
            // Ids accepted by this retry so far (an open row may repeat another's id).
            let mut taken: HashMap<&str, i64> = HashMap::new();
            for (row, _, event) in parsed.iter().filter(|(_, f, _)| *f == feed) {
                let decision = self.decide(event, row.delivery_date, |e| {
                    let taken_here = taken.get(e.id.as_str()).copied();
                    taken_here.or_else(|| found.get(e.id.as_str()).copied())
                });
                if let (Decision::Accept, Ok((event, content))) = (&decision, event) {
                    taken.insert(event.id.as_str(), *content);
                }
                decided.push((*row, event, decision));
            }
        }
        let accepted: Vec<&OpenRow> = decided
            .iter()
            .filter(|(_, _, d)| matches!(d, Decision::Accept))
            .map(|(row, _, _)| *row)
            .collect();
        self.commit.batch = batch_name(&[], &open, &accepted);
        for (row, event, decision) in decided {
            let key = (row.file.clone(), row.line);
            match decision {
                Decision::Accept => {
                    let Ok((event, content)) = event.as_ref() else {
                        unreachable!("accepted rows parsed")
                    };
                    self.accept(event, *content, &mut recording.recent)?;
                    counts.accepted += 1;
                    self.commit.closed.push(key);
                }
                Decision::Quarantine(r) if r.reason.is_retried() => {
                    counts.still_open += 1;
                    let reason = r.reason.as_str().to_owned();
                    self.commit.still_open.push(OpenRow {
                        reason,
                        detail: r.detail,
                        ..row.clone()
                    });
                }
                Decision::Duplicate | Decision::Quarantine(_) => {
                    counts.closed += 1;
                    self.commit.closed.push(key);
                }
            }
        }
        Ok(counts)
    }

    async fn ingest_file(
        &mut self,
        db: &Database,
        delivery: &Delivery,
        reading: &mut DayReading,
        recording: &mut Recording,
    ) -> Result<FileCounts, IngestError> {
        let mut counts = FileCounts::default();
        loop {
            let (chunk, found) = reading.next_chunk(db).await?;
            counts.blank += chunk.blank;
            // By reference: a line is a few hundred bytes, not worth moving out of its chunk.
            for line in &chunk.lines {
                counts.rows += 1;
                // The content hash accepted earlier under the id, by this run or an earlier one.
                let earlier = |e: &Event| {
                    let recent = recording.recent.get(e.feed, &e.id);
                    recent.or_else(|| found.get(e.id.as_str()).copied())
                };
                match self.decide(&line.parsed, delivery.date, earlier) {
                    Decision::Accept => {
                        let (event, content) = line.parsed.as_ref().expect("accepted lines parsed");
                        self.accept(event, *content, &mut recording.recent)?;
                        counts.accepted += 1;
                    }
                    Decision::Duplicate => counts.duplicates += 1,
                    Decision::Quarantine(rejection) => {
                        counts.quarantined += 1;
                        *counts.reasons.entry(rejection.reason).or_default() += 1;
                        let raw = &chunk.text[line.raw.clone()];
                        // Kept for retries; those lines parsed, so they have every field.
                        let fields = rejection
                            .reason
                            .is_retried()
                            .then(|| chunk.positions.as_deref().map(|p| canonical_fields(p, raw)))
                            .flatten();
                        self.quarantine(delivery, line.number, raw, rejection, fields)?;
                    }
                }
            }
            recording.chunk_ended().await?;
            if recording.recent.flush_due() {
                self.record_pending(db).await?;
                recording.flush(&self.commit.batch, None).await?;
            }
            if chunk.last {
                return Ok(counts);
            }
        }
    }

    fn quarantine(
        &mut self,
        delivery: &Delivery,
        line: u64,
        raw: &str,
        rejection: Rejection,
        fields: Option<String>,
    ) -> Result<(), LakeError> {
        let batch = &self.commit.batch;
        let path = quarantine_path(delivery.feed.table(), delivery.date, batch);
        let row = [
            Value::Str(&delivery.path),
            Value::Int(line as i64),
            Value::Str(raw),
            Value::Str(rejection.reason.as_str()),
            Value::Str(&rejection.detail),
            Value::Str(batch),
        ];
        self.partitions.push(&path, &QUARANTINE_SCHEMA, &row)?;
        if rejection.reason.is_retried() {
            let fields = fields.expect("a retried row has its fields");
            self.commit.opened.push(OpenRow {
                file: delivery.path.clone(),
                line: line as i64,
                feed: delivery.feed.name().to_owned(),
                delivery_date: delivery.date,
                fields,
                reason: rejection.reason.as_str().to_owned(),
                detail: rejection.detail,
            });
        }
        Ok(())
    }

    /// Record a file ingested by this batch in the file ledger.
    fn record_file(&mut self, delivery: &Delivery, fetched: &Fetched, counts: &FileCounts) {
        self.commit.files.push(IngestedFile {
            path: delivery.path.clone(),
            sha256: fetched.sha256.clone(),
            size: delivery.size as i64,
            e_tag: delivery.e_tag.clone(),
            feed: delivery.feed.name().to_owned(),
            delivery_date: delivery.date,
            rows: counts.rows as i64,
            accepted: counts.accepted as i64,
            duplicates: counts.duplicates as i64,
            quarantined: counts.quarantined as i64,
            batch: self.commit.batch.clone(),
        });
        for (reason, rows) in &counts.reasons {
            *self
                .commit
                .reasons
                .entry(reason.as_str().to_owned())
                .or_default() += *rows as i64;
        }
    }

    /// Record the batch as pending, once, before its first ids are.
    async fn record_pending(&mut self, db: &Database) -> Result<(), DbError> {
        if !self.begun {
            db.begin_batch(&self.commit.batch, &[]).await?;
            self.begun = true;
        }
        Ok(())
    }

    /// Once every line is decided: start recording the batch's last ids (the batch recorded as
    /// pending first), to be committed once they are, while the next batch is read.
    async fn finish(mut self, db: &Database, recording: &mut Recording) -> Result<(), IngestError> {
        let unflushed = recording.recent.unflushed();
        if unflushed {
            self.record_pending(db).await?;
        }
        let batch = self.commit.batch.clone();
        let decided = Decided {
            partitions: self.partitions,
            commit: self.commit,
        };
        if unflushed {
            return recording.flush(&batch, Some(decided)).await;
        }
        recording.commit_when_recorded(decided).await
    }
}

/// A batch whose every line is decided, its files still aside (its ids recorded before it
/// commits).
struct Decided {
    partitions: Partitions,
    commit: BatchCommit,
}

impl Decided {
    /// Put the batch's files in place and commit it; the batch's name when it wrote files. The
    /// batches of a run commit in their order: the next is committed only after this one.
    async fn commit(self, db: Database, lake: Location) -> Result<Option<String>, IngestError> {
        let batch = self.commit.batch.clone();
        let wrote = !self.partitions.is_empty();
        let started = std::time::Instant::now();
        if wrote {
            db.begin_batch(&batch, &self.partitions.paths()).await?;
            self.partitions.publish(&lake).await?;
            crate::failpoint("ingest-before-commit");
        }
        let published = started.elapsed();
        db.commit_batch(&self.commit).await?;
        tracing::debug!(
            batch,
            files = self.commit.files.len(),
            ?published,
            committed = ?started.elapsed() - published,
            "batch done"
        );
        Ok(wrote.then_some(batch))
    }
}
