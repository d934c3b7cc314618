//! The device's ed25519 key pair: made on the device, kept there as PKCS#8 PEM; only the
//! public key (lowercase hex of its 32 bytes) ever leaves it. `Debug` hides the secret.

use std::fmt;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use ed25519_dalek::{Signer, VerifyingKey};

use super::DeviceAuthError;

/// A device's private key.
pub struct DeviceKey {
    inner: ed25519_dalek::SigningKey,
}

impl DeviceKey {
    pub fn generate() -> DeviceKey {
        DeviceKey {
            inner: ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// A key from 32 secret bytes (simulators derive these from a seed and the device id).
    pub fn from_secret_bytes(secret: &[u8; 32]) -> DeviceKey {
        DeviceKey {
            inner: ed25519_dalek::SigningKey::from_bytes(secret),
        }
    }

    /// Reads a PKCS#8 PEM ed25519 private key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<DeviceKey, crate::Error> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map(|inner| DeviceKey { inner })
            .map_err(|e| {
                crate::Error::InvalidKey(format!("not a PKCS#8 PEM ed25519 private key ({e})"))
            })
    }

    /// The PKCS#8 PEM form; wiped from memory when dropped.
    pub fn to_pkcs8_pem(&self) -> Result<zeroize::Zeroizing<String>, crate::Error> {
        self.inner
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| crate::Error::InvalidKey(e.to_string()))
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.inner.verifying_key()
    }

    /// The public key as the APIs carry it.
    pub fn public_key_hex(&self) -> String {
        public_key_hex(&self.inner.verifying_key())
    }

    pub(super) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.inner.sign(message).to_bytes()
    }
}

impl fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKey")
            .field("public", &self.public_key_hex())
            .finish_non_exhaustive()
    }
}

/// Lowercase hex of the key's 32 bytes.
pub fn public_key_hex(key: &VerifyingKey) -> String {
    hex::encode(key.as_bytes())
}

/// Parses 64 lowercase hex digits into an ed25519 public key (weak keys refused).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, DeviceAuthError> {
    let lowercase_hex = text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if text.len() != 64 || !lowercase_hex {
        return Err(DeviceAuthError::BadPublicKey(
            "expected 64 lowercase hex digits",
        ));
    }
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes)
        .map_err(|_| DeviceAuthError::BadPublicKey("expected 64 lowercase hex digits"))?;
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| DeviceAuthError::BadPublicKey("not an ed25519 point"))?;
    if key.is_weak() {
        return Err(DeviceAuthError::BadPublicKey("weak key"));
    }
    Ok(key)
}
