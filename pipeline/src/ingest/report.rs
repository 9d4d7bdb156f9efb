//! What an ingest run reports: per file, the counts of accepted, duplicate and quarantined
//! lines (by reason) or why the file was not ingested; the retries of the open quarantine; the
//! objects that are no delivery.

use crate::domain::QuarantineReason;
use std::collections::BTreeMap;

/// What became of the data lines of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileCounts {
    pub rows: u64,
    /// Blank lines: not rows, but counted so that no line goes unreported.
    pub blank: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    pub reasons: BTreeMap<QuarantineReason, u64>,
}

impl FileCounts {
    fn add(&mut self, other: &FileCounts) {
        self.rows += other.rows;
        self.blank += other.blank;
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        self.quarantined += other.quarantined;
        for (reason, n) in &other.reasons {
            *self.reasons.entry(*reason).or_default() += n;
        }
    }
}

impl std::fmt::Display for FileCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows: {} accepted, {} duplicate, {} quarantined",
            self.rows, self.accepted, self.duplicates, self.quarantined
        )?;
        if self.blank > 0 {
            write!(f, ", {} blank lines", self.blank)?;
        }
        if !self.reasons.is_empty() {
            let reasons: Vec<String> = self
                .reasons
                .iter()
                .map(|(r, n)| format!("{r} {n}"))
                .collect();
            write!(f, " ({})", reasons.join(", "))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    Ingested(FileCounts),
    /// The same path and SHA-256 were ingested before.
    AlreadyIngested,
    /// A known path with new content: not ingested (files are never edited in place).
    Changed,
    /// The file could not be read (permissions, a truncated gzip, an object that vanished):
    /// not ingested, retried by the next run; the run ends with exit status 1.
    Unreadable(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    pub path: String,
    pub outcome: FileOutcome,
}

/// What became of the open quarantine rows retried by a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryCounts {
    pub retried: u64,
    pub accepted: u64,
    pub still_open: u64,
    /// Closed without being accepted: now a duplicate, or quarantined for good.
    pub closed: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub files: Vec<FileReport>,
    /// Objects under the incoming location that do not fit its layout.
    pub strays: Vec<String>,
    /// Objects that could not be listed as they are (a symbolic link, a name that is not UTF-8,
    /// an S3 key object_store refuses, with the keys listed beside it): the run fails.
    pub unlisted: Vec<String>,
    pub retries: RetryCounts,
    /// The batches that wrote to the lake, in order.
    pub batches: Vec<String>,
    /// Batches of killed runs whose files were removed.
    pub removed: Vec<String>,
}

impl IngestReport {
    pub fn changed_files(&self) -> Vec<&str> {
        let changed = self
            .files
            .iter()
            .filter(|f| f.outcome == FileOutcome::Changed);
        changed.map(|f| f.path.as_str()).collect()
    }

    /// The files that could not be read, with why.
    pub fn unreadable_files(&self) -> Vec<(&str, &str)> {
        self.files
            .iter()
            .filter_map(|f| match &f.outcome {
                FileOutcome::Unreadable(why) => Some((f.path.as_str(), why.as_str())),
                _ => None,
            })
            .collect()
    }

    /// The counts of every file ingested by the run.
    pub fn totals(&self) -> FileCounts {
        let mut totals = FileCounts::default();
        for file in &self.files {
            if let FileOutcome::Ingested(counts) = &file.outcome {
                totals.add(counts);
            }
        }
        totals
    }
}

/// Told of each file as the run gets to it (the binary draws a progress bar).
pub trait Progress {
    fn files(&self, _total: usize) {}
    fn file_done(&self, _report: &FileReport) {}
}

impl Progress for () {}
