-- One writer at a time (cli.md): the lease every command that writes the lake or the database
-- holds, naming its holder; it expires unless renewed, so a holder that died frees it.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    host       TEXT NOT NULL,
    pid        BIGINT NOT NULL,
    token      TEXT NOT NULL,
    since      TEXT NOT NULL,
    -- Milliseconds since the Unix epoch, by the holder's clock.
    expires_at BIGINT NOT NULL
);

-- A void or a reissue recorded before it rewrites the lake's tables, and deleted in the
-- transaction that commits it: one left behind is a killed run that the next writer finishes
-- before it takes any number. A reissue's number is taken here, so no close can take it.
CREATE TABLE pending_rewrites (
    invoice_no    TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('void', 'reissue')),
    closing_month TEXT NOT NULL,
    partner_code  TEXT NOT NULL,
    reason        TEXT
);
