#!/usr/bin/env python3
"""Downloads targets from a TUF repository with python-tuf's ngclient, for the interop tests
(tests/tests/interop.rs): can the reference client use what our server publishes?

    ngclient_download.py --root ROOT_FILE --metadata-url URL --targets-url URL \
        --metadata-dir DIR --out DIR TARGET_NAME...

Trusts ROOT_FILE as the initial root, refreshes, and stores each verified target in --out
under its URL-quoted name. Exits 0 only if every target was found, downloaded and verified;
otherwise prints why on stderr and exits 1.
"""

import argparse
import sys
from pathlib import Path
from urllib.parse import quote

from tuf.api.exceptions import RepositoryError
from tuf.ngclient import Updater


def download(args: argparse.Namespace) -> None:
    args.metadata_dir.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    updater = Updater(
        metadata_dir=str(args.metadata_dir),
        metadata_base_url=args.metadata_url,
        target_base_url=args.targets_url,
        target_dir=str(args.out),
        bootstrap=args.root.read_bytes(),
    )
    updater.refresh()
    for name in args.target_names:
        info = updater.get_targetinfo(name)
        if info is None:
            raise RepositoryError(f"target {name!r} is not in the repository")
        path = updater.download_target(info, str(args.out / quote(name, safe="")))
        print(f"{name}: {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--metadata-url", required=True)
    parser.add_argument("--targets-url", required=True)
    parser.add_argument("--metadata-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("target_names", nargs="+")
    args = parser.parse_args()
    try:
        download(args)
    except Exception as error:  # every failure, network or verification, is a refusal
        print(f"ngclient_download: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
