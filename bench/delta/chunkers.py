"""Chunk-based updaters on the filesystem pairs: the bytes a casync or a zchunk device downloads.

casync (RAUC's adaptive updates): `casync make` chunks each image into a store of compressed
chunks (default chunk sizes, min/avg/max 16/64/256 KiB, zstd). A device seeded with the old
image downloads new's index plus every chunk of new's store that old's store lacks.
Generation = `casync make` of new; apply = `casync extract --seed=OLD` from new's store
(a local store: it measures reconstruction, not the network).

zchunk (SWUpdate's and dnf's): `zck` compresses each image into chunks; `zck_delta_size`
prints the bytes a device holding old downloads to get new (header and missing chunks).
Generation = `zck` of new; apply is not measured (zchunk reconstructs over HTTP, zck_dl).
"""

import re
import shutil
import subprocess
from pathlib import Path

from measure import measure

ZCK_DELTA = re.compile(r"Would download (\d+) of (\d+) bytes")


def casync(old: Path, new: Path, scratch: Path, timeout: float) -> dict:
    if shutil.which("casync") is None:
        return {"error": "casync not installed"}
    old_store, new_store = scratch / "casync-old.castr", scratch / "casync-new.castr"
    old_index, new_index = scratch / "old.caibx", scratch / "new.caibx"
    out = scratch / "casync.out"
    try:
        made = measure(["casync", "make", f"--store={old_store}", str(old_index), str(old)],
                       timeout)
        if not made.ok:
            return {"error": f"casync make (old): {made.error}"}
        create = measure(["casync", "make", f"--store={new_store}", str(new_index), str(new)],
                         timeout)
        if not create.ok:
            return {"error": f"casync make (new): {create.error}"}
        have = {p.name for p in old_store.rglob("*.cacnk")}
        missing = [p for p in new_store.rglob("*.cacnk") if p.name not in have]
        downloaded = new_index.stat().st_size + sum(p.stat().st_size for p in missing)
        apply = measure(["casync", "extract", f"--store={new_store}", f"--seed={old}",
                         str(new_index), str(out)], timeout)
        return {
            "delta_bytes": downloaded, "create": create, "apply": apply, "output": out,
            "detail": f"{len(missing)} of {sum(1 for _ in new_store.rglob('*.cacnk'))} chunks",
        }
    finally:
        for path in (old_store, new_store):
            shutil.rmtree(path, ignore_errors=True)
        for path in (old_index, new_index):
            path.unlink(missing_ok=True)


def zchunk(old: Path, new: Path, scratch: Path, timeout: float) -> dict:
    if shutil.which("zck") is None or shutil.which("zck_delta_size") is None:
        return {"error": "zchunk not installed"}
    old_zck, new_zck = scratch / "old.zck", scratch / "new.zck"
    try:
        made = measure(["zck", "-o", str(old_zck), str(old)], timeout)
        if not made.ok:
            return {"error": f"zck (old): {made.error}"}
        create = measure(["zck", "-o", str(new_zck), str(new)], timeout)
        if not create.ok:
            return {"error": f"zck (new): {create.error}"}
        report = subprocess.run(["zck_delta_size", str(old_zck), str(new_zck)],
                                capture_output=True, text=True, timeout=timeout)
        found = ZCK_DELTA.search(report.stdout)
        if report.returncode != 0 or not found:
            return {"error": f"zck_delta_size: {report.stdout.strip()} {report.stderr.strip()}"}
        chunks = report.stdout.strip().splitlines()[-1]
        return {"delta_bytes": int(found.group(1)), "create": create, "apply": None,
                "detail": chunks}
    finally:
        old_zck.unlink(missing_ok=True)
        new_zck.unlink(missing_ok=True)
