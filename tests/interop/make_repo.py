#!/usr/bin/env python3
"""Builds a TUF repository with python-tuf, the reference implementation, for the interop
tests (tests/tests/interop.rs).

    make_repo.py OUT [--variant V] [--no-consistent-snapshot] [--list-variants]

The repository is described in tuf_repo.py, the variants in variants.py.

OUT/metadata/ and OUT/targets/ hold the files exactly as a static web server serves them:
a file's path on disk is its percent-decoded URL path, so role "team a/b?x", fetched as
`1.team%20a%2Fb%3Fx.json`, is the file `1.team a/b?x.json`. OUT/initial_root.json is root v1,
OUT/expected.json describes the repository (targets and their contents, what a client
stores as trusted metadata).

With --variant V, OUT/before/ holds the genuine repository and OUT/metadata/, OUT/targets/
its next publication with one defect that a conforming client must refuse (variants.py);
expected.json then describes the genuine repository plus the attack.
"""

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import quote

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__

from tuf_repo import Repository, build, metadata_file  # noqa: E402
from variants import VARIANTS  # noqa: E402


def write_tree(directory: Path, files: dict) -> None:
    for name, data in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def write_repository(directory: Path, metadata: dict, target_files: dict) -> None:
    write_tree(directory / "metadata", metadata)
    write_tree(directory / "targets", target_files)


def describe(repo: Repository) -> dict:
    """What a client that trusts this repository holds, for the Rust side."""
    trusted = {
        role: {
            "file": f"{quote(role, safe='')}.json",
            "version": signed.version,
            "served": metadata_file(repo, role, signed.version),
        }
        for role, signed in repo.signed.items()
    }
    targets = [
        {"name": name, "role": repo.roles_of_targets[name], "hex": data.hex()}
        for name, data in sorted(repo.contents.items())
    ]
    return {"consistent_snapshot": repo.consistent, "trusted": trusted, "targets": targets}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?")
    parser.add_argument("--variant", choices=sorted(VARIANTS))
    parser.add_argument("--no-consistent-snapshot", action="store_true")
    parser.add_argument("--list-variants", action="store_true")
    args = parser.parse_args()
    if args.list_variants:
        print("\n".join(VARIANTS))
        return 0
    if args.out is None:
        parser.error("OUT is required")

    repo = build(consistent=not args.no_consistent_snapshot)
    expected = describe(repo)
    (args.out).mkdir(parents=True, exist_ok=True)
    (args.out / "initial_root.json").write_bytes(repo.history[("root", 1)])
    if args.variant:
        write_repository(args.out / "before", repo.metadata, repo.target_files)
        expected["attack"] = {"variant": args.variant, **VARIANTS[args.variant](repo)}
        if expected["attack"]["role"] is not None:
            expected["attack"]["file"] = expected["trusted"][expected["attack"]["role"]]["file"]
    write_repository(args.out, repo.metadata, repo.target_files)
    (args.out / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
