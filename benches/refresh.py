#!/usr/bin/env python3
"""Benchmark: `kakin refresh` after each night against that night's ingest.

    python3 benches/refresh.py [--keychips 30000] [--month 2026-10] [--repeat 3]
                               [--engine sqlite]

It generates a month of logs with `kakin demo --generate-only` (30,000 key-chips deliver about
3 million rows a night), imports the master data and slips, then runs the month as operations
do (release build, local lake): every night `kakin ingest --date DAY`, then `kakin refresh`,
each timed with its peak RSS. The refresh keeps each event file's daily sums
(`provisional/daily/`), so after a night it sums that night's files only and reads the earlier
ones' sums. For the month's last --repeat nights (the month to date at its largest) it also
times a refresh that has to sum every file again (the sums deleted first: what every refresh
cost before the sums were kept), and prints the medians and the ratios refresh / ingest
(issue 13: under 0.20). Last, the least a refresh does under `lake.md` (each month-to-date
table replaced whole): DuckDB writing the month-end provisional tables, already in its memory,
as zstd Parquet files, timed against the same nights' ingest.
"""
import calendar
import datetime
import glob
import os
import shutil
import statistics
import tempfile

import duckdb

from measure import KAKIN, generate, machine, measured, options, parsed, timed
from nights import Site


def month_nights(month):
    """The delivery days of `month`'s plays: from its 2nd to the 1st of the next month."""
    year, mon = map(int, month.split("-"))
    first = datetime.date(year, mon, 2)
    return [first + datetime.timedelta(days=n) for n in range(calendar.monthrange(year, mon)[1])]


def tables_written_by_duckdb(lake, out, repeat):
    """DuckDB writing every month-to-date table of `lake` again (read into memory first, then
    each written as one zstd Parquet file in its order): (median seconds, tables, rows)."""
    tables = sorted(glob.glob(f"{lake}/provisional/*/closing_month=*/part-0.parquet"))
    db = duckdb.connect()
    db.execute("SET threads = 2")
    for n, path in enumerate(tables):
        db.execute(f"CREATE TEMP TABLE t{n} AS SELECT * FROM read_parquet('{path}')")
    rows = sum(db.execute(f"SELECT count(*) FROM t{n}").fetchone()[0] for n in range(len(tables)))

    def write():
        for n in range(len(tables)):
            db.execute(f"COPY t{n} TO '{out}/t{n}.parquet' (FORMAT parquet, COMPRESSION zstd)")

    seconds = statistics.median(timed(write)[0] for _ in range(repeat))
    return seconds, len(tables), rows


def main():
    parser = options(keychips=30000, repeat=3)
    parser.add_argument("--engine", default="sqlite", choices=["sqlite", "postgres"])
    args = parsed(parser)
    print(machine())
    with tempfile.TemporaryDirectory(prefix="kakin-bench-refresh-") as work:
        demo = os.path.join(work, "demo")
        print(generate(demo, args.keychips, args.month))
        site = Site(work, demo, args.engine, "refresh")
        measured([KAKIN, "adjustments", "import", f"{demo}/adjustments-{args.month}.csv"],
                 env=site.env)
        nights = month_nights(args.month)
        measured_from = len(nights) - args.repeat
        print("| night | ingest s | ingest peak MiB | refresh s | refresh peak MiB | refresh / ingest "
              "| refresh summing every file s |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        rows = []
        for n, day in enumerate(nights):
            ingest, ingest_peak = site.ingest(day)
            refresh, refresh_peak, _ = measured([KAKIN, "refresh"], env=site.env)
            whole = None
            if n >= measured_from:
                shutil.rmtree(os.path.join(site.lake, "provisional", "daily"))
                whole, _, _ = measured([KAKIN, "refresh"], env=site.env)
                rows.append((ingest, refresh, whole))
            print(f"| {day} | {ingest:.2f} | {ingest_peak:.0f} | {refresh:.2f} | {refresh_peak:.0f} "
                  f"| {refresh / ingest:.2f} | {'-' if whole is None else f'{whole:.2f}'} |")
        ingest, refresh, whole = (statistics.median(r[i] for r in rows) for i in range(3))
        print(f"the last {len(rows)} nights (median): ingest {ingest:.2f} s, refresh {refresh:.2f} s "
              f"({refresh / ingest:.2f} of the ingest), a refresh summing every file {whole:.2f} s "
              f"({whole / ingest:.2f} of the ingest)")
        seconds, tables, written = tables_written_by_duckdb(site.lake, work, args.repeat)
        print(f"DuckDB writing the month-end provisional tables alone ({tables} tables, {written:,} "
              f"rows, from memory, median of {args.repeat}): {seconds:.2f} s ({seconds / ingest:.2f} of "
              f"the ingest)")
        site.drop()


if __name__ == "__main__":
    main()
