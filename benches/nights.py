#!/usr/bin/env python3
"""Benchmark: the nightly ingest as the network grows — its memory against the size of the
night, and its time against the history already in the id ledger.

    python3 benches/nights.py [--keychips 1000] [--scale 10] [--fill 300000000] [--repeat 3]
                              [--engines sqlite,postgres] [--month 2026-10]

Each measured night is one `kakin ingest --date DAY` (release build, local lake) after the
deliveries before it were ingested untimed; --repeat nights are measured one after the other
(from the --first day of the month, the 8th unless told), and the median time and the highest
peak RSS reported. The first deliveries are on the 2nd.

- nights:  at --keychips and at --scale times as many (SQLite), the time and peak RSS of a
           night, and the ratio of the peaks (issue 13: a 10x night under 1.5x the memory).
- history: at --keychips, on each engine, the same nights on a ledger holding only the month's
           first week, and on one to which --fill ids of a simulated year before were added by
           a generator (ids formatted as the collectors' are, time-ordered: `P20251001-...`),
           with the ledger's bytes per id and the ratio of the times (goal: at most 1.5x).
"""
import datetime
import os
import sqlite3
import statistics
import subprocess
import tempfile

from ledger import postgres_ledger, psql, sqlite_ledger
from measure import KAKIN, generate, machine, measured, options, parsed, timed


class Site:
    """A database (SQLite file or PostgreSQL database), a lake and the demo's deliveries."""

    def __init__(self, work, demo, engine, name):
        self.engine, self.lake = engine, os.path.join(work, f"lake-{name}")
        if engine == "sqlite":
            self.path = os.path.join(work, f"{name}.db")
            url = f"sqlite://{self.path}"
        else:
            self.database = f"kakin_nights_{name}_{os.getpid()}"
            psql(f"DROP DATABASE IF EXISTS {self.database}")
            psql(f"CREATE DATABASE {self.database}")
            url = f"postgres://postgres@127.0.0.1:5432/{self.database}"
        self.env = dict(os.environ, KAKIN_LOG="warn", KAKIN_DATABASE_URL=url,
                        KAKIN_LAKE_URL=f"file://{self.lake}",
                        KAKIN_INCOMING_URL=f"file://{demo}/incoming")
        measured([KAKIN, "master", "import", f"{demo}/master"], env=self.env)

    def ingest(self, day):
        """`kakin ingest --date DAY`: (seconds, peak RSS in MiB)."""
        seconds, peak, _ = measured([KAKIN, "ingest", "--date", day.isoformat()], env=self.env)
        return seconds, peak

    def ledger(self):
        return sqlite_ledger(self.path) if self.engine == "sqlite" else postgres_ledger(self.database)

    def fill(self, count, start):
        """Add `count` ids of the year from `start`, in key order, 95 % plays and 5 % purchases,
        as a generator (not an ingest) would: the seconds it took."""
        plays = count * 19 // 20
        per_day = max(count // 365, 1)
        batches = [("plays", "P", 0, plays), ("purchases", "T", plays, count)]
        if self.engine == "sqlite":
            db = sqlite3.connect(self.path)
            db.execute("PRAGMA journal_mode = WAL")

            def run():
                for feed, prefix, first, end in batches:
                    db.execute(SQLITE_FILL, dict(feed=feed, prefix=prefix, first=first, end=end,
                                                 per_day=per_day, start=start.isoformat()))
                db.commit()
                db.close()
            return timed(run)[0]
        return timed(lambda: [psql(POSTGRES_FILL.format(feed=feed, prefix=prefix, first=first,
                                                        end=end, per_day=per_day, start=start),
                                   self.database) for feed, prefix, first, end in batches])[0]

    def drop(self):
        subprocess.run(["rm", "-rf", self.lake], check=True)
        if self.engine == "sqlite":
            for suffix in ["", "-wal", "-shm"]:
                if os.path.exists(self.path + suffix):
                    os.remove(self.path + suffix)
        else:
            psql(f"DROP DATABASE {self.database}")


# Ids as the demo's collectors write them (`P20261008-000042-0007`: day, key-chip, sequence).
SQLITE_FILL = """
WITH RECURSIVE n(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :end)
INSERT INTO accepted_events (feed, event_id, content_hash)
SELECT :feed, printf('%s%s-%06d-%04d', :prefix,
                     strftime('%Y%m%d', :start, '+' || ((i - :first) / :per_day) || ' days'),
                     ((i - :first) % :per_day) / 10000, i % 10000),
       i * 2654435761
FROM n
"""

POSTGRES_FILL = """
INSERT INTO accepted_events (feed, event_id, content_hash)
SELECT '{feed}', '{prefix}' || to_char(DATE '{start}' + ((i - {first}) / {per_day})::int, 'YYYYMMDD')
       || '-' || lpad((((i - {first}) % {per_day}) / 10000)::text, 6, '0')
       || '-' || lpad((i % 10000)::text, 4, '0'),
       i * 2654435761
FROM generate_series({first}::bigint, {end}::bigint - 1) AS i
"""


def nights(site, first, repeat):
    """Ingest what was delivered before `first` untimed, then `repeat` nights from it."""
    site.ingest(first - datetime.timedelta(days=1))
    return [site.ingest(first + datetime.timedelta(days=n)) for n in range(repeat)]


def summary(runs):
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs)


def memory(work, args, first):
    print("| key-chips | rows a night (about) | night seconds (median) | peak RSS MiB (highest) |")
    print("| --- | --- | --- | --- |")
    peaks = []
    for keychips in [args.keychips, args.keychips * args.scale]:
        demo = os.path.join(work, f"demo-{keychips}")
        generated = generate(demo, keychips, args.month)
        site = Site(work, demo, "sqlite", f"night{keychips}")
        seconds, peak = summary(nights(site, first, args.repeat))
        peaks.append(peak)
        print(f"| {keychips:,} | {keychips * 100:,} | {seconds:.2f} | {peak:.0f} |  <- {generated}")
        site.drop()
        subprocess.run(["rm", "-rf", demo], check=True)
    print(f"peak RSS {args.scale}x / 1x = {peaks[1] / peaks[0]:.2f}")


def history(work, args, first, engines):
    demo = os.path.join(work, "demo")
    print(generate(demo, args.keychips, args.month))
    start = first.replace(day=1) - datetime.timedelta(days=365)
    print("| engine | ledger | ids | bytes per id | fill seconds | night seconds (median) | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for engine in engines:
        empty = Site(work, demo, engine, "empty")
        base, _ = summary(nights(empty, first, args.repeat))
        _, ids, size = empty.ledger()
        print(f"| {engine} | the month so far | {ids:,} | {size / ids:.1f} | - | {base:.2f} | 1.00 |")
        empty.drop()
        full = Site(work, demo, engine, "full")
        filled = full.fill(args.fill, start)
        seconds, _ = summary(nights(full, first, args.repeat))
        _, ids, size = full.ledger()
        print(f"| {engine} | + {args.fill:,} generated | {ids:,} | {size / ids:.1f} | {filled:.0f} "
              f"| {seconds:.2f} | {seconds / base:.2f} |")
        full.drop()


def main():
    parser = options(repeat=3)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--fill", type=int, default=300_000_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--only", choices=["nights", "history"])
    parser.add_argument("--first", type=int, default=8, help="the day of the first night measured")
    args = parsed(parser)
    first = datetime.date.fromisoformat(f"{args.month}-{args.first:02}")
    print(machine())
    with tempfile.TemporaryDirectory(prefix="kakin-bench-nights-") as work:
        if args.only != "history":
            memory(work, args, first)
        if args.only != "nights":
            history(work, args, first, args.engines.split(","))


if __name__ == "__main__":
    main()
