-- Ingest (feeds.md, "Daily logs"): the file ledger, the ids accepted so far, the quarantined
-- rows still awaiting a master data fix, and the batches being written.

-- A batch is recorded as pending before its first file is written to the lake and becomes
-- committed in the transaction that records what it ingested; the files of a batch still
-- pending at the start of a run are those of a killed run, and are removed.
CREATE TABLE ingest_batches (
    batch      TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'committed')),
    started_at TEXT NOT NULL
);

CREATE TABLE ingested_files (
    path          TEXT PRIMARY KEY,
    sha256        TEXT NOT NULL,
    size          BIGINT NOT NULL,
    e_tag         TEXT,
    feed          TEXT NOT NULL,
    delivery_date TEXT NOT NULL,
    rows_read     BIGINT NOT NULL,
    accepted      BIGINT NOT NULL,
    duplicates    BIGINT NOT NULL,
    quarantined   BIGINT NOT NULL,
    batch         TEXT NOT NULL
);

-- Every id ever accepted, with a 64-bit hash (xxh3) of its content as parsed (so that the same
-- instant written in another offset is the same content): a later row with the id is a
-- duplicate or a conflict. The lake's row says which batch accepted it.
CREATE TABLE accepted_events (
    feed         TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    content_hash BIGINT NOT NULL,
    PRIMARY KEY (feed, event_id)
);

-- Quarantined rows whose reason may go away with a master data fix (unknown_keychip,
-- unknown_code): retried by every run, deleted when accepted or when their reason becomes final.
CREATE TABLE open_quarantine (
    file          TEXT NOT NULL,
    line          BIGINT NOT NULL,
    feed          TEXT NOT NULL,
    delivery_date TEXT NOT NULL,
    fields        TEXT NOT NULL,
    reason        TEXT NOT NULL,
    detail        TEXT NOT NULL,
    PRIMARY KEY (file, line)
);
