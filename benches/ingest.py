#!/usr/bin/env python3
"""Benchmark: `kakin ingest` against DuckDB doing the same work on the same files.

    python3 benches/ingest.py [--keychips 1000] [--month 2026-10] [--repeat 1]

It generates a month of logs with `kakin demo --generate-only` (1,000 key-chips give about 3.2
million plays), then times, on the same machine with 2 threads each:

- floor:  reading and decompressing every delivered file (cat and zcat to /dev/null);
- kakin:  `kakin ingest` (release build) into a fresh SQLite ledger and a local lake;
- duckdb: DuckDB reading the same CSV and gzip files, checking every row against the same
          master data (syntax, future events, key-chips, codes, prices), deduplicating by id
          in delivery order, and writing the accepted rows and the quarantine as partitioned
          zstd Parquet;
- convert: DuckDB only reading the same files and writing every row as partitioned zstd
          Parquet, nothing checked and nothing deduplicated: the least an ingest does beyond
          the floor, done by the peer.

With `--time-ordered`, each file's lines are first put in the order of their timestamps, as a
collector that writes events as they happen would deliver them, every key-chip's in turn (the
generator writes a key-chip's day of events together). Both sides then read those files.

Prints the times and the ratios kakin/duckdb, kakin/floor and convert/floor.
"""
import glob
import gzip
import os
import shutil
import statistics
import subprocess
import tempfile

import duckdb

from measure import KAKIN, generate, machine, measured, options, parsed, timed


# The rules of feeds.md, as DuckDB SQL over all-text columns. `src` is the raw rows with their
# file, delivery date and line; the result classifies every row.
PLAYS = r"""
CREATE TEMP TABLE plays_rows AS
SELECT *, CAST(regexp_extract(filename, '/(\d{{4}}-\d{{2}}-\d{{2}})/', 1) AS DATE) AS delivery,
       row_number() OVER () AS ord
FROM read_csv('{incoming}/plays/*/*.csv*', all_varchar = true, filename = true,
              union_by_name = true, null_padding = true, ignore_errors = true);

CREATE TEMP TABLE plays_checked AS
WITH parsed AS (
  SELECT *, TRY_CAST(played_at AS TIMESTAMPTZ) AS ts, TRY_CAST("count" AS BIGINT) AS n
  FROM plays_rows
), dated AS (
  SELECT *, CAST(make_timestamp(epoch_us(ts) + 32400000000) AS DATE) AS play_date FROM parsed
), matched AS (
  SELECT d.*, k.title_code AS chip_title, c.title_code AS charge_title
  FROM dated d
  LEFT JOIN keychips k ON k.keychip_id = d.keychip_id
       AND d.play_date BETWEEN k.valid_from AND coalesce(k.valid_to, DATE '9999-12-31')
  LEFT JOIN charges c ON c.charge_code = d.charge_code
       AND d.play_date BETWEEN c.valid_from AND coalesce(c.valid_to, DATE '9999-12-31')
)
SELECT *, CASE
  WHEN event_id IS NULL OR ts IS NULL OR n IS NULL THEN 'malformed'
  WHEN NOT regexp_full_match(event_id, '[ -~]{{1,64}}') OR NOT regexp_full_match(keychip_id, '[0-9A-Z]{{1,11}}')
       OR NOT regexp_full_match(title_code, '[0-9A-Z_]{{1,16}}') OR NOT regexp_full_match(charge_code, '[0-9A-Z_-]{{1,32}}')
       OR n < 1 THEN 'invalid_value'
  WHEN play_date > delivery + 1 THEN 'future_event'
  WHEN chip_title IS NULL THEN 'unknown_keychip'
  WHEN chip_title <> title_code OR charge_title IS NULL OR charge_title <> title_code THEN 'unknown_code'
  END AS reason,
  concat_ws('|', keychip_id, epoch_us(ts), title_code, charge_code, n) AS content
FROM matched;

CREATE TEMP TABLE plays_final AS
WITH ranked AS (
  SELECT *, first_value(content) OVER (PARTITION BY event_id ORDER BY delivery, filename, ord) AS first_content,
         row_number() OVER (PARTITION BY event_id ORDER BY delivery, filename, ord) AS nth
  FROM plays_checked WHERE reason IS NULL
)
SELECT *, CASE WHEN nth = 1 THEN 'accepted' WHEN content = first_content THEN 'duplicate'
               ELSE 'conflicting_duplicate' END AS outcome
FROM ranked;

COPY (SELECT event_id, keychip_id, ts AS played_at, title_code, charge_code, n AS "count", 'duckdb' AS batch, play_date
      FROM plays_final WHERE outcome = 'accepted' ORDER BY delivery, filename, ord)
TO '{out}/plays' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (play_date));

COPY (SELECT filename AS file, ord AS line, event_id AS raw, reason, '' AS detail, 'duckdb' AS batch, delivery AS delivery_date
      FROM plays_checked WHERE reason IS NOT NULL
      UNION ALL SELECT filename, ord, event_id, outcome, '', 'duckdb', delivery FROM plays_final WHERE outcome = 'conflicting_duplicate')
TO '{out}/quarantine_plays' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (delivery_date));
"""

PURCHASES = r"""
CREATE TEMP TABLE purchases_rows AS
SELECT *, CAST(regexp_extract(filename, '/(\d{{4}}-\d{{2}}-\d{{2}})/', 1) AS DATE) AS delivery,
       row_number() OVER () AS ord
FROM read_csv('{incoming}/purchases/*/*.csv*', all_varchar = true, filename = true,
              union_by_name = true, null_padding = true, ignore_errors = true);

CREATE TEMP TABLE purchases_checked AS
WITH parsed AS (
  SELECT *, TRY_CAST(purchased_at AS TIMESTAMPTZ) AS ts, TRY_CAST(quantity AS BIGINT) AS q,
         TRY_CAST(unit_price AS BIGINT) AS price
  FROM purchases_rows
), dated AS (
  SELECT *, CAST(make_timestamp(epoch_us(ts) + 32400000000) AS DATE) AS purchase_date FROM parsed
), matched AS (
  SELECT d.*, k.title_code AS chip_title, p.title_code AS product_title, p.unit_price AS product_price
  FROM dated d
  LEFT JOIN keychips k ON k.keychip_id = d.keychip_id
       AND d.purchase_date BETWEEN k.valid_from AND coalesce(k.valid_to, DATE '9999-12-31')
  LEFT JOIN products p ON p.product_code = d.product_code
       AND d.purchase_date BETWEEN p.valid_from AND coalesce(p.valid_to, DATE '9999-12-31')
)
SELECT *, CASE
  WHEN transaction_id IS NULL OR ts IS NULL OR q IS NULL OR price IS NULL THEN 'malformed'
  WHEN NOT regexp_full_match(transaction_id, '[ -~]{{1,64}}') OR NOT regexp_full_match(keychip_id, '[0-9A-Z]{{1,11}}')
       OR payment_method NOT IN ('EMONEY', 'AIMEPAY') OR q < 1 OR price < 0 THEN 'invalid_value'
  WHEN purchase_date > delivery + 1 THEN 'future_event'
  WHEN chip_title IS NULL THEN 'unknown_keychip'
  WHEN chip_title <> title_code OR product_title IS NULL OR product_title <> title_code THEN 'unknown_code'
  WHEN product_price <> price THEN 'price_mismatch'
  END AS reason,
  concat_ws('|', keychip_id, epoch_us(ts), title_code, product_code, payment_method, q, price) AS content
FROM matched;

CREATE TEMP TABLE purchases_final AS
WITH ranked AS (
  SELECT *, first_value(content) OVER (PARTITION BY transaction_id ORDER BY delivery, filename, ord) AS first_content,
         row_number() OVER (PARTITION BY transaction_id ORDER BY delivery, filename, ord) AS nth
  FROM purchases_checked WHERE reason IS NULL
)
SELECT *, CASE WHEN nth = 1 THEN 'accepted' WHEN content = first_content THEN 'duplicate'
               ELSE 'conflicting_duplicate' END AS outcome
FROM ranked;

COPY (SELECT transaction_id, keychip_id, ts AS purchased_at, title_code, product_code, payment_method, q AS quantity,
             price AS unit_price, 'duckdb' AS batch, purchase_date
      FROM purchases_final WHERE outcome = 'accepted' ORDER BY delivery, filename, ord)
TO '{out}/purchases' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (purchase_date));
"""

MASTER = """
CREATE TEMP TABLE keychips AS SELECT * FROM read_csv('{master}/keychips.csv', types = {{'valid_from': 'DATE', 'valid_to': 'DATE'}});
CREATE TEMP TABLE charges AS SELECT * FROM read_csv('{master}/charges.csv', types = {{'valid_from': 'DATE', 'valid_to': 'DATE'}});
CREATE TEMP TABLE products AS SELECT * FROM read_csv('{master}/products.csv', types = {{'valid_from': 'DATE', 'valid_to': 'DATE', 'unit_price': 'BIGINT'}});
"""


def floor(incoming):
    plain = glob.glob(f"{incoming}/*/*/*.csv")
    gzipped = glob.glob(f"{incoming}/*/*/*.csv.gz")
    subprocess.run(["sh", "-c", 'cat "$@" > /dev/null', "cat"] + plain, check=True)
    subprocess.run(["sh", "-c", 'zcat "$@" > /dev/null', "zcat"] + gzipped, check=True)


def time_ordered(incoming):
    """Put the lines of every delivered file in the order of their third field (the event's
    time), the header first; lines without a third field sort first, in their own order."""
    for path in sorted(glob.glob(f"{incoming}/*/*/*")):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            header, *lines = f.read().removesuffix(b"\n").split(b"\n")
        lines.sort(key=lambda line: (line.split(b",") + [b"", b"", b""])[2])
        with open(path, "wb") as f:
            text = b"\n".join([header] + lines) + b"\n"
            f.write(gzip.compress(text, mtime=0) if path.endswith(".gz") else text)


def kakin(work, demo):
    for path in ["lake", "kakin.db"]:
        shutil.rmtree(os.path.join(work, path), ignore_errors=True)
        if os.path.exists(os.path.join(work, path)):
            os.remove(os.path.join(work, path))
    env = dict(os.environ, KAKIN_DATABASE_URL=f"sqlite://{work}/kakin.db",
               KAKIN_LAKE_URL=f"file://{work}/lake", KAKIN_INCOMING_URL=f"file://{demo}/incoming")
    subprocess.run([KAKIN, "master", "import", f"{demo}/master"], env=env, check=True, stdout=subprocess.DEVNULL)
    seconds, peak, out = measured([KAKIN, "ingest"], env=env)
    summary = next(l for l in out.splitlines() if l.startswith("ingested: "))
    return seconds, peak, summary


def duckdb_into(work, name):
    """A DuckDB connection on 2 threads and an empty directory `name` under `work` to write to."""
    out = os.path.join(work, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    db = duckdb.connect()
    db.execute("SET threads = 2")
    return db, out


def duckdb_ingest(work, demo):
    db, out = duckdb_into(work, "duckdb-lake")

    def run():
        db.execute(MASTER.format(master=f"{demo}/master"))
        db.execute(PLAYS.format(incoming=f"{demo}/incoming", out=out))
        db.execute(PURCHASES.format(incoming=f"{demo}/incoming", out=out))
        return db.execute("SELECT outcome, count(*) FROM plays_final GROUP BY 1 ORDER BY 1").fetchall()

    return timed(run)


CONVERT = """
COPY (SELECT *, CAST(make_timestamp(epoch_us(TRY_CAST(played_at AS TIMESTAMPTZ)) + 32400000000) AS DATE) AS play_date
      FROM read_csv('{incoming}/plays/*/*.csv*', all_varchar = true, union_by_name = true,
                    null_padding = true, ignore_errors = true))
TO '{out}/plays' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (play_date));
COPY (SELECT *, CAST(make_timestamp(epoch_us(TRY_CAST(purchased_at AS TIMESTAMPTZ)) + 32400000000) AS DATE) AS purchase_date
      FROM read_csv('{incoming}/purchases/*/*.csv*', all_varchar = true, union_by_name = true,
                    null_padding = true, ignore_errors = true))
TO '{out}/purchases' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (purchase_date));
"""


def duckdb_convert(work, demo):
    db, out = duckdb_into(work, "duckdb-converted")
    return timed(lambda: db.execute(CONVERT.format(incoming=f"{demo}/incoming", out=out)))[0]


def main():
    parser = options()
    parser.add_argument("--time-ordered", action="store_true",
                        help="each file's lines in the order of their timestamps")
    args = parsed(parser)
    work = tempfile.mkdtemp(prefix="kakin-bench-")
    demo = os.path.join(work, "demo")
    print(machine())
    print(generate(demo, args.keychips, args.month))
    if args.time_ordered:
        time_ordered(f"{demo}/incoming")
        print("each file's lines in the order of their timestamps")
    results = {"floor": [], "kakin": [], "duckdb": [], "convert": []}
    peaks = []
    for _ in range(args.repeat):
        results["floor"].append(timed(lambda: floor(f"{demo}/incoming"))[0])
        seconds, peak, summary = kakin(work, demo)
        results["kakin"].append(seconds)
        peaks.append(peak)
        seconds, outcomes = duckdb_ingest(work, demo)
        results["duckdb"].append(seconds)
        results["convert"].append(duckdb_convert(work, demo))
    median = {name: statistics.median(times) for name, times in results.items()}
    print(f"kakin:  {summary}")
    print(f"duckdb: plays {dict(outcomes)}")
    print(f"| step | seconds (median of {args.repeat}) |")
    print("| --- | --- |")
    for name in ["floor", "kakin", "duckdb", "convert"]:
        print(f"| {name} | {median[name]:.2f} |")
    print(f"kakin / duckdb = {median['kakin'] / median['duckdb']:.2f}")
    print(f"kakin / floor  = {median['kakin'] / median['floor']:.2f}")
    print(f"convert / floor = {median['convert'] / median['floor']:.2f}")
    print(f"kakin ingest peak RSS: {max(peaks):.0f} MiB")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
