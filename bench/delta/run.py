#!/usr/bin/env python3
"""Delta benchmark: ours (`ota delta`) against bsdiff, xdelta3, zstd, HDiffPatch, casync, zchunk.

For every pair of the corpus (fetch-corpus.py) and every tool: delta size, generation wall time
and peak RSS, apply wall time and peak RSS, and a byte-for-byte check of the applied result
(sha256 against new). Prints a Markdown table per pair, a summary and the issue's targets;
writes the results as JSON and, with --doc, the Markdown into docs/benchmarks.md between its
markers.

    python3 bench/delta/run.py [--ota target/release/ota] [--pairs a,b] [--tools ours,bsdiff]
                               [--merge] [--doc docs/benchmarks.md]
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import chunkers
from corpus_util import sha256_file, write_json
from measure import Measured, measure_repeated
from report import render
from tools import REPO, all_tools, find_ota

CHUNKERS = {"casync": chunkers.casync, "zchunk": chunkers.zchunk}


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def measured(result: Measured | None, runs: int | None = None) -> dict | None:
    if result is None:
        return None
    value = {"seconds": round(result.seconds, 3), "cpu_seconds": round(result.cpu_seconds, 3),
             "peak_rss_bytes": result.peak_rss_bytes}
    if runs is not None:
        value["runs"] = runs
    return value


def run_delta_tool(tool, old: Path, new: Path, new_sha256: str, scratch: Path,
                   args) -> dict:
    row = {"tool": tool.name, "settings": tool.settings}
    reason = tool.unavailable()
    if reason:
        return {**row, "error": reason}
    delta = scratch / f"{slug(tool.name)}.delta"
    out = scratch / f"{slug(tool.name)}.out"
    try:
        create, create_runs = measure_repeated(tool.create(old, new, delta), args.runs,
                                               args.slow, args.timeout)
        if not create.ok:
            if create.timed_out:
                # A lower bound on the tool's time, still worth comparing against.
                row["create_timed_out_seconds"] = round(create.seconds, 1)
            return {**row, "error": f"create: {create.error}"}
        row["delta_bytes"] = delta.stat().st_size
        row["create"] = measured(create, create_runs)
        apply, apply_runs = measure_repeated(tool.apply(old, delta, out), args.runs, args.slow,
                                             args.timeout)
        if not apply.ok:
            return {**row, "error": f"apply: {apply.error}"}
        row["apply"] = measured(apply, apply_runs)
        row["verified"] = sha256_file(out) == new_sha256
        if not row["verified"]:
            row["error"] = "applied output differs from new"
        return row
    finally:
        delta.unlink(missing_ok=True)
        out.unlink(missing_ok=True)


def run_chunker(name: str, old: Path, new: Path, new_sha256: str, scratch: Path,
                args) -> dict:
    row = {"tool": name, "settings": "default chunk sizes; bytes a device downloads",
           "downloaded": True}
    result = CHUNKERS[name](old, new, scratch, args.timeout)
    if "error" in result:
        return {**row, "error": result["error"]}
    row.update(delta_bytes=result["delta_bytes"], detail=result["detail"],
               create=measured(result["create"], 1), apply=measured(result["apply"], 1))
    output = result.get("output")
    if output is not None:
        row["verified"] = result["apply"].ok and sha256_file(output) == new_sha256
        output.unlink(missing_ok=True)
        if not row["verified"]:
            row["error"] = f"casync extract: {result['apply'].error or 'output differs'}"
    return row


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), platform.machine())
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--",
                            "update-delta", "tools"], capture_output=True, text=True).stdout
    if dirty.strip():
        commit += " plus uncommitted changes in update-delta/ and tools/"
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": commit}


def describe_ota(ota: Path | None, reason: str) -> str:
    if not ota:
        return reason
    built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ota.stat().st_mtime))
    return f"{ota} (built {built}, sha256 {sha256_file(ota)[:16]})"


def tool_versions() -> dict:
    def first_line(argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return "not installed"
        text = done.stdout + done.stderr
        found = re.search(r"\d+(\.\d+)+(-\d+)?", text) or re.search(r"\d+", text)
        return found.group(0) if found else "?"
    hdiff = subprocess.run([sys.executable, "-c",
                            "import importlib.metadata as m; print(m.version('hdiffpatch'))"],
                           capture_output=True, text=True).stdout.strip() or "not installed"
    return {
        "bsdiff": first_line(["dpkg-query", "-W", "-f=${Version}", "bsdiff"]),
        "xdelta3": first_line(["xdelta3", "-V"]),
        "zstd": first_line(["zstd", "--version"]),
        "hdiffpatch (PyPI)": hdiff,
        "casync": first_line(["casync", "--version"]),
        "zchunk": first_line(["zck", "--version"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path,
                        default=Path(os.environ.get("OTA_CORPUS", "/work/corpus")))
    parser.add_argument("--ota", type=Path, help="the ota binary (default: target/release/ota)")
    parser.add_argument("--pairs", help="comma-separated pair names (default: all)")
    parser.add_argument("--tools", help="comma-separated tool slugs, e.g. ours,bsdiff,casync")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--slow", type=float, default=20.0,
                        help="a first run slower than this many seconds is the only run")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per command")
    parser.add_argument("--bsdiff-timeout", type=float,
                        help="seconds for bsdiff alone (it is the slow one on images); a timeout "
                        "is reported as a lower bound on its time")
    parser.add_argument("--scratch", type=Path,
                        default=Path("/dev/shm") if Path("/dev/shm").is_dir() else None)
    parser.add_argument("--json", type=Path, help="results file (default: <corpus>/results.json)")
    parser.add_argument("--merge", action="store_true",
                        help="keep earlier results of the tools and pairs not run now")
    parser.add_argument("--doc", type=Path, help="write the Markdown into this file's markers")
    parser.add_argument("--render-only", action="store_true",
                        help="measure nothing: render the results file (into --doc)")
    args = parser.parse_args()

    corpus = args.corpus.resolve()
    manifest = json.loads((corpus / "manifest.json").read_text())
    results_path = args.json or corpus / "results.json"
    previous = json.loads(results_path.read_text()) if args.merge and results_path.exists() else {}
    if args.render_only:
        markdown = render(json.loads(results_path.read_text()))
        print(markdown)
        if args.doc:
            write_between_markers(args.doc, markdown)
        return 0
    wanted_pairs = set(args.pairs.split(",")) if args.pairs else None
    wanted_tools = set(args.tools.split(",")) if args.tools else None

    ota, ota_reason = find_ota(args.ota)
    if not ota:
        print(ota_reason, file=sys.stderr)
    tools = all_tools(ota, ota_reason)
    scratch_parent = args.scratch or corpus
    # Every temporary file (deltas, outputs, GNU time's reports) goes there: tmpfs by default,
    # so a full disk elsewhere cannot fail a measurement.
    tempfile.tempdir = str(scratch_parent)
    results = {
        "machine": machine(), "versions": tool_versions(),
        "ota": describe_ota(ota, ota_reason),
        "runs": args.runs, "slow_seconds": args.slow, "manifest": manifest,
        "pairs": previous.get("pairs", {}),
    }
    for entry in manifest["pairs"]:
        pair = entry["pair"]
        if wanted_pairs and pair not in wanted_pairs:
            continue
        old, new = corpus / entry["old"]["path"], corpus / entry["new"]["path"]
        for path, side in ((old, "old"), (new, "new")):
            if sha256_file(path) != entry[side]["sha256"]:
                print(f"{path}: sha256 differs from the manifest; re-run fetch-corpus.py",
                      file=sys.stderr)
                return 1
        rows = {row["tool"]: row for row in results["pairs"].get(pair, {}).get("rows", [])}
        names = [(t.name, t) for t in tools]
        if entry["kind"] == "image":
            names += [(name, None) for name in CHUNKERS]
        with tempfile.TemporaryDirectory(prefix="ota-delta-bench-", dir=scratch_parent) as tmp:
            for name, tool in names:
                if wanted_tools and slug(name).split("-")[0] not in wanted_tools \
                        and slug(name) not in wanted_tools:
                    continue
                print(f"{pair}: {name} ...", file=sys.stderr, flush=True)
                if tool:
                    tool_args = args
                    if tool.name == "bsdiff" and args.bsdiff_timeout:
                        tool_args = argparse.Namespace(**{**vars(args),
                                                          "timeout": args.bsdiff_timeout})
                    row = run_delta_tool(tool, old, new, entry["new"]["sha256"], Path(tmp),
                                         tool_args)
                else:
                    row = run_chunker(name, old, new, entry["new"]["sha256"], Path(tmp), args)
                row["measured_at"] = results["machine"]["date"]
                rows[name] = row
        order = [name for name, _ in names]
        results["pairs"][pair] = {"rows": sorted(rows.values(), key=lambda r: order.index(r["tool"])
                                                 if r["tool"] in order else len(order))}
        write_json(results_path, results)
        print(render(results, only_pair=pair), flush=True)

    markdown = render(results)
    print(markdown)
    if args.doc:
        write_between_markers(args.doc, markdown)
    return 0


BEGIN = "<!-- delta-bench:begin (written by bench/delta/run.py) -->"
END = "<!-- delta-bench:end -->"


def write_between_markers(doc: Path, markdown: str) -> None:
    text = doc.read_text() if doc.exists() else f"{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{doc}: markers {BEGIN!r} and {END!r} not found")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{BEGIN}\n{markdown}\n{END}{tail}")


if __name__ == "__main__":
    sys.exit(main())
