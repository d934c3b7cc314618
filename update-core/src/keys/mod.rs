//! Public keys in TUF form, key ids, signature checks, and the ed25519 signing keys our
//! tools create.
//!
//! Verification follows the wire formats of the TUF reference implementation
//! (python-tuf / securesystemslib), so metadata signed by other TUF tools verifies here:
//!
//! | keytype                         | scheme                                  | `keyval.public` | signature |
//! |---------------------------------|-----------------------------------------|-----------------|-----------|
//! | `ed25519`                       | `ed25519`                               | hex, 32 bytes   | 64 bytes  |
//! | `ecdsa` or `ecdsa-sha2-nistp256`| `ecdsa-sha2-nistp256`                   | SPKI PEM        | ASN.1 DER |
//! | `ecdsa` or `ecdsa-sha2-nistp384`| `ecdsa-sha2-nistp384`                   | SPKI PEM        | ASN.1 DER |
//! | `rsa`                           | `rsassa-pss-sha{256,384,512}`           | SPKI PEM        | modulus-sized |
//! | `rsa`                           | `rsa-pkcs1v15-sha{256,384,512}`         | SPKI PEM        | modulus-sized |
//!
//! Anything else is [`SignatureCheck::Unsupported`].

mod ecdsa;
mod ed25519;
mod rsa;
mod signing;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::canonical::to_canonical_bytes;
use crate::hash::sha256_hex;
use crate::schema::Unrecognized;

pub use signing::SigningKey;

/// A key id: hex sha256 of the canonical JSON of the public key.
pub type KeyId = String;

pub const ED25519: &str = "ed25519";
pub const ECDSA: &str = "ecdsa";
pub const ECDSA_SHA2_NISTP256: &str = "ecdsa-sha2-nistp256";
pub const ECDSA_SHA2_NISTP384: &str = "ecdsa-sha2-nistp384";
pub const RSA: &str = "rsa";
pub const RSASSA_PSS_SHA256: &str = "rsassa-pss-sha256";
pub const RSASSA_PSS_SHA384: &str = "rsassa-pss-sha384";
pub const RSASSA_PSS_SHA512: &str = "rsassa-pss-sha512";
pub const RSA_PKCS1V15_SHA256: &str = "rsa-pkcs1v15-sha256";
pub const RSA_PKCS1V15_SHA384: &str = "rsa-pkcs1v15-sha384";
pub const RSA_PKCS1V15_SHA512: &str = "rsa-pkcs1v15-sha512";

/// A public key as TUF metadata lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    pub keytype: String,
    pub scheme: String,
    pub keyval: KeyVal,
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVal {
    pub public: String,
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

/// The outcome of checking one signature with one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureCheck {
    Valid,
    Invalid,
    /// Key type or scheme this implementation does not verify: ignored, never fatal by
    /// itself (it simply does not count towards a threshold).
    Unsupported,
}

impl SignatureCheck {
    fn valid_if(verified: bool) -> Self {
        if verified {
            SignatureCheck::Valid
        } else {
            SignatureCheck::Invalid
        }
    }
}

impl PublicKey {
    pub fn ed25519(public: &ed25519_dalek::VerifyingKey) -> Self {
        PublicKey {
            keytype: ED25519.to_string(),
            scheme: ED25519.to_string(),
            keyval: KeyVal {
                public: hex::encode(public.as_bytes()),
                unrecognized: Unrecognized::new(),
            },
            unrecognized: Unrecognized::new(),
        }
    }

    /// The key id our tools assign: hex sha256 of the key's canonical JSON.
    pub fn key_id(&self) -> Result<KeyId, Error> {
        Ok(sha256_hex(&to_canonical_bytes(self)?))
    }

    /// The key material in a normal form, so one key written two ways (PEM line breaks,
    /// hex case, a legacy keytype name) is recognised as one key when counting signers.
    pub fn material(&self) -> String {
        let public = self.keyval.public.trim();
        if public.starts_with("-----") {
            public
                .lines()
                .filter(|line| !line.trim_start().starts_with("-----"))
                .flat_map(|line| line.chars())
                .filter(|c| !c.is_whitespace())
                .collect()
        } else {
            public.to_ascii_lowercase()
        }
    }

    /// Checks `signature` over `message`. Malformed key or signature material counts as
    /// [`SignatureCheck::Invalid`]: it came from metadata and proves nothing.
    ///
    /// PEM keys are parsed on every call; that costs far less than the signature check.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> SignatureCheck {
        use sha2::{Sha256, Sha384, Sha512};
        let public = self.keyval.public.as_str();
        match (self.keytype.as_str(), self.scheme.as_str()) {
            (ED25519, ED25519) => ed25519::verify(public, message, signature),
            // securesystemslib still accepts the keytype that once repeated the scheme.
            (ECDSA | ECDSA_SHA2_NISTP256, ECDSA_SHA2_NISTP256) => {
                ecdsa::verify_nistp256(public, message, signature)
            }
            (ECDSA | ECDSA_SHA2_NISTP384, ECDSA_SHA2_NISTP384) => {
                ecdsa::verify_nistp384(public, message, signature)
            }
            (RSA, RSASSA_PSS_SHA256) => rsa::verify_pss::<Sha256>(public, message, signature),
            (RSA, RSASSA_PSS_SHA384) => rsa::verify_pss::<Sha384>(public, message, signature),
            (RSA, RSASSA_PSS_SHA512) => rsa::verify_pss::<Sha512>(public, message, signature),
            (RSA, RSA_PKCS1V15_SHA256) => {
                rsa::verify_pkcs1v15::<Sha256>(public, message, signature)
            }
            (RSA, RSA_PKCS1V15_SHA384) => {
                rsa::verify_pkcs1v15::<Sha384>(public, message, signature)
            }
            (RSA, RSA_PKCS1V15_SHA512) => {
                rsa::verify_pkcs1v15::<Sha512>(public, message, signature)
            }
            _ => SignatureCheck::Unsupported,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(keytype: &str, scheme: &str, public: &str) -> PublicKey {
        PublicKey {
            keytype: keytype.into(),
            scheme: scheme.into(),
            keyval: KeyVal {
                public: public.into(),
                unrecognized: Unrecognized::new(),
            },
            unrecognized: Unrecognized::new(),
        }
    }

    #[test]
    fn unknown_key_types_and_schemes_are_unsupported_not_errors() {
        for (keytype, scheme) in [
            ("future-pq", ED25519),
            (ED25519, RSASSA_PSS_SHA256),
            (RSA, "rsassa-pss-sha224"),
            (RSA, ECDSA_SHA2_NISTP256),
            (ECDSA, "ecdsa-sha2-nistp521"),
            (ECDSA_SHA2_NISTP256, ECDSA_SHA2_NISTP384),
            (ECDSA_SHA2_NISTP384, ECDSA_SHA2_NISTP256),
            (RSASSA_PSS_SHA256, RSASSA_PSS_SHA256),
        ] {
            let public = key(keytype, scheme, "");
            assert_eq!(
                public.verify(b"m", &[0; 64]),
                SignatureCheck::Unsupported,
                "{keytype}/{scheme}"
            );
        }
    }

    #[test]
    fn garbage_key_material_is_invalid_for_every_supported_scheme() {
        let schemes = [
            (ED25519, ED25519),
            (ECDSA, ECDSA_SHA2_NISTP256),
            (ECDSA_SHA2_NISTP256, ECDSA_SHA2_NISTP256),
            (ECDSA, ECDSA_SHA2_NISTP384),
            (RSA, RSASSA_PSS_SHA256),
            (RSA, RSASSA_PSS_SHA384),
            (RSA, RSASSA_PSS_SHA512),
            (RSA, RSA_PKCS1V15_SHA256),
            (RSA, RSA_PKCS1V15_SHA384),
            (RSA, RSA_PKCS1V15_SHA512),
        ];
        let garbage = [
            "",
            "zz",
            "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "-----BEGIN PUBLIC KEY-----\n\u{00e9}\u{1f600}\n-----END PUBLIC KEY-----\n",
        ];
        for (keytype, scheme) in schemes {
            for public in garbage {
                for signature in [&[][..], &[0; 64], &[0x30; 512]] {
                    assert_eq!(
                        key(keytype, scheme, public).verify(b"m", signature),
                        SignatureCheck::Invalid,
                        "{keytype}/{scheme} with {public:?}"
                    );
                }
            }
        }
    }
}
