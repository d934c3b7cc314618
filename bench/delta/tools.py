"""The delta tools compared: how each one creates and applies a delta, and whether it is here.

Each tool is a pair of command lines, so every tool is measured the same way (a child process:
wall time, peak RSS via wait4). HDiffPatch has no CLI in its PyPI wheel; it runs in a child
Python process (hdiff_child.py) whose peak RSS includes the interpreter (~10 MiB) and the
whole inputs, since the wheel's API takes and returns bytes.
"""

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

Argv = list[str]


@dataclass
class DeltaTool:
    name: str
    settings: str
    create: Callable[[Path, Path, Path], Argv]
    apply: Callable[[Path, Path, Path], Argv]
    unavailable: Callable[[], str | None]


def needs(*programs: str) -> Callable[[], str | None]:
    def check() -> str | None:
        missing = [p for p in programs if shutil.which(p) is None]
        return f"{', '.join(missing)} not installed" if missing else None
    return check


def xdelta_window(old: Path) -> str:
    """xdelta3 matches only inside its source window (64 MiB by default): cover all of old."""
    size = max(old.stat().st_size, 1 << 26)
    return str(1 << (size - 1).bit_length())


def hdiffpatch(compression: str) -> DeltaTool:
    child = str(HERE / "hdiff_child.py")

    def unavailable() -> str | None:
        probe = subprocess.run([sys.executable, "-c", "import hdiffpatch"], capture_output=True)
        return None if probe.returncode == 0 else "pip install hdiffpatch"

    settings = {"lzma2": "lzma2 level 9, 64 MiB dictionary",
                "zstd": "zstd level 22, 128 MiB window"}[compression]
    return DeltaTool(
        f"HDiffPatch {compression}", f"PyPI hdiffpatch, {settings}, in-memory API",
        lambda old, new, out: [sys.executable, child, "diff", compression, str(old), str(new),
                               str(out)],
        lambda old, delta, out: [sys.executable, child, "apply", str(old), str(delta), str(out)],
        unavailable)


def find_ota(explicit: Path | None) -> tuple[Path | None, str]:
    """The `ota` binary with a working `delta` subcommand, or why there is none."""
    import os
    candidates = [explicit] if explicit else []
    if not explicit:
        if os.environ.get("CARGO_TARGET_DIR"):
            candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "release" / "ota")
        candidates.append(REPO / "target" / "release" / "ota")
    for candidate in candidates:
        if candidate and candidate.is_file():
            probe = subprocess.run([str(candidate), "delta", "--help"], capture_output=True)
            if probe.returncode == 0:
                return candidate, ""
            return None, f"ota delta not available ({candidate} has no `delta` subcommand)"
    return None, "ota delta not available (no ota binary: cargo build --release -p tools)"


def all_tools(ota: Path | None, ota_reason: str) -> list[DeltaTool]:
    ours = DeltaTool(
        "ours (ota delta)", "ota delta create/apply, defaults",
        lambda old, new, out: [str(ota), "delta", "create", str(old), str(new), str(out)],
        lambda old, delta, out: [str(ota), "delta", "apply", str(old), str(delta), str(out)],
        lambda: None if ota else ota_reason)
    return [
        ours,
        DeltaTool("bsdiff", "Debian bsdiff 4.3",
                  lambda old, new, out: ["bsdiff", str(old), str(new), str(out)],
                  lambda old, delta, out: ["bspatch", str(old), str(out), str(delta)],
                  needs("bsdiff", "bspatch")),
        DeltaTool("xdelta3 -9", "xdelta3 -9 -e, -B = old size rounded up to a power of 2",
                  lambda old, new, out: ["xdelta3", "-9", "-e", "-f", "-B", xdelta_window(old),
                                         "-s", str(old), str(new), str(out)],
                  lambda old, delta, out: ["xdelta3", "-d", "-f", "-B", xdelta_window(old),
                                           "-s", str(old), str(delta), str(out)],
                  needs("xdelta3")),
        DeltaTool("zstd --patch-from", "zstd --ultra -22 --long=31 --patch-from",
                  lambda old, new, out: ["zstd", "-q", "-f", "--ultra", "-22", "--long=31",
                                         f"--patch-from={old}", str(new), "-o", str(out)],
                  lambda old, delta, out: ["zstd", "-q", "-d", "-f", "--long=31",
                                           f"--patch-from={old}", str(delta), "-o", str(out)],
                  needs("zstd")),
        hdiffpatch("lzma2"),
        hdiffpatch("zstd"),
    ]
