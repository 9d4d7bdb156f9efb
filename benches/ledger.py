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

LEDGERS = ["accepted_ids", "accepted_events"]  # the keyed ledger, and the text one before it


def psql(sql, database="postgres"):
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", sql, database],
                          check=True, capture_output=True, text=True).stdout.strip()


def sqlite_ledger(path):
    db = sqlite3.connect(path)
    for table in LEDGERS:
        rows = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if db.execute(
            "SELECT count(*) FROM sqlite_schema WHERE name = ?", (table,)).fetchone()[0] else 0
        if rows:
            size = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ? OR name LIKE ?",
                              (table, f"sqlite_autoindex_{table}_%")).fetchone()[0]
            return table, rows, size
    return None, 0, 0


def postgres_ledger(database):
    for table in LEDGERS:
        exists = psql(f"SELECT to_regclass('{table}') IS NOT NULL", database) == "t"
        rows = int(psql(f"SELECT count(*) FROM {table}", database)) if exists else 0
        if rows:
            return table, rows, int(psql(f"SELECT pg_total_relation_size('{table}')", database))
    return None, 0, 0


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
