-- The close (statements.md, "The close"): which close first saw each ingest batch (an event is
-- billed by the close of max(that close, its play month), so exactly once), and the invoices.
ALTER TABLE ingest_batches ADD COLUMN first_close TEXT;

CREATE TABLE invoices (
    invoice_no    TEXT PRIMARY KEY,
    closing_month TEXT NOT NULL REFERENCES closes (closing_month),
    partner_code  TEXT NOT NULL REFERENCES partners (partner_code),
    issue_date    TEXT NOT NULL,
    subtotal      BIGINT NOT NULL,
    tax           BIGINT NOT NULL,
    total         BIGINT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('ISSUED', 'VOID')),
    replaces      TEXT,
    void_reason   TEXT
);
