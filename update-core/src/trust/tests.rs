use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::*;
use crate::keys::SigningKey;
use crate::schema::{MetaFile, Snapshot, Targets, Timestamp};
use crate::sign::{add_signature, sign_metadata};

/// A small repository with one key per top-level role, signed on demand.
struct Fixture {
    root_key: SigningKey,
    targets_key: SigningKey,
    snapshot_key: SigningKey,
    timestamp_key: SigningKey,
    root: Root,
    now: DateTime<Utc>,
}

impl Fixture {
    fn new() -> Self {
        let now = crate::schema::whole_seconds(Utc::now());
        let (root_key, targets_key, snapshot_key, timestamp_key) = (
            SigningKey::generate(),
            SigningKey::generate(),
            SigningKey::generate(),
            SigningKey::generate(),
        );
        let mut root = Root::new(1, now + Duration::days(365));
        root.add_role_key(RoleType::Root, root_key.public_key().clone())
            .unwrap();
        root.add_role_key(RoleType::Targets, targets_key.public_key().clone())
            .unwrap();
        root.add_role_key(RoleType::Snapshot, snapshot_key.public_key().clone())
            .unwrap();
        root.add_role_key(RoleType::Timestamp, timestamp_key.public_key().clone())
            .unwrap();
        Fixture {
            root_key,
            targets_key,
            snapshot_key,
            timestamp_key,
            root,
            now,
        }
    }

    fn root_bytes(&self) -> Vec<u8> {
        sign_metadata(&self.root, &[&self.root_key])
            .unwrap()
            .to_bytes()
            .unwrap()
    }

    fn targets(&self, version: u64) -> Vec<u8> {
        let targets = Targets::new(version, self.now + Duration::days(30));
        sign_metadata(&targets, &[&self.targets_key])
            .unwrap()
            .to_bytes()
            .unwrap()
    }

    fn snapshot(&self, version: u64, targets_version: u64) -> Vec<u8> {
        let meta = [("targets.json".to_string(), MetaFile::new(targets_version))].into();
        let snapshot = Snapshot::new(version, self.now + Duration::days(7), meta);
        sign_metadata(&snapshot, &[&self.snapshot_key])
            .unwrap()
            .to_bytes()
            .unwrap()
    }

    fn timestamp_with(
        &self,
        version: u64,
        snapshot: &[u8],
        snapshot_version: u64,
        expires: DateTime<Utc>,
        key: &SigningKey,
    ) -> Vec<u8> {
        let timestamp = Timestamp::new(
            version,
            expires,
            MetaFile::describing(snapshot_version, snapshot),
        );
        sign_metadata(&timestamp, &[key])
            .unwrap()
            .to_bytes()
            .unwrap()
    }

    fn timestamp(&self, version: u64, snapshot: &[u8], snapshot_version: u64) -> Vec<u8> {
        self.timestamp_with(
            version,
            snapshot,
            snapshot_version,
            self.now + Duration::days(1),
            &self.timestamp_key,
        )
    }

    fn trusted(&self) -> TrustedMetadata {
        TrustedMetadata::new(&self.root_bytes(), self.now).unwrap()
    }
}

#[test]
fn full_refresh_succeeds() {
    let f = Fixture::new();
    let targets = f.targets(1);
    let snapshot = f.snapshot(1, 1);
    let timestamp = f.timestamp(1, &snapshot, 1);
    let mut trusted = f.trusted();
    trusted.update_timestamp(&timestamp).unwrap();
    trusted.update_snapshot(&snapshot, false).unwrap();
    trusted.update_targets(&targets).unwrap();
    assert_eq!(trusted.targets().unwrap().version, 1);
}

#[test]
fn wrong_key_is_refused() {
    let f = Fixture::new();
    let snapshot = f.snapshot(1, 1);
    let forged = f.timestamp_with(
        1,
        &snapshot,
        1,
        f.now + Duration::days(1),
        &SigningKey::generate(),
    );
    let err = f.trusted().update_timestamp(&forged).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ThresholdNotMet {
                valid: 0,
                threshold: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn key_of_another_role_is_refused() {
    let f = Fixture::new();
    let snapshot = f.snapshot(1, 1);
    let forged = f.timestamp_with(1, &snapshot, 1, f.now + Duration::days(1), &f.targets_key);
    assert!(matches!(
        f.trusted().update_timestamp(&forged),
        Err(Error::ThresholdNotMet { .. })
    ));
}

#[test]
fn expired_timestamp_is_refused_but_kept_for_rollback_checks() {
    let f = Fixture::new();
    let snapshot = f.snapshot(1, 1);
    let expired = f.timestamp_with(
        1,
        &snapshot,
        1,
        f.now - Duration::seconds(1),
        &f.timestamp_key,
    );
    let mut trusted = f.trusted();
    assert!(matches!(
        trusted.update_timestamp(&expired),
        Err(Error::Expired { .. })
    ));
    assert!(matches!(
        trusted.update_snapshot(&snapshot, false),
        Err(Error::Expired { .. })
    ));
    assert_eq!(trusted.timestamp().unwrap().version, 1);
}

#[test]
fn timestamp_and_snapshot_versions_cannot_go_back() {
    let f = Fixture::new();
    let snapshot_v2 = f.snapshot(2, 1);
    let snapshot_v1 = f.snapshot(1, 1);
    let mut trusted = f.trusted();
    trusted
        .update_timestamp(&f.timestamp(5, &snapshot_v2, 2))
        .unwrap();
    let older = f.timestamp(4, &snapshot_v2, 2);
    assert!(matches!(
        trusted.update_timestamp(&older),
        Err(Error::VersionRollback {
            trusted: 5,
            new: 4,
            ..
        })
    ));
    let same = f.timestamp(5, &snapshot_v2, 2);
    assert!(matches!(
        trusted.update_timestamp(&same),
        Err(Error::EqualVersion { .. })
    ));
    let snapshot_back = f.timestamp(6, &snapshot_v1, 1);
    let err = trusted.update_timestamp(&snapshot_back).unwrap_err();
    assert!(
        matches!(
            err,
            Error::VersionRollback {
                trusted: 2,
                new: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn snapshot_must_match_timestamp_hash_and_length() {
    let f = Fixture::new();
    let snapshot = f.snapshot(1, 1);
    let mut trusted = f.trusted();
    trusted
        .update_timestamp(&f.timestamp(1, &snapshot, 1))
        .unwrap();
    let other = f.snapshot(1, 2);
    let err = trusted.update_snapshot(&other, false).unwrap_err();
    assert!(
        matches!(
            err,
            Error::HashMismatch { .. } | Error::LengthMismatch { .. }
        ),
        "{err}"
    );
    let mut longer = snapshot.clone();
    longer.push(b' ');
    assert!(matches!(
        trusted.update_snapshot(&longer, false),
        Err(Error::LengthMismatch { .. })
    ));
    trusted.update_snapshot(&snapshot, false).unwrap();
}

#[test]
fn snapshot_cannot_roll_back_targets() {
    // The order of a real refresh: stored timestamp, new timestamp, stored snapshot
    // (kept for rollback checks even though the new timestamp names a newer one), new one.
    let f = Fixture::new();
    let stored_snapshot = f.snapshot(1, 3);
    let replay = f.snapshot(2, 2);
    let mut trusted = f.trusted();
    trusted
        .update_timestamp(&f.timestamp(1, &stored_snapshot, 1))
        .unwrap();
    trusted
        .update_timestamp(&f.timestamp(2, &replay, 2))
        .unwrap();
    let err = trusted.update_snapshot(&stored_snapshot, true).unwrap_err();
    assert!(
        matches!(
            err,
            Error::VersionMismatch {
                expected: 2,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
    let err = trusted.update_snapshot(&replay, false).unwrap_err();
    assert!(
        matches!(
            err,
            Error::VersionRollback {
                trusted: 3,
                new: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn targets_version_must_be_the_one_snapshot_names() {
    let f = Fixture::new();
    let snapshot = f.snapshot(1, 2);
    let mut trusted = f.trusted();
    trusted
        .update_timestamp(&f.timestamp(1, &snapshot, 1))
        .unwrap();
    trusted.update_snapshot(&snapshot, false).unwrap();
    let replayed = f.targets(1);
    let err = trusted.update_targets(&replayed).unwrap_err();
    assert!(
        matches!(
            err,
            Error::VersionMismatch {
                expected: 2,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
    trusted.update_targets(&f.targets(2)).unwrap();
}

#[test]
fn expired_targets_are_refused() {
    let f = Fixture::new();
    let snapshot = f.snapshot(1, 1);
    let mut trusted = f.trusted();
    trusted
        .update_timestamp(&f.timestamp(1, &snapshot, 1))
        .unwrap();
    trusted.update_snapshot(&snapshot, false).unwrap();
    let targets = Targets::new(1, f.now - Duration::days(1));
    let bytes = sign_metadata(&targets, &[&f.targets_key])
        .unwrap()
        .to_bytes()
        .unwrap();
    assert!(matches!(
        trusted.update_targets(&bytes),
        Err(Error::Expired { .. })
    ));
}

#[test]
fn root_rotation_needs_old_and_new_thresholds() {
    let f = Fixture::new();
    let new_root_key = SigningKey::generate();
    let mut v2 = f.root.clone();
    v2.version = 2;
    v2.keys.clear();
    v2.roles.root.keyids.clear();
    v2.add_role_key(RoleType::Root, new_root_key.public_key().clone())
        .unwrap();
    for (role, key) in [
        (RoleType::Targets, &f.targets_key),
        (RoleType::Snapshot, &f.snapshot_key),
        (RoleType::Timestamp, &f.timestamp_key),
    ] {
        v2.add_role_key(role, key.public_key().clone()).unwrap();
    }
    let only_new = sign_metadata(&v2, &[&new_root_key])
        .unwrap()
        .to_bytes()
        .unwrap();
    assert!(matches!(
        f.trusted().update_root(&only_new),
        Err(Error::ThresholdNotMet { .. })
    ));
    let only_old = sign_metadata(&v2, &[&f.root_key])
        .unwrap()
        .to_bytes()
        .unwrap();
    assert!(matches!(
        f.trusted().update_root(&only_old),
        Err(Error::ThresholdNotMet { .. })
    ));
    let both = sign_metadata(&v2, &[&f.root_key, &new_root_key])
        .unwrap()
        .to_bytes()
        .unwrap();
    let mut trusted = f.trusted();
    trusted.update_root(&both).unwrap();
    assert_eq!(trusted.root().version, 2);

    let mut v4 = v2.clone();
    v4.version = 4;
    let skipped = sign_metadata(&v4, &[&new_root_key])
        .unwrap()
        .to_bytes()
        .unwrap();
    let err = trusted.update_root(&skipped).unwrap_err();
    assert!(
        matches!(
            err,
            Error::VersionMismatch {
                expected: 3,
                found: 4,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn expired_final_root_stops_the_refresh() {
    let mut f = Fixture::new();
    f.root.expires = f.now - Duration::seconds(1);
    let snapshot = f.snapshot(1, 1);
    let err = f
        .trusted()
        .update_timestamp(&f.timestamp(1, &snapshot, 1))
        .unwrap_err();
    assert!(
        matches!(err, Error::Expired { ref role, .. } if role == "root"),
        "{err}"
    );
}

#[test]
fn a_key_counts_once_towards_a_threshold() {
    let mut f = Fixture::new();
    f.root.roles.timestamp.threshold = 2;
    // The same key material listed under a second key id.
    let alias = "alias-of-timestamp-key".to_string();
    f.root
        .keys
        .insert(alias.clone(), f.timestamp_key.public_key().clone());
    f.root.roles.timestamp.keyids.push(alias.clone());
    let snapshot = f.snapshot(1, 1);
    let bytes = f.timestamp(1, &snapshot, 1);
    let mut envelope = SignedEnvelope::from_slice(&bytes, "t").unwrap();
    let again = envelope.signatures[0].clone();
    envelope.signatures.push(crate::schema::Signature {
        keyid: alias,
        ..again
    });
    let err = f
        .trusted()
        .update_timestamp(&envelope.to_bytes().unwrap())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ThresholdNotMet {
                valid: 1,
                threshold: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn two_signatures_under_one_key_id_are_refused() {
    let f = Fixture::new();
    let snapshot = f.snapshot(1, 1);
    let mut envelope = SignedEnvelope::from_slice(&f.timestamp(1, &snapshot, 1), "t").unwrap();
    let again = envelope.signatures[0].clone();
    envelope.signatures.push(again);
    let err = f
        .trusted()
        .update_timestamp(&envelope.to_bytes().unwrap())
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidMetadata(ref m) if m.contains("more than one signature")),
        "{err}"
    );
}

#[test]
fn a_role_listing_a_key_twice_is_refused() {
    let mut f = Fixture::new();
    let id = f.root.roles.timestamp.keyids[0].clone();
    f.root.roles.timestamp.keyids.push(id);
    assert!(matches!(
        TrustedMetadata::new(&f.root_bytes(), f.now),
        Err(Error::InvalidMetadata(_))
    ));
}

#[test]
fn threshold_of_two_distinct_keys_is_met() {
    let mut f = Fixture::new();
    let second = SigningKey::generate();
    f.root
        .add_role_key(RoleType::Timestamp, second.public_key().clone())
        .unwrap();
    f.root.roles.timestamp.threshold = 2;
    let snapshot = f.snapshot(1, 1);
    let mut envelope = SignedEnvelope::from_slice(&f.timestamp(1, &snapshot, 1), "t").unwrap();
    assert!(
        f.trusted()
            .update_timestamp(&envelope.to_bytes().unwrap())
            .is_err()
    );
    add_signature(&mut envelope, &second).unwrap();
    f.trusted()
        .update_timestamp(&envelope.to_bytes().unwrap())
        .unwrap();
}

#[test]
fn unknown_fields_are_covered_by_the_signature() {
    let f = Fixture::new();
    let snapshot = f.snapshot(1, 1);
    let mut timestamp = Timestamp::new(
        1,
        f.now + Duration::days(1),
        MetaFile::describing(1, &snapshot),
    );
    timestamp
        .unrecognized
        .insert("x-future".into(), json!({"nested": [1, 2]}));
    let mut envelope = sign_metadata(&timestamp, &[&f.timestamp_key]).unwrap();
    f.trusted()
        .update_timestamp(&envelope.to_bytes().unwrap())
        .unwrap();
    envelope.signed["x-future"]["nested"][1] = json!(3);
    assert!(matches!(
        f.trusted().update_timestamp(&envelope.to_bytes().unwrap()),
        Err(Error::ThresholdNotMet { .. })
    ));
}

#[test]
fn spec_version_major_must_be_one() {
    for (version, ok) in [
        ("1.0.31", true),
        ("1.0", true),
        ("1.1.0", true),
        ("2.0.0", false),
        ("1", false),
        ("1.x.0", false),
    ] {
        let f = Fixture::new();
        let snapshot = f.snapshot(1, 1);
        let mut timestamp = Timestamp::new(
            1,
            f.now + Duration::days(1),
            MetaFile::describing(1, &snapshot),
        );
        timestamp.spec_version = version.into();
        let bytes = sign_metadata(&timestamp, &[&f.timestamp_key])
            .unwrap()
            .to_bytes()
            .unwrap();
        assert_eq!(
            f.trusted().update_timestamp(&bytes).is_ok(),
            ok,
            "{version}"
        );
    }
}

#[test]
fn metadata_of_the_wrong_type_is_refused() {
    let f = Fixture::new();
    // A snapshot file signed by the timestamp key, offered as the timestamp.
    let snapshot = Snapshot::new(1, f.now + Duration::days(1), Default::default());
    let bytes = sign_metadata(&snapshot, &[&f.timestamp_key])
        .unwrap()
        .to_bytes()
        .unwrap();
    assert!(matches!(
        f.trusted().update_timestamp(&bytes),
        Err(Error::WrongRoleType { .. })
    ));
}

#[test]
fn steps_must_come_in_order() {
    let f = Fixture::new();
    let mut trusted = f.trusted();
    assert!(matches!(
        trusted.update_snapshot(&f.snapshot(1, 1), false),
        Err(Error::RoleNotLoaded(RoleType::Timestamp))
    ));
    assert!(matches!(
        trusted.update_targets(&f.targets(1)),
        Err(Error::RoleNotLoaded(RoleType::Timestamp))
    ));
    let snapshot = f.snapshot(1, 1);
    trusted
        .update_timestamp(&f.timestamp(1, &snapshot, 1))
        .unwrap();
    assert!(trusted.update_root(&f.root_bytes()).is_err());
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let f = Fixture::new();
    for bytes in [
        &b""[..],
        b"{",
        b"[]",
        b"{\"signed\": 1, \"signatures\": []}",
        b"\xff\xfe",
    ] {
        assert!(f.trusted().update_timestamp(bytes).is_err());
        assert!(TrustedMetadata::new(bytes, f.now).is_err());
    }
}

#[test]
fn one_pem_key_written_two_ways_counts_once() {
    let pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\nAAAA\n-----END PUBLIC KEY-----\n";
    let one_line = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEAAAA\n-----END PUBLIC KEY-----";
    let key = |public: &str| crate::keys::PublicKey {
        keytype: "ecdsa".into(),
        scheme: "ecdsa-sha2-nistp256".into(),
        keyval: crate::keys::KeyVal {
            public: public.into(),
            unrecognized: Default::default(),
        },
        unrecognized: Default::default(),
    };
    assert_eq!(key(pem).material(), key(one_line).material());
}
