-- The email outbox (lake.md, "Emails"): each email a close, a reissue or a resend queues, in
-- the transaction that commits it. Rows stay: queued → sending → sent | failed, with the
-- attempts, when the next one is due, and the server's last reply. A sender claims a row for
-- a short while (claimed_until) instead of holding a lock during SMTP; a claim that expired is
-- a sender that died, and the row is sent again with the same Message-ID.
CREATE TABLE outbox (
    id              BIGINT PRIMARY KEY,
    message_id      TEXT NOT NULL UNIQUE,
    closing_month   TEXT NOT NULL,
    partner_code    TEXT NOT NULL,
    invoice_no      TEXT,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    -- The lake paths of the attached documents, one per line.
    attachments     TEXT NOT NULL,
    resend_of       BIGINT,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed')),
    attempts        BIGINT NOT NULL,
    -- Milliseconds since the Unix epoch.
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    last_reply      TEXT,
    queued_at       TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
