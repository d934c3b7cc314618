"""Tampered variants of a genuine repository (tuf_repo.build()): each is the repository's
next publication with one defect that a conforming client must refuse. Each returns what
the test asks the client for and what must stay as it was."""

from datetime import timedelta

from securesystemslib.signer import CryptoSigner

from tuf_repo import (
    FIRMWARE_TARGET,
    NOW,
    README,
    TEAM_ROLE,
    TEAM_TARGET,
    Repository,
    add_target,
    metadata_file,
    next_snapshot,
    next_timestamp,
    publish,
    publish_role,
    publish_snapshot_and_timestamp,
    release_new_readme,
    root,
    sign,
    target_path,
)

# Bigger than any sane snapshot, small enough to write quickly.
OVERSIZE_PADDING = 4 * 1024 * 1024

def attack(target: str, role, refresh_fails: bool) -> dict:
    """What the test asks for, which role's trusted file must stay, whether refresh fails."""
    return {"target": target, "role": role, "refresh_fails": refresh_fails}


def target_byte_flipped(repo: Repository) -> dict:
    """No new metadata; one byte of a (delegated, quoted) target's file is flipped."""
    path = target_path(repo, FIRMWARE_TARGET, repo.contents[FIRMWARE_TARGET])
    data = bytearray(repo.target_files[path])
    data[len(data) // 2] ^= 0x01
    repo.target_files[path] = bytes(data)
    return attack(FIRMWARE_TARGET, None, False)


def timestamp_unknown_key(repo: Repository) -> dict:
    """A new timestamp signed by a key the root does not list for timestamp."""
    release_new_readme(repo)
    snapshot = publish_role(repo, "snapshot", next_snapshot(repo))
    forged = sign(next_timestamp(repo, snapshot), CryptoSigner.generate_ed25519())
    publish(repo, "timestamp", forged)
    return attack(README, "timestamp", True)


def snapshot_expired(repo: Repository) -> dict:
    """A correctly signed new snapshot that expired yesterday."""
    release_new_readme(repo)
    signed = next_snapshot(repo)
    signed.expires = NOW - timedelta(days=1)
    snapshot = publish_role(repo, "snapshot", signed)
    publish_role(repo, "timestamp", next_timestamp(repo, snapshot))
    return attack(README, "snapshot", True)


def delegated_wrong_key(repo: Repository) -> dict:
    """firmware v2 pointing at other bytes, signed by a key firmware is not delegated to;
    snapshot and timestamp (the online keys, held by a compromised server) list it."""
    add_target(repo, "firmware", FIRMWARE_TARGET, b"not the firmware the engineer signed")
    repo.signed["firmware"].version += 1
    publish(repo, "firmware", sign(repo.signed["firmware"], CryptoSigner.generate_ed25519()))
    publish_snapshot_and_timestamp(repo)
    return attack(FIRMWARE_TARGET, "firmware", False)


def root_missing_old_threshold(repo: Repository) -> dict:
    """Root v4 with all-new root and timestamp keys, signed by every new root key but only
    one of root v3's (threshold 2)."""
    new = {name: CryptoSigner.generate_ed25519() for name in ["root-4a", "root-4b", "root-4c"]}
    new["timestamp-v4"] = CryptoSigner.generate_ed25519()
    repo.keys.update(new)
    signed = root(repo, 4, ["root-4a", "root-4b", "root-4c"], "timestamp-v4")
    signers = [repo.keys[name] for name in ["root-4a", "root-4b", "root-4c", "root-ecdsa"]]
    publish(repo, "root", sign(signed, *signers))
    repo.role_keys["timestamp"] = "timestamp-v4"
    release_new_readme(repo)
    publish_snapshot_and_timestamp(repo)
    return attack(README, "root", True)


def snapshot_omits_delegated_role(repo: Repository) -> dict:
    """A new snapshot that no longer lists a role the trusted snapshot lists."""
    release_new_readme(repo)
    snapshot = publish_role(repo, "snapshot", next_snapshot(repo, omit=[TEAM_ROLE]))
    publish_role(repo, "timestamp", next_timestamp(repo, snapshot))
    return attack(TEAM_TARGET, "snapshot", True)


def targets_rolled_back(repo: Repository) -> dict:
    """Snapshot lists targets v3; the file served as targets v3 is the signed targets v1."""
    release_new_readme(repo)
    publish_snapshot_and_timestamp(repo)
    served = metadata_file(repo, "targets", repo.signed["targets"].version)
    repo.metadata[served] = repo.history[("targets", 1)]
    return attack(README, "targets", True)


def snapshot_hash_mismatch(repo: Repository) -> dict:
    """The timestamp's snapshot hash is of another snapshot of the same version and length,
    also correctly signed (it expires one second later)."""
    release_new_readme(repo)
    signed = next_snapshot(repo)
    genuine = publish_role(repo, "snapshot", signed)
    publish_role(repo, "timestamp", next_timestamp(repo, genuine))
    signed.expires += timedelta(seconds=1)
    other = sign(signed, repo.keys["snapshot"]).to_bytes()
    assert len(other) == len(genuine) and other != genuine
    repo.metadata[metadata_file(repo, "snapshot", signed.version)] = other
    return attack(README, "snapshot", True)


def oversized_snapshot(repo: Repository) -> dict:
    """The timestamp pins the snapshot's length (no hash); the served snapshot is the genuine
    one followed by megabytes of whitespace: still valid JSON with a valid signature."""
    release_new_readme(repo)
    genuine = publish_role(repo, "snapshot", next_snapshot(repo))
    publish_role(repo, "timestamp", next_timestamp(repo, genuine, hashes=False))
    name = metadata_file(repo, "snapshot", repo.signed["snapshot"].version)
    repo.metadata[name] = genuine + b" " * OVERSIZE_PADDING
    return attack(README, "snapshot", True)


VARIANTS = {
    "target-byte-flipped": target_byte_flipped,
    "timestamp-unknown-key": timestamp_unknown_key,
    "snapshot-expired": snapshot_expired,
    "delegated-wrong-key": delegated_wrong_key,
    "root-missing-old-threshold": root_missing_old_threshold,
    "snapshot-omits-delegated-role": snapshot_omits_delegated_role,
    "targets-rolled-back": targets_rolled_back,
    "snapshot-hash-mismatch": snapshot_hash_mismatch,
    "oversized-snapshot": oversized_snapshot,
}
