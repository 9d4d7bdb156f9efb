-- Rows each batch quarantined, by reason (feeds.md), recorded with the batch: what `/metrics`
-- reports as kakin_rows_quarantined{reason}.
CREATE TABLE quarantine_counts (
    batch  TEXT NOT NULL,
    reason TEXT NOT NULL,
    rows   BIGINT NOT NULL,
    PRIMARY KEY (batch, reason)
);
