-- SQLite only: the ledger of accepted ids kept in its primary key's B-tree alone. A rowid
-- table stores every id twice, in the table and in the index of its primary key, and each
-- insert writes both; a WITHOUT ROWID table is that index with the other columns beside the
-- key (README, "Benchmarks"). PostgreSQL has no such table: its ledger stays a heap and its
-- primary key's index.
CREATE TABLE accepted_events_keyed (
    feed         TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    content_hash BIGINT NOT NULL,
    batch_key    BIGINT,
    PRIMARY KEY (feed, event_id)
) WITHOUT ROWID;

INSERT INTO accepted_events_keyed (feed, event_id, content_hash, batch_key)
SELECT feed, event_id, content_hash, batch_key FROM accepted_events ORDER BY feed, event_id;

DROP TABLE accepted_events;

ALTER TABLE accepted_events_keyed RENAME TO accepted_events;
