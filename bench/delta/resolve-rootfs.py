#!/usr/bin/env python3
"""Writes the pinned package lists of the filesystem-image pairs (rootfs-*.{old,new}.txt).

Run once, after `apt-get update`, when the lists have to be remade (fetch-corpus.py only reads
them, so the corpus stays the same until someone re-runs this). For each image pair:
  old = the dependency closure (Pre-Depends + Depends, first alternative) of its seed packages,
        at the versions of the `bookworm` suite (the point release);
  new = the same closure plus a few added packages, with every package that bookworm-security or
        bookworm-updates carries in a newer version upgraded to it (a "security update" release).
"""

import collections
import glob
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE_SUITE = "bookworm"
UPDATE_SUITES = ("bookworm-security", "bookworm-updates")
# debootstrap merges /usr itself; the usrmerge package would drag the whole of perl in.
EXCLUDED = {"usrmerge"}

# name: (priorities whose packages seed the tree, extra seed packages, packages added in "new")
IMAGES = {
    "rootfs-160m": (("required",), [], ["less", "openssl", "ca-certificates"]),
    "rootfs-288m": (("required", "important"), [], ["curl", "openssh-client"]),
}


def read_lists():
    """{package: {suite: stanza}} and {virtual: {providers}} from apt's downloaded lists."""
    packages = collections.defaultdict(dict)
    providers = collections.defaultdict(set)
    for path in sorted(glob.glob("/var/lib/apt/lists/*_binary-amd64_Packages*")):
        suite = path.split("_dists_")[1].split("_")[0]
        text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path],
                              check=True, capture_output=True, text=True).stdout
        for block in text.split("\n\n"):
            stanza = {}
            for line in block.split("\n"):
                if line and not line[0].isspace() and ":" in line:
                    key, value = line.split(":", 1)
                    stanza[key] = value.strip()
            if "Package" not in stanza:
                continue
            packages[stanza["Package"]][suite] = stanza
            if suite == BASE_SUITE:
                for provided in stanza.get("Provides", "").split(","):
                    name = provided.strip().split(" ")[0]
                    if name:
                        providers[name].add(stanza["Package"])
    return packages, providers


def closure(seeds, packages, providers):
    chosen = set(seeds)
    todo = list(seeds)
    while todo:
        stanza = packages[todo.pop()][BASE_SUITE]
        for field in ("Pre-Depends", "Depends"):
            for clause in filter(None, (c.strip() for c in stanza.get(field, "").split(","))):
                alternatives = [re.sub(r"[ (].*", "", a.strip()).split(":")[0]
                                for a in clause.split("|")]
                candidates = []
                for name in alternatives:
                    if name in EXCLUDED:
                        continue
                    if BASE_SUITE in packages.get(name, {}):
                        candidates.append(name)
                    candidates.extend(sorted(providers.get(name, ())))
                if not candidates:
                    if any(a in EXCLUDED for a in alternatives):
                        continue
                    sys.exit(f"cannot resolve {clause!r} of {stanza['Package']}")
                # Prefer what is already in the tree (mawk for awk, not gawk).
                if any(c in chosen for c in candidates):
                    continue
                chosen.add(candidates[0])
                todo.append(candidates[0])
    return chosen


def newer(a, b):
    return subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0


def main():
    packages, providers = read_lists()
    for image, (priorities, extra, added) in IMAGES.items():
        seeds = sorted(p for p, s in packages.items()
                       if s.get(BASE_SUITE, {}).get("Priority") in priorities) + extra
        old = closure(seeds, packages, providers)
        new = closure(sorted(old) + added, packages, providers)
        old_lines = [f"{p}={packages[p][BASE_SUITE]['Version']}" for p in sorted(old)]
        new_lines = []
        for name in sorted(new):
            version = packages[name][BASE_SUITE]["Version"]
            for suite in UPDATE_SUITES:
                update = packages[name].get(suite, {}).get("Version")
                if update and newer(update, version):
                    version = update
            new_lines.append(f"{name}={version}")
        for kind, lines in (("old", old_lines), ("new", new_lines)):
            (HERE / f"{image}.{kind}.txt").write_text("\n".join(lines) + "\n")
        changed = sorted(set(new_lines) - set(old_lines))
        print(f"{image}: {len(old_lines)} packages; {len(changed)} new or upgraded in new: "
              + " ".join(changed))


if __name__ == "__main__":
    main()
