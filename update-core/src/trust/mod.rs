//! The only way received bytes become trusted metadata.
//!
//! [`Verified<T>`] can be built only here, after a threshold of authorised keys was checked
//! over the canonical form of the bytes as received. [`TrustedMetadata`] applies the
//! ordering, version, hash, length and expiry rules of the TUF client workflow
//! (specification section 5) on top; it does no I/O, so the device client, the server and
//! the tests drive the same rules.

mod trusted_set;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;

pub use trusted_set::{ROOT_DELEGATOR, TOP_LEVEL_TARGETS, TrustedMetadata};

use crate::Error;
use crate::canonical::to_canonical_bytes;
use crate::keys::{KeyId, PublicKey, SignatureCheck};
use crate::schema::{Metadata, RoleType, Root, SignedEnvelope};

/// Metadata whose signatures met their role's threshold. Only this module builds one.
#[derive(Clone, Debug)]
pub struct Verified<T> {
    value: T,
}

impl<T> Verified<T> {
    fn new(value: T) -> Self {
        Verified { value }
    }

    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// Checks signatures against the keys a delegator authorised, then reads the typed
/// metadata. Does not look at version or expiry: those depend on what else is trusted.
pub fn verify_role<T: Metadata>(
    envelope: &SignedEnvelope,
    role_name: &str,
    keys: &BTreeMap<KeyId, PublicKey>,
    keyids: &[KeyId],
    threshold: u32,
) -> Result<Verified<T>, Error> {
    check_threshold(envelope, role_name, keys, keyids, threshold)?;
    let metadata: T = envelope.parse_unverified()?;
    check_spec_version(role_name, metadata.spec_version())?;
    metadata
        .check_well_formed()
        .map_err(|reason| Error::InvalidMetadata(format!("{role_name} metadata: {reason}")))?;
    Ok(Verified::new(metadata))
}

/// Verifies a top-level role's metadata with the keys `root` lists for it.
pub fn verify_with_root<T: Metadata>(
    root: &Root,
    envelope: &SignedEnvelope,
) -> Result<Verified<T>, Error> {
    let role = root.role(T::ROLE_TYPE);
    verify_role(
        envelope,
        T::ROLE_TYPE.as_str(),
        &root.keys,
        &role.keyids,
        role.threshold,
    )
}

/// Verifies `new` as the successor of the trusted `current` root: version exactly one
/// higher, signed by a threshold of the current root keys and of its own root keys.
pub fn verify_root_update(current: &Root, new: &SignedEnvelope) -> Result<Verified<Root>, Error> {
    let by_old: Verified<Root> = verify_with_root(current, new)?;
    let expected = current.version + 1;
    if by_old.version != expected {
        return Err(Error::VersionMismatch {
            role: RoleType::Root.to_string(),
            expected,
            found: by_old.version,
        });
    }
    verify_with_root::<Root>(&by_old, new)
}

/// Verifies a root as a trust anchor: signed by a threshold of its own root keys. The
/// decision to trust it at all is the caller's (factory provisioning, operator config).
pub fn verify_self_signed_root(envelope: &SignedEnvelope) -> Result<Verified<Root>, Error> {
    let claimed: Root = envelope.parse_unverified()?;
    verify_with_root::<Root>(&claimed, envelope)
}

/// Counts distinct authorised keys with a valid signature over canonical `signed`. A key
/// counts once however many times (or under however many key ids) it signs; an envelope
/// with two signatures under one key id is refused outright, as the specification says
/// key ids in `signatures` are unique.
fn check_threshold(
    envelope: &SignedEnvelope,
    role_name: &str,
    keys: &BTreeMap<KeyId, PublicKey>,
    keyids: &[KeyId],
    threshold: u32,
) -> Result<(), Error> {
    if threshold == 0 {
        return Err(Error::InvalidMetadata(format!(
            "{role_name} role has threshold 0"
        )));
    }
    let mut signers = BTreeSet::new();
    if let Some(twice) = envelope
        .signatures
        .iter()
        .find(|s| !signers.insert(&s.keyid))
    {
        return Err(Error::InvalidMetadata(format!(
            "{role_name} metadata carries more than one signature by key {}",
            twice.keyid
        )));
    }
    let message = to_canonical_bytes(&envelope.signed)?;
    let mut counted_ids = BTreeSet::new();
    let mut counted_keys = BTreeSet::new();
    for signature in &envelope.signatures {
        if !keyids.contains(&signature.keyid) {
            continue;
        }
        let Some(key) = keys.get(&signature.keyid) else {
            continue;
        };
        let Ok(sig) = hex::decode(&signature.sig) else {
            continue;
        };
        if key.verify(&message, &sig) == SignatureCheck::Valid
            && counted_keys.insert(key.material())
        {
            counted_ids.insert(signature.keyid.clone());
        }
    }
    if counted_ids.len() < threshold as usize {
        return Err(Error::ThresholdNotMet {
            role: role_name.to_string(),
            valid: counted_ids.len(),
            threshold,
        });
    }
    Ok(())
}

/// Accepts any `1.x[.y]` spec version: a change of major version means a format we do
/// not understand.
fn check_spec_version(role_name: &str, spec_version: &str) -> Result<(), Error> {
    let parts: Vec<&str> = spec_version.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if (2..=3).contains(&parts.len()) && numeric && parts[0] == "1" {
        Ok(())
    } else {
        Err(Error::UnsupportedSpecVersion {
            role: role_name.to_string(),
            found: spec_version.to_string(),
        })
    }
}

#[cfg(test)]
mod tests;
