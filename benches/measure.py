"""What the benchmark scripts share: the release binary, a child process timed with its own
peak memory, and the machine the figures were measured on."""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/kakin-target"))
# The release build (`cargo build --release -p jobs`); KAKIN_BIN names another (CI smoke-tests
# the scripts with the debug build at their smallest size).
KAKIN = os.environ.get("KAKIN_BIN", os.path.join(TARGET, "release", "kakin"))


def timed(action):
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def measured(command, env=None):
    """Run `command` to its end: (seconds, its peak RSS in MiB, its standard output). The peak is
    read by /usr/bin/time around the command alone (a child forked straight from this process
    would report this process's peak: DuckDB's). Its standard error is shown when it fails."""
    with tempfile.NamedTemporaryFile("r") as peak, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", peak.name, *command], env=env,
                              stdout=subprocess.PIPE, stderr=err, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{err.read()}")
        return seconds, int(peak.read().split()[-1]) / 1024, done.stdout


def machine():
    """One line: the CPU, cores and memory the figures were measured on."""
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}"


def options(keychips=1000, repeat=1):
    """The options every benchmark takes: the month's size and date, and how many runs."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--keychips", type=int, default=keychips)
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--repeat", type=int, default=repeat)
    return parser


def parsed(parser):
    """The options given, once the binary the benchmark runs is known to be there."""
    args = parser.parse_args()
    if not os.path.exists(KAKIN):
        sys.exit(f"build the release binary first: cargo build --release -p jobs ({KAKIN})")
    return args


def generate(demo, keychips, month):
    """`kakin demo --generate-only` into `demo`: what it generated, with the seconds it took."""
    seconds, _, out = measured([KAKIN, "demo", "--generate-only", "--keychips", str(keychips),
                                "--month", month, "--dir", demo])
    return f"{out.strip()} ({seconds:.1f} s)"
