"""Small helpers shared by the corpus fetcher and the image builder: commands, hashes, ELF facts."""

import hashlib
import json
import os
import subprocess
from pathlib import Path

BUFFER = 1 << 20
ELF_MACHINES = {0x03: "x86", 0x28: "arm", 0x3E: "x86-64", 0xB7: "aarch64"}


class CorpusError(Exception):
    """A download or a check failed; the message says which and why."""


def run(argv: list[str], cwd: Path | None = None, env: dict | None = None) -> str:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise CorpusError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(BUFFER):
            digest.update(chunk)
    return digest.hexdigest()


def elf_machine(path: Path) -> str | None:
    with open(path, "rb") as file:
        header = file.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    order = "little" if header[5] == 1 else "big"
    machine = int.from_bytes(header[18:20], order)
    return ELF_MACHINES.get(machine, f"e_machine {machine:#x}")


def describe_file(path: Path, corpus: Path) -> dict:
    facts = {"path": str(path.relative_to(corpus)), "size": path.stat().st_size,
             "sha256": sha256_file(path)}
    machine = elf_machine(path)
    if machine:
        facts["elf"] = machine
    return facts


def write_json(path: Path, value) -> None:
    """Atomic: a reader sees the old manifest or the new one, never half of one."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w") as file:
        json.dump(value, file, indent=2)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
