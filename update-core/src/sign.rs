//! Producing signed metadata: signatures over the canonical JSON of `signed`.

use crate::Error;
use crate::canonical::to_canonical_bytes;
use crate::keys::SigningKey;
use crate::schema::{Metadata, Signature, SignedEnvelope, Unrecognized};

/// Signs `signed` with each of `keys`.
pub fn sign_metadata<T: Metadata>(
    signed: &T,
    keys: &[&SigningKey],
) -> Result<SignedEnvelope, Error> {
    let value = serde_json::to_value(signed).map_err(|e| Error::InvalidMetadata(e.to_string()))?;
    let mut envelope = SignedEnvelope {
        signatures: Vec::new(),
        signed: value,
    };
    for key in keys {
        add_signature(&mut envelope, key)?;
    }
    Ok(envelope)
}

/// Adds (or replaces) `key`'s signature, leaving other signers' signatures in place, so
/// that several engineers can each sign the same metadata to reach a threshold.
pub fn add_signature(envelope: &mut SignedEnvelope, key: &SigningKey) -> Result<(), Error> {
    let message = to_canonical_bytes(&envelope.signed)?;
    envelope.signatures.retain(|s| &s.keyid != key.key_id());
    envelope.signatures.push(Signature {
        keyid: key.key_id().clone(),
        sig: hex::encode(key.sign(&message)),
        unrecognized: Unrecognized::new(),
    });
    Ok(())
}
