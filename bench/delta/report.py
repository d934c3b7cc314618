"""Turns the benchmark's results into Markdown: per-pair tables, a summary and the targets.

The targets are the issue's, computed here from the measurements (nothing is hand-edited):
executables: ours <= 0.8x the smallest peer; every pair: ours <= the smallest peer; generation
>= 3x faster than bsdiff; a ~160 MiB image generated in < 2 min; apply peak memory flat as
images grow (and < 16 MiB).
"""

OURS = "ours (ota delta)"
HDIFF = ("HDiffPatch lzma2", "HDiffPatch zstd")
MIB = 1 << 20
FLAT_TOLERANCE = 1.10  # "flat": the largest image's apply peak within 10% of the smallest's
APPLY_BUDGET = 16 * MIB


def size(n: int | None) -> str:
    if n is None:
        return "–"
    if n >= MIB:
        return f"{n / MIB:.2f} MiB"
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} B"


def seconds(m: dict | None) -> str:
    if not m:
        return "–"
    runs = m.get("runs")
    note = "" if runs in (None, 3) else f" ({runs} run{'s' if runs != 1 else ''})"
    return f"{m['seconds']:.2f}{note}"


def cpu(m: dict | None) -> str:
    return f"{m['cpu_seconds']:.2f}" if m and "cpu_seconds" in m else "–"


def rss(m: dict | None) -> str:
    return size(m["peak_rss_bytes"]) if m else "–"


def ok_rows(pair: dict) -> dict:
    return {r["tool"]: r for r in pair["rows"] if "error" not in r and r.get("verified", True)}


def smallest_peer(rows: dict) -> dict | None:
    peers = [r for name, r in rows.items() if name != OURS]
    return min(peers, key=lambda r: r["delta_bytes"], default=None)


def pair_table(entry: dict, pair: dict) -> list[str]:
    new_size = entry["new"]["size"]
    rows = ok_rows(pair)
    ours = rows.get(OURS)
    source = entry["source"]
    title = (f"{source.get('package', 'Debian tree')} {entry['old']['version']} → "
             f"{entry['new']['version']}") if entry["kind"] == "executable" else source["how"]
    lines = [f"### {entry['pair']}", "",
             f"{title}; new = {size(new_size)}" + (f", ELF {entry['new']['elf']}"
                                                  if entry["new"].get("elf") else ""), "",
             "| tool | delta | % of new | ours ÷ this | create s | create CPU s | create peak RSS "
             "| apply s | apply peak RSS | verified | measured |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for row in pair["rows"]:
        name = row["tool"] + (" (bytes downloaded)" if row.get("downloaded") else "")
        if "error" in row and "delta_bytes" not in row:
            lines.append(f"| {name} | {row['error']} | | | | | | | | no | "
                         f"{row.get('measured_at', '')} |")
            continue
        verified = {True: "yes", False: "NO"}.get(row.get("verified"), "n/a")
        if row.get("error"):
            verified = f"NO: {row['error']}"
        ratio = (f"{ours['delta_bytes'] / row['delta_bytes']:.2f}" if ours and row is not ours
                 and row["delta_bytes"] else "")
        lines.append(
            f"| {name} | {size(row['delta_bytes'])} | {100 * row['delta_bytes'] / new_size:.2f}"
            f" | {ratio} | {seconds(row.get('create'))} | {cpu(row.get('create'))} | "
            f"{rss(row.get('create'))} | "
            f"{seconds(row.get('apply'))} | {rss(row.get('apply'))} | {verified} | "
            f"{row.get('measured_at', '')} |")
    details = [f"{r['tool']}: {r['detail']}" for r in pair["rows"] if r.get("detail")]
    if details:
        lines += ["", "Chunks downloaded: " + "; ".join(details) + "."]
    return lines + [""]


def bsdiff_create_seconds(pair: dict, bsdiff: dict | None) -> tuple[float | None, bool]:
    """bsdiff's create time, or the timeout it ran into (then a lower bound: True)."""
    if bsdiff:
        return bsdiff["create"]["seconds"], False
    row = next((r for r in pair["rows"] if r["tool"] == "bsdiff"), {})
    timed_out = row.get("create_timed_out_seconds")
    return (timed_out, True) if timed_out else (None, False)


def summary(results: dict) -> tuple[list[str], list[str]]:
    lines = ["| pair | new | ours | smallest peer | ours ÷ smallest | ours ÷ best HDiffPatch "
             "| bsdiff create ÷ ours, wall (CPU) | ours apply peak RSS |",
             "|---|---:|---:|---|---:|---:|---:|---:|"]
    facts = {"exe": [], "all": [], "speed": [], "apply": []}
    for entry in results["manifest"]["pairs"]:
        pair = results["pairs"].get(entry["pair"])
        if not pair:
            continue
        rows = ok_rows(pair)
        ours, peer = rows.get(OURS), smallest_peer(rows)
        hdiff = min((rows[h]["delta_bytes"] for h in HDIFF if h in rows), default=None)
        bsdiff = rows.get("bsdiff")
        cells = [entry["pair"], size(entry["new"]["size"]), size(ours and ours["delta_bytes"]),
                 f"{peer['tool']} {size(peer['delta_bytes'])}" if peer else "–"]
        if ours and peer:
            ratio = ours["delta_bytes"] / peer["delta_bytes"]
            facts["all"].append((entry["pair"], ratio))
            if entry["kind"] == "executable":
                facts["exe"].append((entry["pair"], ratio))
            cells.append(f"{ratio:.3f}")
        else:
            cells.append("–")
        cells.append(f"{ours['delta_bytes'] / hdiff:.3f}" if ours and hdiff else "–")
        bsdiff_seconds, at_least = bsdiff_create_seconds(pair, bsdiff)
        if ours and bsdiff_seconds:
            speed = bsdiff_seconds / max(ours["create"]["seconds"], 1e-6)
            facts["speed"].append((entry["pair"], speed))
            cell = f"{'≥ ' if at_least else ''}{speed:.1f}×"
            bsdiff_cpu = bsdiff and bsdiff["create"].get("cpu_seconds")
            ours_cpu = ours["create"].get("cpu_seconds")
            if bsdiff_cpu and ours_cpu:
                cell += f" ({bsdiff_cpu / ours_cpu:.1f}×)"
            cells.append(cell)
        else:
            cells.append("–")
        if ours:
            facts["apply"].append((entry, ours))
        cells.append(rss(ours and ours.get("apply")))
        lines.append("| " + " | ".join(cells) + " |")
    return lines, targets(results, facts)


def verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def targets(results: dict, facts: dict) -> list[str]:
    if not facts["all"]:
        return [f"Not measured: {results.get('ota', 'ota delta not available')}."]
    out = []
    worst_exe = max(facts["exe"], key=lambda f: f[1], default=None)
    if worst_exe:
        misses = [f"{p} {r:.3f}" for p, r in facts["exe"] if r > 0.8]
        out.append(f"- Executables, ours ≤ 0.8× the smallest peer: {verdict(not misses)} "
                   f"(worst {worst_exe[0]}: {worst_exe[1]:.3f}×"
                   + (f"; over 0.8 on {', '.join(misses)}" if misses else "") + ").")
    misses = [f"{p} {r:.3f}×" for p, r in facts["all"] if r > 1.0]
    out.append(f"- Every pair, ours ≤ the smallest peer: {verdict(not misses)}"
               + (f" (larger on {', '.join(misses)})." if misses else "."))
    if facts["speed"]:
        slowest = min(facts["speed"], key=lambda f: f[1])
        misses = [f"{p} {s:.1f}×" for p, s in facts["speed"] if s < 3]
        out.append(f"- Generation ≥ 3× faster than bsdiff: {verdict(not misses)} (least: "
                   f"{slowest[0]} {slowest[1]:.1f}×" + (f"; under 3× on {', '.join(misses)}"
                                                        if misses else "") + ").")
    images = [(e, o) for e, o in facts["apply"] if e["kind"] == "image"]
    near_160 = min(images, key=lambda eo: abs(eo[0]["new"]["size"] - 160 * MIB), default=None)
    if near_160:
        entry, ours = near_160
        took = ours["create"]["seconds"]
        out.append(f"- A {size(entry['new']['size'])} image generated in < 2 min: "
                   f"{verdict(took < 120)} ({entry['pair']}: {took:.1f} s).")
    measured = sorted(((e["new"]["size"], e["pair"], o["apply"]["peak_rss_bytes"])
                       for e, o in facts["apply"] if o.get("apply")))
    if len(images) >= 2 and measured:
        image_rss = sorted((e["new"]["size"], o["apply"]["peak_rss_bytes"]) for e, o in images)
        growth = image_rss[-1][1] / image_rss[0][1]
        peak = max(r for _, _, r in measured)
        flat = growth <= FLAT_TOLERANCE and peak < APPLY_BUDGET
        out.append(f"- Apply peak memory flat as images grow (and < 16 MiB): {verdict(flat)} "
                   f"({size(image_rss[0][1])} at {size(image_rss[0][0])} → "
                   f"{size(image_rss[-1][1])} at {size(image_rss[-1][0])}, ×{growth:.2f}; "
                   f"largest over all pairs {size(peak)}).")
    return out


def render(results: dict, only_pair: str | None = None) -> str:
    entries = {e["pair"]: e for e in results["manifest"]["pairs"]}
    if only_pair:
        return "\n".join(pair_table(entries[only_pair], results["pairs"][only_pair]))
    m = results["machine"]
    lines = [f"Run of {m['date']} on {m['nproc']} × {m['cpu']}, {m['memory_gib']} GiB, Linux "
             f"{m['kernel']}, commit {m['commit']}; `ota`: {results['ota']}.", "",
             "Tools: " + "; ".join(f"{k} {v}" for k, v in results["versions"].items()) + ".", "",
             f"Times are the median of {results['runs']} runs, except where a cell says "
             f"otherwise (repetition stops after a run over {results['slow_seconds']:.0f} s). "
             "CPU s is user + system time. Peak RSS is the command's ru_maxrss, read by GNU time.",
             ""]
    runs = sorted({row.get("measured_at", "?") for pair in results["pairs"].values()
                   for row in pair["rows"]})
    if len(runs) > 1:
        lines += [f"Rows come from {len(runs)} invocations on this machine and corpus "
                  f"(`--merge`), started {', '.join(runs)}; each per-pair row lists when.", ""]
    table, goals = summary(results)
    lines += ["## Summary", "", *table, "", "## Targets (issue 10)", "", *goals, ""]
    lines += ["## Per pair", ""]
    for pair, entry in entries.items():
        if pair in results["pairs"]:
            lines += pair_table(entry, results["pairs"][pair])
    lines += ["## Corpus manifest", "", "| pair | source | old | new | old size | new size |",
              "|---|---|---|---|---:|---:|"]
    for entry in entries.values():
        source = entry["source"]
        what = " ".join(str(source[k]) for k in ("registry", "package", "platform", "member")
                        if k in source) if entry["kind"] == "executable" else source["how"]
        lines.append(f"| {entry['pair']} | {what} | {entry['old']['version']} | "
                     f"{entry['new']['version']} | {entry['old']['size']} | "
                     f"{entry['new']['size']} |")
    lines += ["", "sha256 (old, new):", ""]
    lines += [f"- {e['pair']}: `{e['old']['sha256']}`, `{e['new']['sha256']}`"
              for e in entries.values()]
    images = [e for e in entries.values() if e["kind"] == "image"]
    for entry in images:
        lines += ["", f"{entry['pair']}: new or upgraded in new: "
                  + ", ".join(entry["source"]["new_or_upgraded"]) + "."]
    return "\n".join(lines)
