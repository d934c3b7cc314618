#!/usr/bin/env python3
"""Fetches the delta benchmark's corpus: real consecutive releases of third-party binaries.

Every pair is an (old, new) file under $OTA_CORPUS (default /work/corpus):
  <pair>/old/<file>, <pair>/new/<file>, and <pair>/source.json saying where it came from.
Downloads are cached in $OTA_CORPUS/downloads and verified against the registry's checksums
(npm: the package's sha512 integrity; PyPI: pip checks the index's sha256, and the executable
is checked against the wheel's RECORD; Debian: apt checks the signed index's sha256, and the
.deb is checked against `apt-cache show` once more). Then it writes $OTA_CORPUS/manifest.json
and the READY-executables / READY-images markers.

    python3 bench/delta/fetch-corpus.py [--only executables|images] [--force]

Needs npm, pip, apt-get (after `apt-get update`), dpkg-deb, mkfs.ext4 and debugfs (e2fsprogs).
"""

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from corpus_images import build_image_pair
from corpus_util import CorpusError, describe_file, run, sha256_file, write_json

HERE = Path(__file__).resolve().parent

ESBUILD = ("0.28.1", "0.28.2")
ESBUILD_ARCHES = {"x86_64": "linux-x64", "aarch64": "linux-arm64", "armv7": "linux-arm"}
RUFF = ("0.17.5", "0.17.6")
RUFF_PLATFORMS = {
    "x86_64": "manylinux_2_17_x86_64",
    "aarch64": "manylinux_2_17_aarch64",
    "armv7": "manylinux_2_17_armv7l",
}
# (pair, Debian package, old version, new version, file inside the package)
DEBIAN = [
    ("libcrypto-x86_64", "libssl3", "3.0.20-1~deb12u2", "3.0.22-1~deb12u2",
     "usr/lib/x86_64-linux-gnu/libcrypto.so.3"),
    ("libsystemd-shared-x86_64", "libsystemd-shared", "252.38-1~deb12u1", "252.39-1~deb12u2",
     "usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so"),
]
# (pair, image size in MiB, package lists in this directory)
IMAGES = [("rootfs-160m", 160, "rootfs-160m"), ("rootfs-288m", 288, "rootfs-288m")]


def npm_pair(corpus: Path, downloads: Path, arch: str, npm_arch: str) -> dict:
    package = f"@esbuild/{npm_arch}"
    sides = {}
    for side, version in zip(("old", "new"), ESBUILD):
        tarball = npm_pack(downloads / "npm", package, version)
        with tarfile.open(tarball) as archive:
            data = archive.extractfile("package/bin/esbuild").read()
        sides[side] = (version, data)
    return install_pair(corpus, f"esbuild-{arch}", "esbuild", sides, {
        "registry": "npm", "package": package, "member": "package/bin/esbuild",
        "built_by": "Go, statically linked",
    })


def npm_pack(cache: Path, package: str, version: str) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    integrity = run(["npm", "view", f"{package}@{version}", "dist.integrity"]).strip()
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise CorpusError(f"{package}@{version}: unexpected integrity {integrity!r}")
    name = package.lstrip("@").replace("/", "-") + f"-{version}.tgz"
    tarball = cache / name
    if not tarball.exists():
        run(["npm", "pack", f"{package}@{version}", "--pack-destination", str(cache)],
            cwd=cache)
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != expected:
        tarball.unlink()
        raise CorpusError(f"{tarball}: sha512 does not match the registry's integrity")
    return tarball


def pypi_pair(corpus: Path, downloads: Path, arch: str, platform: str) -> dict:
    sides = {}
    for side, version in zip(("old", "new"), RUFF):
        wheel = pip_download(downloads / "pypi", "ruff", version, platform)
        member = f"ruff-{version}.data/scripts/ruff"
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(member)
            record = archive.read(f"ruff-{version}.dist-info/RECORD").decode()
        check_record(wheel, record, member, data)
        sides[side] = (version, data)
    return install_pair(corpus, f"ruff-{arch}", "ruff", sides, {
        "registry": "PyPI", "package": "ruff", "platform": platform,
        "member": "ruff-<version>.data/scripts/ruff", "built_by": "Rust, LTO",
    })


def pip_download(cache: Path, project: str, version: str, platform: str) -> Path:
    """pip verifies the download against the sha256 the index publishes for the file."""
    cache.mkdir(parents=True, exist_ok=True)
    arch = platform.split("_", 3)[-1]
    found = sorted(cache.glob(f"{project}-{version}-*{arch}*.whl"))
    if not found:
        run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary=:all:", "--platform", platform, "--dest", str(cache),
             f"{project}=={version}"])
        found = sorted(cache.glob(f"{project}-{version}-*{arch}*.whl"))
    if len(found) != 1:
        raise CorpusError(f"expected one {project} {version} wheel for {platform}: {found}")
    return found[0]


def check_record(wheel: Path, record: str, member: str, data: bytes) -> None:
    for row in csv.reader(io.StringIO(record)):
        if row and row[0] == member:
            expected = row[1].removeprefix("sha256=")
            actual = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
            if actual != expected:
                raise CorpusError(f"{wheel}: {member} does not match the wheel's RECORD")
            return
    raise CorpusError(f"{wheel}: {member} missing from RECORD")


def debian_pair(corpus: Path, downloads: Path, pair: str, package: str, old: str, new: str,
                member: str) -> dict:
    sides = {}
    for side, version in (("old", old), ("new", new)):
        deb = apt_download(downloads / "deb", package, version)
        with tempfile.TemporaryDirectory(dir=corpus) as tree:
            run(["dpkg-deb", "-x", str(deb), tree])
            data = (Path(tree) / member).read_bytes()
        sides[side] = (version, data)
    return install_pair(corpus, pair, Path(member).name, sides, {
        "registry": "Debian (bookworm, bookworm-security, bookworm-updates)",
        "package": package, "member": member, "built_by": "gcc, Debian's flags",
    })


def apt_download(cache: Path, package: str, version: str) -> Path:
    return apt_download_many(cache, [(package, version)])[0]


def apt_download_many(cache: Path, specs: list[tuple[str, str]]) -> list[Path]:
    """apt verifies each .deb against the signed index; checked again here against apt-cache.

    One apt-cache and one apt-get call for the whole list: apt's start-up dominates otherwise.
    """
    cache.mkdir(parents=True, exist_ok=True)
    wanted = [f"{package}={version}" for package, version in specs]
    show = run(["apt-cache", "show", "--no-all-versions", *wanted])
    stanzas = {}
    for block in show.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "SHA256" in fields:
            stanzas[(fields["Package"], fields["Version"])] = fields
    missing = [s for s in specs if s not in stanzas]
    if missing:
        raise CorpusError(f"not in apt's lists (run apt-get update?): {missing}")
    debs = [cache / Path(stanzas[s]["Filename"]).name for s in specs]
    todo = [f"{p}={v}" for (p, v), deb in zip(specs, debs)
            if not deb.exists() or sha256_file(deb) != stanzas[(p, v)]["SHA256"]]
    if todo:
        run(["apt-get", "download", "-q", *todo], cwd=cache)
    for (package, version), deb in zip(specs, debs):
        fields = stanzas[(package, version)]
        # apt-get names the file after the version with its epoch ("1%3a2.38"), the pool not.
        saved = cache / f"{package}_{version.replace(':', '%3a')}_{fields['Architecture']}.deb"
        if saved != deb and saved.exists():
            saved.replace(deb)
        if sha256_file(deb) != fields["SHA256"]:
            raise CorpusError(f"{deb}: sha256 does not match apt's index")
    return debs


def install_pair(corpus: Path, pair: str, file_name: str, sides: dict, source: dict) -> dict:
    """Writes <pair>/{old,new}/<file_name> and returns the pair's manifest entry."""
    entry = {"pair": pair, "kind": "executable", "source": source}
    for side, (version, data) in sides.items():
        directory = corpus / pair / side
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / file_name
        path.write_bytes(data)
        entry[side] = {"version": version, **describe_file(path, corpus)}
    write_json(corpus / pair / "source.json", entry)
    return entry


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path,
                        default=Path(os.environ.get("OTA_CORPUS", "/work/corpus")))
    parser.add_argument("--images-dir", type=Path,
                        help="where the image pairs' files go (default: the corpus; when set, "
                        "<corpus>/<pair> is a symlink there, e.g. to tmpfs on a full disk)")
    parser.add_argument("--only", choices=("executables", "images"))
    parser.add_argument("--force", action="store_true", help="rebuild pairs that exist")
    args = parser.parse_args()
    corpus = args.corpus.resolve()
    downloads = corpus / "downloads"
    corpus.mkdir(parents=True, exist_ok=True)
    manifest_path = corpus / "manifest.json"
    previous = {}
    if manifest_path.exists():
        previous = {e["pair"]: e for e in json.loads(manifest_path.read_text())["pairs"]}

    def keep(pair: str) -> dict | None:
        if args.force or pair not in previous:
            return None
        return previous[pair] if (corpus / pair / "source.json").exists() else None

    entries = dict(previous)
    try:
        if args.only != "images":
            for arch, npm_arch in ESBUILD_ARCHES.items():
                pair = f"esbuild-{arch}"
                entries[pair] = keep(pair) or npm_pair(corpus, downloads, arch, npm_arch)
            for arch, platform in RUFF_PLATFORMS.items():
                pair = f"ruff-{arch}"
                entries[pair] = keep(pair) or pypi_pair(corpus, downloads, arch, platform)
            for pair, *rest in DEBIAN:
                entries[pair] = keep(pair) or debian_pair(corpus, downloads, pair, *rest)
            save_manifest(manifest_path, entries)
            (corpus / "READY-executables").write_text("executable pairs are in place\n")
            print(f"executables ready in {corpus}")
        if args.only != "executables":
            for pair, size_mib, lists in IMAGES:
                storage = (args.images_dir or corpus).resolve()
                entries[pair] = keep(pair) or build_image_pair(
                    corpus, storage / "downloads" / "deb", pair, size_mib,
                    HERE / f"{lists}.old.txt", HERE / f"{lists}.new.txt", apt_download_many,
                    storage)
                save_manifest(manifest_path, entries)
            (corpus / "READY-images").write_text("filesystem-image pairs are in place\n")
            print(f"images ready in {corpus}")
    except (CorpusError, OSError, subprocess.CalledProcessError, KeyError,
            zipfile.BadZipFile, tarfile.TarError) as error:
        print(f"fetch-corpus: {error}", file=sys.stderr)
        return 1
    return 0


def save_manifest(path: Path, entries: dict) -> None:
    order = [f"esbuild-{a}" for a in ESBUILD_ARCHES] + [f"ruff-{a}" for a in RUFF_PLATFORMS]
    order += [d[0] for d in DEBIAN] + [i[0] for i in IMAGES]
    pairs = [entries[p] for p in order if p in entries]
    write_json(path, {"corpus": str(path.parent), "pairs": pairs})


if __name__ == "__main__":
    sys.exit(main())
