-- SQLite only: the ledger's key is (event_id, feed) instead of (feed, event_id). The feed is
-- the same for every id a statement inserts or looks up, so with it first every comparison of
-- two keys found the first columns equal and went on to SQLite's general comparison of the
-- second; with the id first, SQLite's fast path for a text key decides almost every one
-- (README, "Benchmarks", session 17: ~8 % of the ledger's inserts and lookups). Rebuilt once,
-- in key order, as 0011 did.
CREATE TABLE accepted_events_by_id (
    event_id     TEXT NOT NULL,
    feed         TEXT NOT NULL,
    content_hash BIGINT NOT NULL,
    batch_key    BIGINT,
    PRIMARY KEY (event_id, feed)
) WITHOUT ROWID;

INSERT INTO accepted_events_by_id (event_id, feed, content_hash, batch_key)
SELECT event_id, feed, content_hash, batch_key FROM accepted_events ORDER BY event_id, feed;

DROP TABLE accepted_events;

ALTER TABLE accepted_events_by_id RENAME TO accepted_events;
