//! ECDSA signature checks in securesystemslib's form: the public key is an SPKI PEM, the
//! signature ASN.1 DER over the scheme's SHA-2 hash of the message.
//!
//! The fixed-size `r || s` form is refused: pyca/cryptography, which the reference
//! implementation verifies with, takes only DER, and a signature that counts here must
//! count there too. High-S signatures are accepted, as OpenSSL accepts them.

use p256::ecdsa::signature::{self, Verifier};
use p256::pkcs8::DecodePublicKey;

use super::SignatureCheck;

pub(super) fn verify_nistp256(
    public_pem: &str,
    message: &[u8],
    signature: &[u8],
) -> SignatureCheck {
    verify_der::<p256::ecdsa::VerifyingKey, _>(
        public_pem,
        message,
        signature,
        p256::ecdsa::Signature::from_der,
    )
}

pub(super) fn verify_nistp384(
    public_pem: &str,
    message: &[u8],
    signature: &[u8],
) -> SignatureCheck {
    verify_der::<p384::ecdsa::VerifyingKey, _>(
        public_pem,
        message,
        signature,
        p384::ecdsa::Signature::from_der,
    )
}

/// `Key` decoding checks the SPKI algorithm and curve, so a key of another curve (or an
/// RSA key) under an ECDSA scheme is refused rather than misread.
fn verify_der<Key, Sig>(
    public_pem: &str,
    message: &[u8],
    signature: &[u8],
    parse_der: fn(&[u8]) -> signature::Result<Sig>,
) -> SignatureCheck
where
    Key: DecodePublicKey + Verifier<Sig>,
{
    match (Key::from_public_key_pem(public_pem), parse_der(signature)) {
        (Ok(key), Ok(sig)) => SignatureCheck::valid_if(key.verify(message, &sig).is_ok()),
        _ => SignatureCheck::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::{EncodePublicKey, LineEnding};

    use super::*;

    fn key_pair() -> (p256::ecdsa::SigningKey, String) {
        let signing = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let pem = signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        (signing, pem)
    }

    #[test]
    fn der_signature_verifies_only_for_its_message_and_key() {
        let (signing, pem) = key_pair();
        let (_, other_pem) = key_pair();
        let sig: p256::ecdsa::Signature = signing.sign(b"firmware");
        let der = sig.to_der();
        assert_eq!(
            verify_nistp256(&pem, b"firmware", der.as_bytes()),
            SignatureCheck::Valid
        );
        assert_eq!(
            verify_nistp256(&pem, b"firmwarf", der.as_bytes()),
            SignatureCheck::Invalid
        );
        assert_eq!(
            verify_nistp256(&other_pem, b"firmware", der.as_bytes()),
            SignatureCheck::Invalid
        );
    }

    #[test]
    fn fixed_size_r_s_form_is_refused() {
        let (signing, pem) = key_pair();
        let sig: p256::ecdsa::Signature = signing.sign(b"firmware");
        assert_eq!(
            verify_nistp256(&pem, b"firmware", &sig.to_bytes()),
            SignatureCheck::Invalid
        );
    }

    #[test]
    fn high_s_signature_is_accepted_like_openssl_does() {
        let (signing, pem) = key_pair();
        let sig: p256::ecdsa::Signature = signing.sign(b"firmware");
        // (r, n - s) is the other valid signature for the same message; OpenSSL and so
        // securesystemslib accept both, and signers do not normalise s.
        let flipped = p256::ecdsa::Signature::from_scalars(sig.r(), -*sig.s()).unwrap();
        assert_eq!(
            verify_nistp256(&pem, b"firmware", flipped.to_der().as_bytes()),
            SignatureCheck::Valid
        );
    }

    #[test]
    fn der_with_trailing_bytes_is_refused() {
        let (signing, pem) = key_pair();
        let sig: p256::ecdsa::Signature = signing.sign(b"firmware");
        let mut der = sig.to_der().as_bytes().to_vec();
        der.push(0);
        assert_eq!(
            verify_nistp256(&pem, b"firmware", &der),
            SignatureCheck::Invalid
        );
    }

    #[test]
    fn key_of_another_curve_is_refused() {
        let (signing, pem) = key_pair();
        let sig: p256::ecdsa::Signature = signing.sign(b"firmware");
        assert_eq!(
            verify_nistp384(&pem, b"firmware", sig.to_der().as_bytes()),
            SignatureCheck::Invalid
        );
    }
}
