"""Builds the filesystem-image pairs: a small Debian tree unpacked from pinned .debs, twice.

old = the packages of <name>.old.txt, new = those of <name>.new.txt (a few upgraded, a few
added; resolve-rootfs.py wrote both lists). Each tree is unpacked with `dpkg-deb -x` in the
lists' order (no maintainer scripts run: this is an image's bytes, not a bootable system) and
turned into an ext4 image of a fixed size with `mkfs.ext4 -d`, made reproducible: fixed UUID and
directory hash seed, E2FSPROGS_FAKE_TIME, the tree unpacked on tmpfs (whose directory order is
the creation order, the same on every machine), and every inode's atime and ctime (which
mkfs copies from the unpacked tree, i.e. from the clock) set to the same instant with debugfs.
"""

import os
import subprocess
import tempfile
from pathlib import Path

from corpus_util import CorpusError, describe_file, run, sha256_file, write_json

EPOCH = 1747699200  # 2025-05-20T00:00:00Z, the day of the Debian snapshot these lists come from
UUID = "2f0f1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"
IMAGE_NAME = "rootfs.ext4"
TREE_PARENT = Path("/dev/shm") if Path("/dev/shm").is_dir() else None


def read_list(path: Path) -> list[tuple[str, str]]:
    specs = []
    for line in path.read_text().split():
        name, _, version = line.partition("=")
        if not version:
            raise CorpusError(f"{path}: {line!r} is not name=version")
        specs.append((name, version))
    return specs


def build_image_pair(corpus: Path, deb_cache: Path, pair: str, size_mib: int,
                     old_list: Path, new_list: Path, download_debs, storage: Path) -> dict:
    """Writes <storage>/<pair>/{old,new}/rootfs.ext4 (corpus/<pair> links there if elsewhere)."""
    pair_dir = corpus / pair
    if storage != corpus:
        target = storage / pair
        target.mkdir(parents=True, exist_ok=True)
        if pair_dir.is_symlink() or not pair_dir.exists():
            pair_dir.unlink(missing_ok=True)
            pair_dir.symlink_to(target)
    lists = {"old": read_list(old_list), "new": read_list(new_list)}
    old_set, new_set = set(lists["old"]), set(lists["new"])
    entry = {
        "pair": pair, "kind": "image",
        "source": {
            "registry": "Debian (bookworm, bookworm-security, bookworm-updates)",
            "how": f"dpkg-deb -x of pinned .debs, mkfs.ext4 -d, {size_mib} MiB, 4 KiB blocks",
            "package_lists": [old_list.name, new_list.name],
            "new_or_upgraded": [f"{n}={v}" for n, v in sorted(new_set - old_set)],
            "old_versions_gone": [f"{n}={v}" for n, v in sorted(old_set - new_set)],
        },
    }
    for side, specs in lists.items():
        debs = download_debs(deb_cache, specs)
        if not debs:
            raise CorpusError(f"{pair}: empty package list")
        image = pair_dir / side / IMAGE_NAME
        image.parent.mkdir(parents=True, exist_ok=True)
        tree_bytes = build_image(debs, image, size_mib)
        list_path = old_list if side == "old" else new_list
        entry[side] = {
            "version": f"{len(specs)} packages of {list_path.name}",
            "package_list_sha256": sha256_file(list_path),
            "tree_bytes": tree_bytes,
            **describe_file(image, corpus),
        }
    write_json(pair_dir / "source.json", entry)
    return entry


def build_image(debs: list[Path], image: Path, size_mib: int) -> int:
    """Returns the unpacked tree's size in bytes (file contents)."""
    with tempfile.TemporaryDirectory(prefix="ota-rootfs-", dir=TREE_PARENT) as tree:
        for deb in debs:
            run(["dpkg-deb", "-x", str(deb), tree])
        tree_bytes = sum(os.lstat(os.path.join(d, f)).st_size
                         for d, _, files in os.walk(tree) for f in files)
        # A directory's mtime is when the last package wrote into it, i.e. the clock: pin it.
        for directory, _, _ in os.walk(tree):
            os.utime(directory, (EPOCH, EPOCH))
        env = {**os.environ, "E2FSPROGS_FAKE_TIME": str(EPOCH)}
        image.unlink(missing_ok=True)
        run(["mkfs.ext4", "-q", "-F", "-t", "ext4", "-b", "4096", "-I", "256", "-m", "0",
             "-L", "rootfs", "-U", UUID,
             "-E", f"hash_seed={UUID},root_owner=0:0,lazy_itable_init=0,nodiscard",
             "-d", tree, str(image), f"{size_mib}M"], env=env)
        fix_times(Path(tree), image, env)
    run(["e2fsck", "-f", "-n", str(image)])
    return tree_bytes


def fix_times(tree: Path, image: Path, env: dict) -> None:
    commands = []
    for directory, dirs, files in os.walk(tree):
        for name in ["", *dirs, *files]:
            inside = "/" + os.path.relpath(os.path.join(directory, name), tree)
            if name == "" and directory != str(tree):
                continue
            inside = "/" if inside == "/." else inside
            if '"' in inside or "\n" in inside:
                raise CorpusError(f"cannot quote {inside!r} for debugfs")
            for field in ("atime", "ctime"):
                commands.append(f'sif "{inside}" {field} @{EPOCH}\n')
    with tempfile.NamedTemporaryFile("w", suffix=".debugfs", dir=TREE_PARENT) as script:
        script.writelines(commands)
        script.flush()
        result = subprocess.run(["debugfs", "-w", "-f", script.name, str(image)], env=env,
                                capture_output=True, text=True)
    # debugfs exits 0 whatever happens; its only expected stderr line is its version banner.
    complaints = [line for line in result.stderr.splitlines() if not line.startswith("debugfs ")]
    if result.returncode != 0 or complaints:
        raise CorpusError(f"debugfs could not set times in {image}: {complaints[:5]}")
