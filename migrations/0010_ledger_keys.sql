-- The id ledger keyed by a fixed-width key: the 128-bit xxh3 hash of the feed and the id (as
-- two BIGINTs), with the content hash beside it (feeds.md, "Daily logs"). Integer keys compare
-- without string comparisons, make a row a third of the text ledger's, and need no id text
-- (two ids share a key with a probability of about 2^-128 per pair: 10^-19 after 10^10
-- ids). Rows are inserted in key order. The rows of `accepted_events` are moved here, hashed,
-- by the first connection after this migration (SQL cannot compute xxh3): see
-- `Database::connect`.
CREATE TABLE accepted_ids (
    key_hi       BIGINT NOT NULL,
    key_lo       BIGINT NOT NULL,
    content_hash BIGINT NOT NULL,
    PRIMARY KEY (key_hi, key_lo)
);
