#!/usr/bin/env python3
"""Benchmark: `kakin close` against DuckDB computing the same tables from the same lake.

    python3 benches/close.py [--keychips 1000] [--month 2026-10] [--repeat 3]

It generates a month of logs with `kakin demo --generate-only` (1,000 key-chips give about 3.1
million plays), imports the master data and slips and ingests everything with the release
binary, keeps that state aside, then times, on the same machine with 2 threads each:

- kakin:  `kakin close MONTH` on a fresh copy of that state (SQLite ledger, local lake): reading
          the billed events, attributing them, every statement table with its daily view, the
          payment totals, the invoices, Parquet written and the close committed;
- duckdb: DuckDB reading the same lake (events and master Parquet, the slips' CSV) and writing
          the same tables as zstd Parquet: billing details and their daily view, payment details
          and their daily view (commissions and operator sales with refund prices), reference
          info and its daily view, the payment totals of every partner (all titles and per
          title, A1 to PAY with the same truncations) and the invoices with their per-rate taxes.

kakin's close is timed twice: on the state as ingested (no daily sums yet: the close sums
every file it bills, as when no refresh ever ran) and on that state after a refresh (as after
the nightly refreshes: the close reads each file's daily sums). Prints the times (median of
--repeat) and the ratios kakin / duckdb.
"""
import calendar
import datetime
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile

import duckdb

from measure import KAKIN, generate, machine, measured, options, parsed, timed


# The rules of statements.md as DuckDB SQL. DuckDB's ROUND on decimals rounds half away from
# zero (the spec's half-up); TRUNC truncates toward zero.
CLOSE = r"""
SET threads = 2;
CREATE TEMP TABLE keychips AS SELECT * FROM '{lake}/master/keychips.parquet';
CREATE TEMP TABLE stores AS SELECT * FROM '{lake}/master/stores.parquet';
CREATE TEMP TABLE partners AS SELECT * FROM '{lake}/master/partners.parquet';
CREATE TEMP TABLE titles AS SELECT * FROM '{lake}/master/titles.parquet';
CREATE TEMP TABLE charges AS SELECT * FROM '{lake}/master/charges.parquet';
CREATE TEMP TABLE products AS SELECT * FROM '{lake}/master/products.parquet';
CREATE TEMP TABLE rates AS
  SELECT rate, arg_max(value, valid_from) AS value FROM '{lake}/master/rates.parquet'
  WHERE valid_from <= DATE '{last}' GROUP BY rate;
CREATE TEMP TABLE fee AS SELECT
  (SELECT value FROM rates WHERE rate = 'AIMEPAY_FEE') AS aimepay,
  (SELECT value FROM rates WHERE rate = 'EMONEY_FEE') AS emoney,
  (SELECT value FROM rates WHERE rate = 'CONSUMPTION_TAX') AS tax;
CREATE TEMP TABLE slips AS SELECT * FROM read_csv('{slips}', types = {{'amount': 'BIGINT', 'adjusted_month': 'VARCHAR'}})
  WHERE adjusted_month = '{month}';

CREATE TEMP TABLE daily_plays AS
  SELECT keychip_id, play_date, charge_code, sum("count") AS n
  FROM read_parquet('{lake}/plays/*/*.parquet', hive_partitioning = true)
  WHERE play_date <= DATE '{last}' GROUP BY ALL;
CREATE TEMP TABLE placed_plays AS
  SELECT st.partner_code, st.store_code, st.name AS store_name, strftime(d.play_date, '%Y-%m') AS play_month,
         d.keychip_id, d.play_date, d.charge_code, d.n, c.kind, c.unit_price, c.title_code, c.item_name,
         c.charge_name, c.allnet_class, c.tax_rate
  FROM daily_plays d
  JOIN keychips k ON k.keychip_id = d.keychip_id AND d.play_date BETWEEN k.valid_from AND coalesce(k.valid_to, DATE '9999-12-31')
  JOIN stores st ON st.store_code = k.store_code
  JOIN charges c ON c.charge_code = d.charge_code AND d.play_date BETWEEN c.valid_from AND coalesce(c.valid_to, DATE '9999-12-31');

CREATE TEMP TABLE billing AS
  SELECT partner_code, store_code, any_value(store_name) AS store_name, play_month, keychip_id, charge_code, unit_price,
         any_value(title_code) AS title_code, any_value(allnet_class) AS allnet_class, any_value(item_name) AS item_name,
         any_value(charge_name) AS charge_name, any_value(tax_rate) AS tax_rate, sum(n) AS "count",
         CAST(round(sum(n) * unit_price) AS BIGINT) AS amount
  FROM placed_plays WHERE kind = 'BILLING' GROUP BY partner_code, store_code, play_month, keychip_id, charge_code, unit_price;
COPY (SELECT * FROM billing ORDER BY partner_code, store_code, play_month, keychip_id, charge_code, unit_price)
  TO '{out}/billing_details.parquet' (FORMAT parquet, COMPRESSION zstd);
COPY (SELECT partner_code, store_code, store_name, play_month, keychip_id, title_code, charge_code, allnet_class, item_name,
             charge_name, play_date, n AS "count", unit_price, CAST(round(n * unit_price) AS BIGINT) AS amount
      FROM placed_plays WHERE kind = 'BILLING'
      ORDER BY partner_code, store_code, play_month, keychip_id, charge_code, unit_price, play_date)
  TO '{out}/billing_daily.parquet' (FORMAT parquet, COMPRESSION zstd);

CREATE TEMP TABLE daily_purchases AS
  SELECT keychip_id, purchase_date, product_code, payment_method, sum(quantity) AS n
  FROM read_parquet('{lake}/purchases/*/*.parquet', hive_partitioning = true)
  WHERE purchase_date <= DATE '{last}' GROUP BY ALL;
CREATE TEMP TABLE placed_purchases AS
  SELECT st.partner_code, st.store_code, st.name AS store_name, strftime(d.purchase_date, '%Y-%m') AS play_month,
         d.keychip_id, d.purchase_date AS play_date, d.product_code, p.title_code, p.product_name, p.category,
         p.settlement, CASE WHEN p.settlement = 'OPERATOR' THEN d.payment_method END AS payment_method,
         p.unit_price, d.n,
         round(CAST(p.unit_price AS DECIMAL(18,4)) * (100 - CASE WHEN d.payment_method = 'AIMEPAY' THEN fee.aimepay ELSE fee.emoney END) / 100, 2) AS refund_unit_price
  FROM daily_purchases d, fee
  JOIN keychips k ON k.keychip_id = d.keychip_id AND d.purchase_date BETWEEN k.valid_from AND coalesce(k.valid_to, DATE '9999-12-31')
  JOIN stores st ON st.store_code = k.store_code
  JOIN products p ON p.product_code = d.product_code AND d.purchase_date BETWEEN p.valid_from AND coalesce(p.valid_to, DATE '9999-12-31');

CREATE TEMP TABLE payment_days AS
  SELECT partner_code, store_code, store_name, play_month, keychip_id, title_code, charge_code, NULL AS product_code,
         item_name AS product_name, charge_name AS category, NULL AS payment_method, play_date, n,
         CAST(NULL AS DECIMAL(18,4)) AS unit_price, unit_price AS refund_unit_price
  FROM placed_plays WHERE kind = 'COMMISSION'
  UNION ALL
  SELECT partner_code, store_code, store_name, play_month, keychip_id, title_code, NULL, product_code, product_name,
         category, payment_method, play_date, n, unit_price, refund_unit_price
  FROM placed_purchases WHERE settlement = 'OPERATOR';
CREATE TEMP TABLE payments AS
  SELECT partner_code, store_code, any_value(store_name) AS store_name, play_month, keychip_id, title_code, charge_code,
         product_code, any_value(product_name) AS product_name, any_value(category) AS category, payment_method,
         sum(n) AS "count", unit_price, CAST(sum(n) * unit_price AS BIGINT) AS amount, refund_unit_price,
         CAST(round(sum(n) * refund_unit_price) AS BIGINT) AS refund_amount
  FROM payment_days
  GROUP BY partner_code, store_code, play_month, keychip_id, title_code, charge_code, product_code, payment_method,
           unit_price, refund_unit_price;
COPY (SELECT * FROM payments ORDER BY ALL) TO '{out}/payment_details.parquet' (FORMAT parquet, COMPRESSION zstd);
COPY (SELECT *, n AS "count", CAST(n * unit_price AS BIGINT) AS amount, CAST(round(n * refund_unit_price) AS BIGINT) AS refund_amount
      FROM payment_days ORDER BY ALL)
  TO '{out}/payment_daily.parquet' (FORMAT parquet, COMPRESSION zstd);

COPY (SELECT partner_code, store_code, any_value(store_name), play_month, keychip_id, title_code, product_code,
             any_value(product_name), any_value(category), sum(n) AS "count", unit_price, sum(n) * unit_price AS amount
      FROM placed_purchases WHERE settlement = 'PLATFORM'
      GROUP BY partner_code, store_code, play_month, keychip_id, title_code, product_code, unit_price ORDER BY ALL)
  TO '{out}/reference_info.parquet' (FORMAT parquet, COMPRESSION zstd);
COPY (SELECT partner_code, store_code, play_month, keychip_id, title_code, product_code, unit_price, play_date,
             sum(n) AS "count", sum(n) * unit_price AS amount
      FROM placed_purchases WHERE settlement = 'PLATFORM'
      GROUP BY partner_code, store_code, play_month, keychip_id, title_code, product_code, unit_price, play_date ORDER BY ALL)
  TO '{out}/reference_daily.parquet' (FORMAT parquet, COMPRESSION zstd);

CREATE TEMP TABLE sums AS
  SELECT partner_code, title_code,
         coalesce(sum(amount) FILTER (WHERE payment_method = 'AIMEPAY'), 0) AS a1,
         coalesce(sum(amount) FILTER (WHERE payment_method = 'EMONEY'), 0) AS b1,
         CAST(trunc(coalesce(sum("count" * refund_unit_price) FILTER (WHERE payment_method IS NULL), 0)) AS BIGINT) AS c1
  FROM payments GROUP BY GROUPING SETS ((partner_code), (partner_code, title_code));
CREATE TEMP TABLE slip_sums AS
  SELECT partner_code,
         coalesce(sum(amount) FILTER (WHERE kind = 'PAYMENT'), 0) AS d1,
         coalesce(sum(amount) FILTER (WHERE kind = 'REFUND'), 0) AS e1
  FROM slips GROUP BY partner_code;
CREATE TEMP TABLE items AS
  SELECT s.partner_code, s.title_code, a1, CAST(trunc(a1 * fee.aimepay / 100) AS BIGINT) AS a2, b1,
         CAST(trunc(b1 * fee.emoney / 100) AS BIGINT) AS b2, c1,
         CASE WHEN s.title_code IS NULL THEN coalesce(d1, 0) ELSE 0 END AS d1,
         CASE WHEN s.title_code IS NULL THEN coalesce(e1, 0) ELSE 0 END AS e1, fee.tax
  FROM sums s LEFT JOIN slip_sums USING (partner_code), fee;
COPY (
  WITH t AS (SELECT *, CAST(trunc(b2 * tax / 100) AS BIGINT) AS b3, a2 AS f1, e1 AS f2, a2 - e1 AS f3, c1 + d1 AS g1 FROM items)
  SELECT partner_code, title_code, a1, a2, b1, b2, b3, b2 + b3 AS b4, c1, d1, e1, f1, f2, f3,
         CAST(trunc(f3 * tax / (100 + tax)) AS BIGINT) AS f4, g1, CAST(trunc(g1 * tax / (100 + tax)) AS BIGINT) AS g2,
         a1 + b1 - (b2 + b3) - f3 + g1 AS pay
  FROM t ORDER BY partner_code, title_code NULLS FIRST)
  TO '{out}/payment_totals.parquet' (FORMAT parquet, COMPRESSION zstd);

CREATE TEMP TABLE invoice_lines AS
  SELECT partner_code, tax_rate, sum(amount) AS amount FROM billing GROUP BY partner_code, charge_code, play_month, unit_price, tax_rate
  UNION ALL SELECT partner_code, fee.tax, amount FROM slips, fee WHERE kind = 'BILLING';
CREATE TEMP TABLE invoice_taxes AS
  SELECT partner_code, tax_rate, sum(amount) AS subtotal, CAST(trunc(sum(amount) * tax_rate / 100) AS BIGINT) AS tax
  FROM invoice_lines GROUP BY partner_code, tax_rate;
COPY (SELECT partner_code, tax_rate, subtotal, tax FROM invoice_taxes ORDER BY ALL)
  TO '{out}/invoice_taxes.parquet' (FORMAT parquet, COMPRESSION zstd);
COPY (SELECT lpad(CAST(1700000 + row_number() OVER (ORDER BY partner_code) - 1 AS VARCHAR), 7, '0') AS invoice_no,
             partner_code, sum(subtotal) AS subtotal, sum(tax) AS tax, sum(subtotal) + sum(tax) AS total
      FROM invoice_taxes GROUP BY partner_code ORDER BY partner_code)
  TO '{out}/invoices.parquet' (FORMAT parquet, COMPRESSION zstd);
"""


def env_for(state):
    return dict(os.environ, KAKIN_LOG="warn", KAKIN_DATABASE_URL=f"sqlite://{state}/kakin.db",
                KAKIN_LAKE_URL=f"file://{state}/lake")


def prepare(work, demo, month):
    """Import and ingest once: the state a close starts from when no refresh ran (no daily
    sums: the close sums every file it bills), and that state after a refresh (as after the
    nightly refreshes: the close reads the files' daily sums)."""
    state = os.path.join(work, "ingested")
    env = dict(env_for(state), KAKIN_INCOMING_URL=f"file://{demo}/incoming")
    quiet = dict(env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([KAKIN, "master", "import", f"{demo}/master"], **quiet)
    subprocess.run([KAKIN, "adjustments", "import", f"{demo}/adjustments-{month}.csv"], **quiet)
    seconds, peak, _ = measured([KAKIN, "ingest"], env=env)
    print(f"ingest: {seconds:.1f} s, peak RSS {peak:.0f} MiB")
    refreshed = os.path.join(work, "refreshed")
    shutil.copytree(state, refreshed)
    seconds, peak, _ = measured([KAKIN, "refresh"], env=env_for(refreshed))
    print(f"a refresh summing every file: {seconds:.1f} s, peak RSS {peak:.0f} MiB")
    return state, refreshed


def fresh_copy(state, work):
    copy = os.path.join(work, "closing")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(state, copy)
    os.sync()  # the copy's writeback is not the close's work
    return copy


def kakin_close(state, work, month):
    copy = fresh_copy(state, work)
    seconds, peak, out = measured([KAKIN, "close", month], env=env_for(copy))
    return seconds, peak, out.splitlines()[0]


# The close's steps as kakin's debug log marks their ends: (name, message).
STEPS = [("statements", "statements computed"), ("documents", "documents issued"),
         ("tables", "tables written"), ("commit", "run finished")]


def close_phases(state, work, month):
    """One more close of `state` with kakin's debug log: each step's seconds by name, from the
    log's timestamps, so that the documents' share is seen apart."""
    copy = fresh_copy(state, work)
    done = subprocess.run([KAKIN, "close", month], env=dict(env_for(copy), KAKIN_LOG="debug"),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    ends, start = {}, None
    for line in done.stderr.splitlines():
        event = json.loads(line)
        message = event["fields"].get("message")
        at = datetime.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        start = start or at
        ends.setdefault(message, (at - start).total_seconds())
    marks = [0.0] + [ends[message] for _, message in STEPS]
    return {name: marks[i + 1] - marks[i] for i, (name, _) in enumerate(STEPS)}


def duckdb_close(state, work, demo, month, last):
    out = os.path.join(work, "duckdb-close")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    db = duckdb.connect()
    sql = CLOSE.format(lake=f"{state}/lake", out=out, month=month, last=last,
                       slips=f"{demo}/adjustments-{month}.csv")

    def run():
        db.execute(sql)
        return db.execute(f"SELECT count(*), sum(total) FROM '{out}/invoices.parquet'").fetchone()

    return timed(run)


def main():
    args = parsed(options(repeat=3))
    year, mon = map(int, args.month.split("-"))
    last = f"{args.month}-{calendar.monthrange(year, mon)[1]:02d}"
    work = tempfile.mkdtemp(prefix="kakin-bench-close-")
    demo = os.path.join(work, "demo")
    print(machine())
    print(generate(demo, args.keychips, args.month))
    state, refreshed = prepare(work, demo, args.month)
    plays = duckdb.connect().execute(f"SELECT count(*) FROM '{state}/lake/plays/*/*.parquet'").fetchone()
    runs = {"kakin, no sums yet": [], "kakin, after the refreshes": [], "duckdb": []}
    peaks = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, start in [("kakin, no sums yet", state), ("kakin, after the refreshes", refreshed)]:
            seconds, peak, summary = kakin_close(start, work, args.month)
            runs[name].append(seconds)
            peaks[name].append(peak)
        seconds, invoices = duckdb_close(state, work, demo, args.month, last)
        runs["duckdb"].append(seconds)
    peaks["duckdb"] = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]
    median = {name: statistics.median(times) for name, times in runs.items()}
    print(f"lake: {plays[0]:,} play events")
    print(f"kakin:  {summary}")
    print(f"duckdb: {invoices[0]} invoices, {invoices[1]} yen")
    print(f"| engine | seconds (median of {args.repeat}) | runs | / duckdb | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- |")
    for name, times in runs.items():
        each = ", ".join(f"{t:.2f}" for t in times)
        print(f"| {name} | {median[name]:.2f} | {each} | {median[name] / median['duckdb']:.2f} "
              f"| {max(peaks[name]):.0f} |")
    print("(duckdb's peak is this script's, DuckDB inside it)")
    split = close_phases(refreshed, work, args.month)
    steps = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in split.items())
    rest = median["kakin, after the refreshes"] - split["documents"]
    print(f"one more close after the refreshes, by step (kakin's debug log): {steps}; "
          f"its median less the documents / duckdb = {rest / median['duckdb']:.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
