#!/usr/bin/env python3
"""Benchmark: the id ledger on SQLite and PostgreSQL — the ingest of a month on each engine and
the ledger's size per accepted id.

    python3 benches/ledger.py [--keychips 1000] [--month 2026-10] [--repeat 1]

It generates a month with `kakin demo --generate-only`, then ingests it with the release binary
into a fresh SQLite database and a fresh PostgreSQL database (127.0.0.1:5432, user postgres,
created and dropped here), each with a local lake, and prints per engine the ingest's time,
the ledger table's bytes (SQLite: its pages and its key's index, from `dbstat`; PostgreSQL:
`pg_total_relation_size`) and those bytes per accepted id.
"""
import os
import sqlite3
import statistics
import subprocess
import tempfile

from measure import KAKIN, generate, machine, measured, options, parsed

LEDGER = "accepted_events"


def psql(sql, database="postgres"):
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", sql, database],
                          check=True, capture_output=True, text=True).stdout.strip()


def sqlite_ledger(path):
    """The id ledger of a SQLite database: (table, ids, bytes of its pages and its key's index)."""
    db = sqlite3.connect(path)
    rows = db.execute(f"SELECT count(*) FROM {LEDGER}").fetchone()[0]
    size = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ? OR name LIKE ?",
                      (LEDGER, f"sqlite_autoindex_{LEDGER}_%")).fetchone()[0]
    return LEDGER, rows, size


def postgres_ledger(database):
    """The id ledger of a PostgreSQL database: (table, ids, its total relation size)."""
    rows = int(psql(f"SELECT count(*) FROM {LEDGER}", database))
    return LEDGER, rows, int(psql(f"SELECT pg_total_relation_size('{LEDGER}')", database))


def ingest(work, demo, engine):
    lake = os.path.join(work, f"lake-{engine}")
    subprocess.run(["rm", "-rf", lake], check=True)
    if engine == "sqlite":
        path = os.path.join(work, "kakin.db")
        for suffix in ["", "-wal", "-shm"]:
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        url = f"sqlite://{path}"
    else:
        database = f"kakin_bench_{os.getpid()}"
        psql(f"DROP DATABASE IF EXISTS {database}")
        psql(f"CREATE DATABASE {database}")
        url = f"postgres://postgres@127.0.0.1:5432/{database}"
    env = dict(os.environ, KAKIN_LOG="warn", KAKIN_DATABASE_URL=url, KAKIN_LAKE_URL=f"file://{lake}",
               KAKIN_INCOMING_URL=f"file://{demo}/incoming")
    measured([KAKIN, "master", "import", f"{demo}/master"], env=env)
    seconds, peak, _ = measured([KAKIN, "ingest"], env=env)
    if engine == "sqlite":
        ledger = sqlite_ledger(path)
    else:
        ledger = postgres_ledger(database)
        psql(f"DROP DATABASE {database}")
    return seconds, ledger


def main():
    args = parsed(options())
    with tempfile.TemporaryDirectory(prefix="kakin-bench-ledger-") as work:
        demo = os.path.join(work, "demo")
        print(machine())
        print(generate(demo, args.keychips, args.month))
        print(f"| engine | ingest seconds (median of {args.repeat}) | ledger table | ids | ledger bytes | bytes per id |")
        print("| --- | --- | --- | --- | --- | --- |")
        for engine in ["sqlite", "postgres"]:
            runs = [ingest(work, demo, engine) for _ in range(args.repeat)]
            seconds = statistics.median(r[0] for r in runs)
            table, ids, size = runs[-1][1]
            print(f"| {engine} | {seconds:.2f} | {table} | {ids:,} | {size:,} | {size / max(ids, 1):.1f} |")


if __name__ == "__main__":
    main()
