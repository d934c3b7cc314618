//! RSA signature checks in securesystemslib's form: the public key is an SPKI PEM, the
//! signature RSASSA-PSS (MGF1 with the same hash) or RSASSA-PKCS1-v1_5.
//!
//! securesystemslib signs PSS with salt length = digest length but verifies with
//! `PSS.AUTO`, any salt length. The `rsa` crate checks one given salt length, so this
//! tries the two that signers use: the digest length (securesystemslib, ring, cloud KMSs)
//! and the maximum (pyca/cryptography's `PSS.MAX_LENGTH`, Go's `PSSSaltLengthAuto`).
//! Other salt lengths are refused; that only ever rejects, never accepts, more than the
//! reference does.

use rsa::pkcs8::DecodePublicKey;
use rsa::signature::{DigestVerifier, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPublicKey, pkcs1v15, pss};
use sha2::Digest;
use sha2::digest::FixedOutputReset;
use sha2::digest::const_oid::AssociatedOid;

use super::SignatureCheck;

/// Shorter moduli are refused outright: factoring them is within reach. The `rsa` crate
/// itself refuses moduli over 4096 bits.
pub const MIN_MODULUS_BITS: usize = 2048;

fn public_key(public_pem: &str) -> Option<RsaPublicKey> {
    let key = RsaPublicKey::from_public_key_pem(public_pem).ok()?;
    (key.n().bits() >= MIN_MODULUS_BITS).then_some(key)
}

pub(super) fn verify_pss<D>(public_pem: &str, message: &[u8], signature: &[u8]) -> SignatureCheck
where
    D: Digest + FixedOutputReset + Clone,
{
    let (Some(key), Ok(sig)) = (public_key(public_pem), pss::Signature::try_from(signature)) else {
        return SignatureCheck::Invalid;
    };
    let digest_len = <D as Digest>::output_size();
    let salt_lens = [digest_len, max_pss_salt_len(key.n().bits(), digest_len)];
    // Hash the (possibly large) message once for both attempts.
    let digest = D::new_with_prefix(message);
    let verified = salt_lens.into_iter().any(|salt_len| {
        pss::VerifyingKey::<D>::new_with_salt_len(key.clone(), salt_len)
            .verify_digest(digest.clone(), &sig)
            .is_ok()
    });
    SignatureCheck::valid_if(verified)
}

pub(super) fn verify_pkcs1v15<D>(
    public_pem: &str,
    message: &[u8],
    signature: &[u8],
) -> SignatureCheck
where
    D: Digest + AssociatedOid,
{
    match (
        public_key(public_pem),
        pkcs1v15::Signature::try_from(signature),
    ) {
        (Some(key), Ok(sig)) => SignatureCheck::valid_if(
            pkcs1v15::VerifyingKey::<D>::new(key)
                .verify(message, &sig)
                .is_ok(),
        ),
        _ => SignatureCheck::Invalid,
    }
}

/// The largest salt RFC 8017 (9.1.1) allows: emLen - hLen - 2, emLen = ceil((modBits - 1) / 8).
fn max_pss_salt_len(modulus_bits: usize, digest_len: usize) -> usize {
    (modulus_bits.saturating_sub(1))
        .div_ceil(8)
        .saturating_sub(digest_len + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_salt_len_matches_rfc_8017() {
        assert_eq!(max_pss_salt_len(2048, 32), 222);
        assert_eq!(max_pss_salt_len(3072, 32), 350);
        assert_eq!(max_pss_salt_len(4096, 64), 446);
        // A modulus one bit past a byte boundary has an encoded message one byte shorter
        // than the modulus.
        assert_eq!(max_pss_salt_len(2049, 32), 222);
        assert_eq!(max_pss_salt_len(2050, 32), 223);
        assert_eq!(max_pss_salt_len(8, 32), 0);
    }
}
