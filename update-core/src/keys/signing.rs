//! The ed25519 private keys our tools create and sign metadata with.
//!
//! Private keys are stored as PKCS#8 PEM, the form `openssl genpkey -algorithm ed25519`
//! writes, so keys can be made and kept with standard tools and HSM exports. A
//! [`SigningKey`] never prints its secret: `Debug` shows only the key id.

use std::fmt;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};

use super::{KeyId, PublicKey};
use crate::Error;

/// An ed25519 private key used to sign metadata.
pub struct SigningKey {
    inner: ed25519_dalek::SigningKey,
    public: PublicKey,
    key_id: KeyId,
}

impl SigningKey {
    pub fn generate() -> Self {
        Self::from_dalek(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng))
    }

    fn from_dalek(inner: ed25519_dalek::SigningKey) -> Self {
        let public = PublicKey::ed25519(&inner.verifying_key());
        // Canonical JSON of a key made of strings cannot fail.
        let key_id = public.key_id().unwrap_or_default();
        SigningKey {
            inner,
            public,
            key_id,
        }
    }

    /// Reads a PKCS#8 PEM ed25519 private key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, Error> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map(Self::from_dalek)
            .map_err(|e| Error::InvalidKey(format!("not a PKCS#8 PEM ed25519 private key ({e})")))
    }

    /// The PKCS#8 PEM form; the returned string is wiped from memory when dropped.
    pub fn to_pkcs8_pem(&self) -> Result<zeroize::Zeroizing<String>, Error> {
        self.inner
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| Error::InvalidKey(e.to_string()))
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        use ed25519_dalek::Signer;
        self.inner.sign(message).to_bytes().to_vec()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SignatureCheck;

    #[test]
    fn pem_round_trip_keeps_identity() {
        let key = SigningKey::generate();
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(again.key_id(), key.key_id());
        assert_eq!(again.public_key(), key.public_key());
    }

    #[test]
    fn signature_verifies_only_for_its_message_and_key() {
        let key = SigningKey::generate();
        let other = SigningKey::generate();
        let sig = key.sign(b"firmware");
        assert_eq!(
            key.public_key().verify(b"firmware", &sig),
            SignatureCheck::Valid
        );
        assert_eq!(
            key.public_key().verify(b"firmwarf", &sig),
            SignatureCheck::Invalid
        );
        assert_eq!(
            other.public_key().verify(b"firmware", &sig),
            SignatureCheck::Invalid
        );
        assert_eq!(
            key.public_key().verify(b"firmware", &sig[..63]),
            SignatureCheck::Invalid
        );
    }

    #[test]
    fn debug_never_shows_secret_material() {
        let key = SigningKey::generate();
        let pem = key.to_pkcs8_pem().unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains(key.key_id()));
        let body: String = pem.lines().nth(1).unwrap().chars().take(20).collect();
        assert!(!shown.contains(&body));
    }

    #[test]
    fn garbage_pem_is_a_clear_error() {
        let err = SigningKey::from_pkcs8_pem("not a key").unwrap_err();
        assert!(err.to_string().contains("PKCS#8"));
    }
}
