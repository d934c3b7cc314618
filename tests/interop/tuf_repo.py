"""A TUF repository built with python-tuf's Metadata API (`tuf.api.metadata`) and
`securesystemslib.signer.CryptoSigner`, kept in memory as the files it serves.

`build()` makes the genuine repository: ed25519, ECDSA and RSA keys; root v1 -> v2 -> v3,
each signed by a threshold of the old and of the new root keys (v2 also rotates the timestamp
key); targets v1, then targets v2 delegating to "firmware" (paths "firmware/*", which
delegates on to the terminating "firmware-beta" by path_hash_prefixes) and to "team a/b?x"
(a role name that needs URL quoting); target names with spaces and non-ASCII letters.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

NOW = datetime.now(timezone.utc).replace(microsecond=0)
EXPIRES = NOW + timedelta(days=365)
TEAM_ROLE = "team a/b?x"
README = "readme.txt"
FIRMWARE_TARGET = "firmware/caméra 1.0.bin"
BETA_TARGET = "firmware/beta-ß 2.0.bin"
TEAM_TARGET = "shared/日本語 notes.txt"


@dataclass
class Repository:
    """Everything a repository serves, by on-disk path, plus what signs what."""

    consistent: bool
    keys: dict = field(default_factory=dict)  # key name -> CryptoSigner
    role_keys: dict = field(default_factory=dict)  # role -> key name that signs it now
    metadata: dict = field(default_factory=dict)  # file under metadata/ -> bytes
    target_files: dict = field(default_factory=dict)  # file under targets/ -> bytes
    signed: dict = field(default_factory=dict)  # role -> newest Signed
    history: dict = field(default_factory=dict)  # (role, version) -> bytes
    contents: dict = field(default_factory=dict)  # target name -> bytes
    roles_of_targets: dict = field(default_factory=dict)  # target name -> role


# --- keys and signing -------------------------------------------------------------------


def new_keys() -> dict:
    return {
        "root-ed25519": CryptoSigner.generate_ed25519(),
        "root-ecdsa": CryptoSigner.generate_ecdsa(),
        "root-rsa": CryptoSigner.generate_rsa(),
        "root-ed25519-v2": CryptoSigner.generate_ed25519(),
        "root-rsa-v3": CryptoSigner.generate_rsa(),
        "timestamp-v1": CryptoSigner.generate_ed25519(),
        "timestamp-v2": CryptoSigner.generate_ed25519(),
        "snapshot": CryptoSigner.generate_rsa(),
        "targets": CryptoSigner.generate_ecdsa(),
        "firmware": CryptoSigner.generate_ed25519(),
        "firmware-beta": CryptoSigner.generate_rsa(),
        "team": CryptoSigner.generate_ecdsa(),
    }


def sign(signed, *signers) -> Metadata:
    metadata = Metadata(signed)
    for signer in signers:
        metadata.sign(signer, append=True)
    return metadata


def metadata_file(repo: Repository, role: str, version: int) -> str:
    if role == "root":
        return f"{version}.root.json"
    if role == "timestamp" or not repo.consistent:
        return f"{role}.json"
    return f"{version}.{role}.json"


def publish(repo: Repository, role: str, metadata: Metadata) -> bytes:
    """Serialises signed metadata and serves it under the role's file name."""
    data = metadata.to_bytes()
    repo.metadata[metadata_file(repo, role, metadata.signed.version)] = data
    repo.signed[role] = metadata.signed
    repo.history[(role, metadata.signed.version)] = data
    return data


def publish_role(repo: Repository, role: str, signed) -> bytes:
    return publish(repo, role, sign(signed, repo.keys[repo.role_keys[role]]))


# --- root ---------------------------------------------------------------------------------


def root(repo: Repository, version: int, root_keys: list, timestamp_key: str) -> Root:
    signed = Root(version=version, expires=EXPIRES, consistent_snapshot=repo.consistent)
    for name in root_keys:
        signed.add_key(repo.keys[name].public_key, "root")
    signed.roles["root"].threshold = 2
    signed.add_key(repo.keys[timestamp_key].public_key, "timestamp")
    signed.add_key(repo.keys["snapshot"].public_key, "snapshot")
    signed.add_key(repo.keys["targets"].public_key, "targets")
    return signed


def publish_roots(repo: Repository) -> None:
    """v1 -> v2 (new ed25519 root key, new timestamp key) -> v3 (new RSA root key).

    Each new root carries signatures from exactly a threshold (2) of the old root keys and of
    the new ones, some keys counting for both, so a client must count each version apart.
    """
    v1 = ["root-ed25519", "root-ecdsa", "root-rsa"]
    v2 = ["root-ed25519-v2", "root-ecdsa", "root-rsa"]
    v3 = ["root-ed25519-v2", "root-ecdsa", "root-rsa-v3"]
    chain = [
        (root(repo, 1, v1, "timestamp-v1"), ["root-ed25519", "root-ecdsa"]),
        (root(repo, 2, v2, "timestamp-v2"), ["root-ed25519", "root-ecdsa", "root-ed25519-v2"]),
        (root(repo, 3, v3, "timestamp-v2"), ["root-rsa", "root-ecdsa", "root-rsa-v3"]),
    ]
    for signed, signers in chain:
        publish(repo, "root", sign(signed, *(repo.keys[name] for name in signers)))
    repo.role_keys.update(timestamp="timestamp-v2", snapshot="snapshot", targets="targets")


# --- targets and delegations -------------------------------------------------------------


def target_path(repo: Repository, name: str, data: bytes) -> str:
    if not repo.consistent:
        return name
    directory, slash, base = name.rpartition("/")
    return f"{directory}{slash}{hashlib.sha256(data).hexdigest()}.{base}"


def add_target(repo: Repository, role: str, name: str, data: bytes) -> None:
    """Lists a target in `role` (not yet re-signed) and serves its file."""
    repo.signed[role].targets[name] = TargetFile.from_data(name, data)
    repo.target_files[target_path(repo, name, data)] = data
    repo.contents[name] = data
    repo.roles_of_targets[name] = role


def delegate(repo: Repository, delegator: str, role: str, key_name: str, **how) -> None:
    """Delegates to `role`, signed by one key; `how`: terminating, paths or path_hash_prefixes."""
    key = repo.keys[key_name]
    signed = repo.signed[delegator]
    if signed.delegations is None:
        signed.delegations = Delegations(keys={}, roles={})
    signed.delegations.keys[key.public_key.keyid] = key.public_key
    terminating = how.pop("terminating", False)
    signed.delegations.roles[role] = DelegatedRole(
        role, [key.public_key.keyid], 1, terminating, **how
    )
    repo.role_keys[role] = key_name
    repo.signed[role] = Targets(version=1, expires=EXPIRES)


def publish_first_targets(repo: Repository) -> None:
    repo.signed["targets"] = Targets(version=1, expires=EXPIRES)
    add_target(repo, "targets", README, b"readme, first release\n")
    publish_role(repo, "targets", repo.signed["targets"])
    publish_snapshot_and_timestamp(repo)


def publish_delegations(repo: Repository) -> None:
    beta_prefix = hashlib.sha256(BETA_TARGET.encode()).hexdigest()[:2]
    delegate(repo, "targets", "firmware", "firmware", paths=["firmware/*"])
    delegate(repo, "targets", TEAM_ROLE, "team", paths=["shared/*"])
    delegate(
        repo,
        "firmware",
        "firmware-beta",
        "firmware-beta",
        terminating=True,
        path_hash_prefixes=[beta_prefix],
    )
    add_target(repo, "targets", "docs/release notes.txt", "Grüße, first notes\n".encode())
    add_target(repo, "firmware", FIRMWARE_TARGET, bytes(range(256)) * 16)
    add_target(repo, "firmware-beta", BETA_TARGET, bytes(reversed(range(256))) * 8 + b"beta")
    add_target(repo, TEAM_ROLE, TEAM_TARGET, "チームのメモ\n".encode())
    for role in ["firmware-beta", "firmware", TEAM_ROLE]:
        publish_role(repo, role, repo.signed[role])
    repo.signed["targets"].version += 1
    publish_role(repo, "targets", repo.signed["targets"])
    publish_snapshot_and_timestamp(repo)


# --- snapshot and timestamp --------------------------------------------------------------


def next_snapshot(repo: Repository, omit=()) -> Snapshot:
    """Lists every targets role at its newest version; firmware-beta with length and hash."""
    meta = {}
    for role, signed in repo.signed.items():
        if isinstance(signed, Targets) and role not in omit:
            meta[f"{role}.json"] = MetaFile(signed.version)
    if "firmware-beta" in repo.signed:
        data = repo.history[("firmware-beta", repo.signed["firmware-beta"].version)]
        meta["firmware-beta.json"] = MetaFile.from_data(
            repo.signed["firmware-beta"].version, data, ["sha256"]
        )
    version = repo.signed["snapshot"].version + 1 if "snapshot" in repo.signed else 1
    return Snapshot(version=version, expires=EXPIRES, meta=meta)


def next_timestamp(repo: Repository, snapshot: bytes, hashes=True) -> Timestamp:
    version = repo.signed["timestamp"].version + 1 if "timestamp" in repo.signed else 1
    snapshot_version = repo.signed["snapshot"].version
    meta = MetaFile.from_data(snapshot_version, snapshot, ["sha256"])
    if not hashes:
        meta.hashes = None
    return Timestamp(version=version, expires=EXPIRES, snapshot_meta=meta)


def publish_snapshot_and_timestamp(repo: Repository) -> None:
    snapshot = publish_role(repo, "snapshot", next_snapshot(repo))
    publish_role(repo, "timestamp", next_timestamp(repo, snapshot))


def release_new_readme(repo: Repository) -> None:
    """The release engineer's genuine next release: targets v+1 with a new readme."""
    add_target(repo, "targets", README, b"readme, second release\n")
    repo.signed["targets"].version += 1
    publish_role(repo, "targets", repo.signed["targets"])


def build(consistent: bool) -> Repository:
    repo = Repository(consistent, keys=new_keys())
    publish_roots(repo)
    publish_first_targets(repo)
    publish_delegations(repo)
    return repo
