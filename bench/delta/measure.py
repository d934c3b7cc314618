"""Runs one command and measures it: wall time and the peak resident memory of the process tree.

Peak RSS comes from the kernel's rusage ru_maxrss (the largest resident set of the process and
of the descendants it waited for), read by GNU time (`/usr/bin/time -f %M`). Not by this
script's own os.wait4: a child forked from Python counts Python's ~20 MiB resident pages as its
own until it execs, and ru_maxrss keeps that high-water mark; GNU time is a small C program
(~2 MiB at fork), so its child's figure is the tool's own. The command runs in its own process
group so that a timeout ends all of it.
"""

import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

GNU_TIME = "/usr/bin/time"


@dataclass
class Measured:
    seconds: float
    peak_rss_bytes: int
    ok: bool
    cpu_seconds: float = 0.0
    error: str = ""
    timed_out: bool = False


def measure(argv: list[str], timeout: float, cwd: str | None = None) -> Measured:
    if not os.access(GNU_TIME, os.X_OK):
        return Measured(0.0, 0, False, error=f"{GNU_TIME} missing: apt-get install time")
    with tempfile.NamedTemporaryFile("r", prefix="ota-bench-rss-") as rss_file, \
            tempfile.TemporaryFile() as stderr_file:
        started = time.monotonic()
        try:
            child = subprocess.Popen([GNU_TIME, "-f", "%M %U %S", "-o", rss_file.name, *argv],
                                     cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=stderr_file,
                                     start_new_session=True)
        except OSError as error:
            return Measured(0.0, 0, False, error=f"cannot start {argv[0]}: {error}")
        timed_out = threading.Event()

        def kill_group() -> None:
            timed_out.set()
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill_group)
        timer.start()
        returncode = child.wait()
        timer.cancel()
        seconds = time.monotonic() - started
        lines = rss_file.read().strip().splitlines()
        report = lines[-1].split() if lines else []
        stderr_file.seek(0)
        tail = stderr_file.read()[-2000:].decode(errors="replace").strip().splitlines()[-3:]
    # GNU time writes "Command exited with non-zero status N" on a line before its report.
    peak, cpu = 0, 0.0
    if len(report) == 3 and report[0].isdigit():
        peak, cpu = int(report[0]) * 1024, float(report[1]) + float(report[2])
    if timed_out.is_set():
        return Measured(seconds, peak, False, error=f"timed out after {timeout:.0f} s",
                        timed_out=True)
    if returncode != 0:
        return Measured(seconds, peak, False,
                        error=f"exit {returncode}: {' / '.join(tail)}"[:300])
    if not peak:
        return Measured(seconds, peak, False, error=f"no report from {GNU_TIME}: {lines}"[:300])
    return Measured(seconds, peak, True, cpu_seconds=cpu)


def measure_repeated(argv: list[str], runs: int, slow_seconds: float, timeout: float,
                     cwd: str | None = None) -> tuple[Measured, int]:
    """Median of up to `runs` runs; no more runs after one slower than `slow_seconds`.

    Returns the median measurement and the number of runs it is the median of. Wall time, CPU
    time and memory medians are taken separately (memory barely varies between runs).
    """
    results = []
    for _ in range(runs):
        result = measure(argv, timeout, cwd)
        if not result.ok:
            return result, len(results) + 1
        results.append(result)
        if result.seconds > slow_seconds:
            break
    return Measured(statistics.median(r.seconds for r in results),
                    int(statistics.median(r.peak_rss_bytes for r in results)), True,
                    cpu_seconds=statistics.median(r.cpu_seconds for r in results)), len(results)
