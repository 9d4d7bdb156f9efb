"""What the benchmark scripts share: the release binary, a child process timed with its own
peak memory, and the machine the figures were measured on."""
import os
import platform
import subprocess
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
    """Run `command` to its end: (seconds, the child's own peak RSS in MiB, its standard output).
    Its standard error goes to a file, shown when it fails."""
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{err.read()}")
    return seconds, usage.ru_maxrss / 1024, out


def machine():
    """One line: the CPU, cores and memory the figures were measured on."""
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}"
