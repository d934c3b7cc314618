//! ed25519 signature checks: the public key is 32 bytes in hex, the signature 64 raw bytes.

use super::SignatureCheck;

pub(super) fn verify(public_hex: &str, message: &[u8], signature: &[u8]) -> SignatureCheck {
    let key = hex::decode(public_hex)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .and_then(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok());
    let sig = <[u8; 64]>::try_from(signature)
        .ok()
        .map(|b| ed25519_dalek::Signature::from_bytes(&b));
    match (key, sig) {
        (Some(key), Some(sig)) => {
            SignatureCheck::valid_if(key.verify_strict(message, &sig).is_ok())
        }
        _ => SignatureCheck::Invalid,
    }
}
