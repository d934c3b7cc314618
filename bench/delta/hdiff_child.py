#!/usr/bin/env python3
"""Runs one HDiffPatch operation through the PyPI `hdiffpatch` wheel, in its own process.

    hdiff_child.py diff lzma2|zstd OLD NEW OUT
    hdiff_child.py apply OLD DELTA OUT

A separate process so that the benchmark measures its time and peak memory like any CLI's.
"""

import sys
from pathlib import Path

import hdiffpatch

COMPRESSION = {
    # Windows big enough for the largest stream of our pairs, as a tool user would pick them.
    "lzma2": lambda: hdiffpatch.Lzma2Config(level=9, window=26, threads=1),
    "zstd": lambda: hdiffpatch.ZStdConfig(level=22, window=27, threads=1),
}


def main(argv: list[str]) -> int:
    if len(argv) == 5 and argv[0] == "diff" and argv[1] in COMPRESSION:
        _, compression, old, new, out = argv
        delta = hdiffpatch.diff(Path(old).read_bytes(), Path(new).read_bytes(),
                                COMPRESSION[compression](), validate=False)
        Path(out).write_bytes(delta)
        return 0
    if len(argv) == 4 and argv[0] == "apply":
        _, old, delta, out = argv
        Path(out).write_bytes(hdiffpatch.apply(Path(old).read_bytes(), Path(delta).read_bytes()))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
