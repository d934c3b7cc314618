//! Changed, truncated, misplaced and "plausible but wrong" signatures never verify, for
//! every key type and scheme in the reference vectors (`tests/vectors/`).

mod vectors;

use update_core::keys::SignatureCheck;
use vectors::{first_valid, valid_vectors};

fn flip_byte(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut flipped = bytes.to_vec();
    flipped[at] ^= 0x01;
    flipped
}

#[test]
fn a_changed_message_is_invalid() {
    for v in valid_vectors() {
        let mut changed = vec![
            [v.message.as_slice(), b"x"].concat(),
            v.message[..v.message.len().saturating_sub(1)].to_vec(),
        ];
        if !v.message.is_empty() {
            changed.push(flip_byte(&v.message, 0));
            changed.push(flip_byte(&v.message, v.message.len() - 1));
        }
        for message in changed.into_iter().filter(|m| *m != v.message) {
            assert_eq!(
                v.key.verify(&message, &v.sig),
                SignatureCheck::Invalid,
                "{}",
                v.name
            );
        }
    }
}

#[test]
fn a_changed_signature_byte_is_invalid() {
    for v in valid_vectors() {
        let len = v.sig.len();
        for at in [0, 1, len / 2, len - 1] {
            assert_eq!(
                v.key.verify(&v.message, &flip_byte(&v.sig, at)),
                SignatureCheck::Invalid,
                "{} byte {at}",
                v.name
            );
        }
    }
}

#[test]
fn truncated_extended_and_empty_signatures_are_invalid() {
    for v in valid_vectors() {
        let sig = v.sig.as_slice();
        for bad in [
            &sig[..sig.len() - 1],
            &sig[1..],
            &sig[..sig.len() / 2],
            &[sig, &[0]].concat(),
            &[&[0], sig].concat(),
            &[],
        ] {
            assert_eq!(
                v.key.verify(&v.message, bad),
                SignatureCheck::Invalid,
                "{} with {} signature bytes",
                v.name,
                bad.len()
            );
        }
    }
}

/// Signatures travel hex-encoded; text that a caller forgot to decode, or that is not hex
/// at all, must never verify.
#[test]
fn undecoded_or_non_hex_signature_text_is_invalid() {
    for v in valid_vectors() {
        let hex_text = hex::encode(&v.sig);
        for text in [hex_text.as_str(), "zz", "0", "not hex at all"] {
            assert_eq!(
                v.key.verify(&v.message, text.as_bytes()),
                SignatureCheck::Invalid,
                "{} with {text:?}",
                v.name
            );
        }
    }
}

#[test]
fn signatures_do_not_verify_under_another_key_of_the_same_scheme() {
    let vectors = valid_vectors();
    for v in &vectors {
        for other in vectors
            .iter()
            .filter(|o| o.key.scheme == v.key.scheme && o.key != v.key)
        {
            assert_eq!(
                other.key.verify(&v.message, &v.sig),
                SignatureCheck::Invalid,
                "{} under {}",
                v.name,
                other.name
            );
        }
    }
}

/// What the TUF conformance suite sends as "plausible but wrong" signatures.
#[test]
fn conformance_suite_plausible_but_wrong_signatures_are_invalid() {
    let ecdsa = first_valid("ecdsa-sha2-nistp256", "");
    let plausible_der = hex::decode(
        "3046022100fa1f62d38e0f5c565fa23e5d230086258427d87f024c146071966deefde55468\
         022100b3347b4bd9ba6701ca6cef949d04b5742394b9f8c4417933e5d4fa76c3ca3a98",
    )
    .unwrap();
    assert_eq!(
        ecdsa.key.verify(&ecdsa.message, &plausible_der),
        SignatureCheck::Invalid
    );

    let rsa = first_valid("rsassa-pss-sha256", "3072");
    // Bytes that look random (a fixed linear congruential sequence), as long as the modulus.
    let mut state: u32 = 0x1234_5678;
    let random_looking: Vec<u8> = (0..384)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (state >> 16) as u8
        })
        .collect();
    assert_eq!(
        rsa.key.verify(&rsa.message, &random_looking),
        SignatureCheck::Invalid
    );
}

#[test]
fn a_key_under_another_schemes_name_is_invalid_not_misread() {
    let ecdsa = first_valid("ecdsa-sha2-nistp256", "");
    let rsa = first_valid("rsassa-pss-sha256", "2048");

    let mut rsa_pem_as_ecdsa = ecdsa.key.clone();
    rsa_pem_as_ecdsa.keyval.public = rsa.key.keyval.public.clone();
    assert_eq!(
        rsa_pem_as_ecdsa.verify(&rsa.message, &rsa.sig),
        SignatureCheck::Invalid
    );

    let mut ecdsa_pem_as_rsa = rsa.key.clone();
    ecdsa_pem_as_rsa.keyval.public = ecdsa.key.keyval.public.clone();
    assert_eq!(
        ecdsa_pem_as_rsa.verify(&ecdsa.message, &ecdsa.sig),
        SignatureCheck::Invalid
    );

    let mut pss_as_pkcs1 = rsa.key.clone();
    pss_as_pkcs1.scheme = "rsa-pkcs1v15-sha256".into();
    assert_eq!(
        pss_as_pkcs1.verify(&rsa.message, &rsa.sig),
        SignatureCheck::Invalid
    );

    let mut p256_as_p384 = ecdsa.key.clone();
    p256_as_p384.scheme = "ecdsa-sha2-nistp384".into();
    assert_eq!(
        p256_as_p384.verify(&ecdsa.message, &ecdsa.sig),
        SignatureCheck::Invalid
    );
}
