use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Verified, verify_role, verify_root_update, verify_self_signed_root, verify_with_root};
use crate::Error;
use crate::hash::verify_hashes;
use crate::schema::{
    MetaFile, Metadata, RoleType, Root, SignedEnvelope, Snapshot, Targets, Timestamp,
};

/// The metadata a client trusts during one refresh, and the rules for adding to it.
///
/// Steps must come in the specification's order: root (any number of versions), then
/// timestamp, snapshot, targets, then delegated targets. Each `update_*` verifies before it
/// stores; where the specification stores first and complains after (an expired timestamp
/// or snapshot still protects against rollback), the new value is kept *and* an error is
/// returned, exactly as python-tuf does.
#[derive(Debug)]
pub struct TrustedMetadata {
    reference_time: DateTime<Utc>,
    root: Verified<Root>,
    timestamp: Option<Verified<Timestamp>>,
    snapshot: Option<Verified<Snapshot>>,
    /// Targets roles by name, each with the delegator whose keys verified it.
    targets: BTreeMap<String, (String, Verified<Targets>)>,
}

pub const TOP_LEVEL_TARGETS: &str = "targets";
/// The delegator of the top-level targets role.
pub const ROOT_DELEGATOR: &str = "root";

impl TrustedMetadata {
    /// Starts from the locally trusted root (the device's provisioned anchor or the last
    /// root it verified). It must be signed by a threshold of its own root keys; it may be
    /// expired, since a newer root can still be fetched.
    pub fn new(root_bytes: &[u8], reference_time: DateTime<Utc>) -> Result<Self, Error> {
        let envelope = SignedEnvelope::from_slice(root_bytes, "root.json")?;
        let root = verify_self_signed_root(&envelope)?;
        Ok(TrustedMetadata {
            reference_time,
            root,
            timestamp: None,
            snapshot: None,
            targets: BTreeMap::new(),
        })
    }

    pub fn reference_time(&self) -> DateTime<Utc> {
        self.reference_time
    }

    pub fn root(&self) -> &Verified<Root> {
        &self.root
    }

    pub fn timestamp(&self) -> Option<&Verified<Timestamp>> {
        self.timestamp.as_ref()
    }

    pub fn snapshot(&self) -> Option<&Verified<Snapshot>> {
        self.snapshot.as_ref()
    }

    /// The top-level targets metadata.
    pub fn targets(&self) -> Option<&Verified<Targets>> {
        self.targets_role(TOP_LEVEL_TARGETS, ROOT_DELEGATOR)
    }

    /// A targets role by name, only if it was verified with the keys `delegator_name`
    /// gives it: a role reached through two delegators must satisfy each of them.
    pub fn targets_role(
        &self,
        role_name: &str,
        delegator_name: &str,
    ) -> Option<&Verified<Targets>> {
        self.targets
            .get(role_name)
            .filter(|(delegator, _)| delegator == delegator_name)
            .map(|(_, targets)| targets)
    }

    /// Spec 5.3: accepts root version N+1, signed by a threshold of version N's root keys
    /// and of its own.
    pub fn update_root(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.timestamp.is_some() {
            return Err(out_of_order("root cannot be updated after timestamp"));
        }
        let envelope = SignedEnvelope::from_slice(bytes, "root.json")?;
        self.root = verify_root_update(&self.root, &envelope)?;
        Ok(())
    }

    /// Spec 5.4: the final root must be unexpired; the timestamp must be signed by the
    /// timestamp role and must not roll back itself or the snapshot version it names.
    /// An equal version returns [`Error::EqualVersion`] and keeps the trusted one.
    pub fn update_timestamp(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.snapshot.is_some() {
            return Err(out_of_order("timestamp cannot be updated after snapshot"));
        }
        check_expiry(&*self.root, self.reference_time)?;
        let envelope = SignedEnvelope::from_slice(bytes, "timestamp.json")?;
        let new: Verified<Timestamp> = verify_with_root(&self.root, &envelope)?;
        let new_snapshot = new.snapshot_meta().ok_or_else(|| Error::MissingMeta {
            role: RoleType::Timestamp.to_string(),
            what: Timestamp::SNAPSHOT_FILE.to_string(),
        })?;
        if let Some(old) = &self.timestamp {
            if new.version < old.version {
                return Err(rollback(
                    RoleType::Timestamp.as_str(),
                    old.version,
                    new.version,
                ));
            }
            if new.version == old.version {
                return Err(Error::EqualVersion {
                    role: RoleType::Timestamp.to_string(),
                    version: new.version,
                });
            }
            if let Some(old_snapshot) = old.snapshot_meta() {
                if new_snapshot.version < old_snapshot.version {
                    return Err(rollback(
                        RoleType::Snapshot.as_str(),
                        old_snapshot.version,
                        new_snapshot.version,
                    ));
                }
            }
        }
        self.timestamp = Some(new);
        self.check_final_timestamp().map(|_| ())
    }

    /// Spec 5.5: length and hashes as the timestamp lists them (skipped for `trusted`
    /// local copies, which were checked when first stored), signed by the snapshot role, no
    /// targets role removed or rolled back, version as the timestamp names, unexpired.
    pub fn update_snapshot(&mut self, bytes: &[u8], trusted: bool) -> Result<(), Error> {
        if !self.targets.is_empty() {
            return Err(out_of_order("snapshot cannot be updated after targets"));
        }
        let timestamp = self.check_final_timestamp()?;
        let listed = timestamp
            .snapshot_meta()
            .cloned()
            .ok_or_else(|| Error::MissingMeta {
                role: RoleType::Timestamp.to_string(),
                what: Timestamp::SNAPSHOT_FILE.to_string(),
            })?;
        if !trusted {
            check_length_and_hashes(Timestamp::SNAPSHOT_FILE, bytes, &listed)?;
        }
        let envelope = SignedEnvelope::from_slice(bytes, "snapshot.json")?;
        let new: Verified<Snapshot> = verify_with_root(&self.root, &envelope)?;
        if let Some(old) = &self.snapshot {
            for (file, old_meta) in &old.meta {
                let new_meta = new.meta.get(file).ok_or_else(|| Error::MissingMeta {
                    role: RoleType::Snapshot.to_string(),
                    what: file.clone(),
                })?;
                if new_meta.version < old_meta.version {
                    return Err(rollback(file, old_meta.version, new_meta.version));
                }
            }
        }
        self.snapshot = Some(new);
        self.check_final_snapshot().map(|_| ())
    }

    /// Spec 5.6 for the top-level targets role.
    pub fn update_targets(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.update_delegated_targets(bytes, TOP_LEVEL_TARGETS, ROOT_DELEGATOR)
    }

    /// Spec 5.6 for any targets role: length and hashes as the snapshot lists them, signed
    /// by the keys its delegator names, version as the snapshot lists, unexpired.
    pub fn update_delegated_targets(
        &mut self,
        bytes: &[u8],
        role_name: &str,
        delegator_name: &str,
    ) -> Result<(), Error> {
        let snapshot = self.check_final_snapshot()?;
        let listed = snapshot
            .role_meta(role_name)
            .cloned()
            .ok_or_else(|| Error::MissingMeta {
                role: RoleType::Snapshot.to_string(),
                what: format!("{role_name}.json"),
            })?;
        check_length_and_hashes(&format!("{role_name}.json"), bytes, &listed)?;
        let envelope = SignedEnvelope::from_slice(bytes, &format!("{role_name}.json"))?;
        let new: Verified<Targets> = if delegator_name == ROOT_DELEGATOR {
            verify_with_root(&self.root, &envelope)?
        } else {
            let (_, delegator) = self
                .targets
                .get(delegator_name)
                .ok_or_else(|| out_of_order("a delegator must be trusted before its delegates"))?;
            let delegations = delegator.delegations.as_ref().ok_or_else(|| {
                Error::InvalidMetadata(format!("{delegator_name} delegates to no role"))
            })?;
            let role = delegations
                .roles
                .iter()
                .find(|r| r.name == role_name)
                .ok_or_else(|| {
                    Error::InvalidMetadata(format!(
                        "{delegator_name} does not delegate to {role_name}"
                    ))
                })?;
            verify_role(
                &envelope,
                role_name,
                &delegations.keys,
                &role.keyids,
                role.threshold,
            )?
        };
        if new.version != listed.version {
            return Err(Error::VersionMismatch {
                role: role_name.to_string(),
                expected: listed.version,
                found: new.version,
            });
        }
        check_expiry_named(role_name, &*new, self.reference_time)?;
        self.targets
            .insert(role_name.to_string(), (delegator_name.to_string(), new));
        Ok(())
    }

    fn check_final_timestamp(&self) -> Result<&Verified<Timestamp>, Error> {
        let timestamp = self
            .timestamp
            .as_ref()
            .ok_or(Error::RoleNotLoaded(RoleType::Timestamp))?;
        check_expiry(&**timestamp, self.reference_time)?;
        Ok(timestamp)
    }

    fn check_final_snapshot(&self) -> Result<&Verified<Snapshot>, Error> {
        let timestamp = self.check_final_timestamp()?;
        let snapshot = self
            .snapshot
            .as_ref()
            .ok_or(Error::RoleNotLoaded(RoleType::Snapshot))?;
        check_expiry(&**snapshot, self.reference_time)?;
        let expected = timestamp
            .snapshot_meta()
            .map(|m| m.version)
            .unwrap_or_default();
        if snapshot.version != expected {
            return Err(Error::VersionMismatch {
                role: RoleType::Snapshot.to_string(),
                expected,
                found: snapshot.version,
            });
        }
        Ok(snapshot)
    }
}

fn check_expiry<T: Metadata>(metadata: &T, now: DateTime<Utc>) -> Result<(), Error> {
    check_expiry_named(T::ROLE_TYPE.as_str(), metadata, now)
}

fn check_expiry_named<T: Metadata>(
    role: &str,
    metadata: &T,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if now >= metadata.expires() {
        return Err(Error::Expired {
            role: role.to_string(),
            expires: metadata.expires(),
            now,
        });
    }
    Ok(())
}

fn check_length_and_hashes(what: &str, bytes: &[u8], listed: &MetaFile) -> Result<(), Error> {
    if let Some(expected) = listed.length {
        if bytes.len() as u64 != expected {
            return Err(Error::LengthMismatch {
                what: what.to_string(),
                expected,
                actual: bytes.len() as u64,
            });
        }
    }
    if let Some(hashes) = &listed.hashes {
        verify_hashes(what, bytes, hashes)?;
    }
    Ok(())
}

fn rollback(role: &str, trusted: u64, new: u64) -> Error {
    Error::VersionRollback {
        role: role.to_string(),
        trusted,
        new,
    }
}

fn out_of_order(reason: &str) -> Error {
    Error::InvalidMetadata(format!("client workflow out of order: {reason}"))
}
