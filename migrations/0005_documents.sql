-- Every document issued (lake.md, "Documents"): where it lies in the lake and its SHA-256,
-- recorded in the transaction that issues it (a close, a void, a reissue). An issued document
-- is never overwritten; `kakin verify` checks the lake against these rows.
CREATE TABLE documents (
    path          TEXT PRIMARY KEY,
    closing_month TEXT NOT NULL,
    partner_code  TEXT NOT NULL,
    invoice_no    TEXT,
    kind          TEXT NOT NULL
        CHECK (kind IN ('invoice', 'adjustments', 'payment_notice', 'void_notice')),
    sha256        TEXT NOT NULL,
    size          BIGINT NOT NULL
);
CREATE INDEX documents_by_invoice ON documents (invoice_no);
