-- Master data (feeds.md), adjustment slips, closes and the job ledger.
-- Dates are ISO text (YYYY-MM-DD, they sort as dates), decimals are exact text, yen are BIGINT:
-- the same migrations and statements run on SQLite and PostgreSQL through sqlx's Any driver.

CREATE TABLE partners (
    partner_code        TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    registration_number TEXT,
    email               TEXT,
    notify              BIGINT NOT NULL CHECK (notify IN (0, 1)),
    registered_name     TEXT
);

CREATE TABLE stores (
    store_code   TEXT PRIMARY KEY,
    partner_code TEXT NOT NULL REFERENCES partners (partner_code),
    name         TEXT NOT NULL
);

CREATE TABLE titles (
    title_code TEXT PRIMARY KEY,
    name       TEXT NOT NULL
);

CREATE TABLE keychips (
    keychip_id TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    store_code TEXT NOT NULL REFERENCES stores (store_code),
    title_code TEXT NOT NULL REFERENCES titles (title_code),
    valid_to   TEXT,
    PRIMARY KEY (keychip_id, valid_from)
);

CREATE TABLE charges (
    charge_code  TEXT NOT NULL,
    valid_from   TEXT NOT NULL,
    title_code   TEXT NOT NULL REFERENCES titles (title_code),
    kind         TEXT NOT NULL,
    item_name    TEXT NOT NULL,
    charge_name  TEXT NOT NULL,
    unit_price   TEXT NOT NULL,
    tax_rate     TEXT NOT NULL,
    valid_to     TEXT,
    allnet_class TEXT,
    PRIMARY KEY (charge_code, valid_from)
);

CREATE TABLE products (
    product_code TEXT NOT NULL,
    valid_from   TEXT NOT NULL,
    title_code   TEXT NOT NULL REFERENCES titles (title_code),
    product_name TEXT NOT NULL,
    category     TEXT NOT NULL,
    settlement   TEXT NOT NULL,
    unit_price   BIGINT NOT NULL,
    valid_to     TEXT,
    PRIMARY KEY (product_code, valid_from)
);

CREATE TABLE rates (
    rate       TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (rate, valid_from)
);

CREATE TABLE adjustments (
    slip_no        TEXT PRIMARY KEY,
    partner_code   TEXT NOT NULL REFERENCES partners (partner_code),
    store_code     TEXT NOT NULL REFERENCES stores (store_code),
    keychip_id     TEXT,
    item_no        TEXT NOT NULL,
    item_name      TEXT NOT NULL,
    adjusted_month TEXT NOT NULL,
    transfer_date  TEXT NOT NULL,
    quantity       BIGINT NOT NULL,
    unit_price     BIGINT NOT NULL,
    amount         BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    description    TEXT NOT NULL
);

-- One row per committed close (statements.md, "The close"): its commit point.
CREATE TABLE closes (
    closing_month TEXT PRIMARY KEY,
    issue_date    TEXT NOT NULL,
    committed_at  TEXT NOT NULL
);

-- The job ledger: every command run, with its arguments, times, outcome and counts. run_id is
-- assigned by the insert (the next number), which both engines express alike.
CREATE TABLE runs (
    run_id      BIGINT PRIMARY KEY,
    command     TEXT NOT NULL,
    arguments   TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT,
    counts      TEXT,
    error       TEXT
);
