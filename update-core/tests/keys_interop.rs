//! Signature checks against vectors made by the TUF reference implementation
//! (securesystemslib / python-tuf): `tests/vectors/make_vectors.py` says how they were made.

mod vectors;

use std::collections::{BTreeMap, BTreeSet};

use update_core::keys::{PublicKey, SignatureCheck};
use update_core::schema::SignedEnvelope;
use vectors::{by_name, first_valid, read_vector_file, valid_vectors, vectors};

#[test]
fn every_reference_vector_gives_the_expected_answer() {
    for v in vectors() {
        let expected = match v.expect.as_str() {
            "valid" => SignatureCheck::Valid,
            "invalid" => SignatureCheck::Invalid,
            "unsupported" => SignatureCheck::Unsupported,
            other => panic!("{}: unknown expectation {other}", v.name),
        };
        assert_eq!(v.key.verify(&v.message, &v.sig), expected, "{}", v.name);
    }
}

#[test]
fn vectors_cover_every_supported_key_type_and_scheme() {
    let covered: BTreeSet<(String, String)> = valid_vectors()
        .into_iter()
        .map(|v| (v.key.keytype, v.key.scheme))
        .collect();
    for (keytype, scheme) in [
        ("ed25519", "ed25519"),
        ("ecdsa", "ecdsa-sha2-nistp256"),
        ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"),
        ("ecdsa", "ecdsa-sha2-nistp384"),
        ("rsa", "rsassa-pss-sha256"),
        ("rsa", "rsassa-pss-sha384"),
        ("rsa", "rsassa-pss-sha512"),
        ("rsa", "rsa-pkcs1v15-sha256"),
        ("rsa", "rsa-pkcs1v15-sha384"),
        ("rsa", "rsa-pkcs1v15-sha512"),
    ] {
        assert!(
            covered.contains(&(keytype.to_string(), scheme.to_string())),
            "{keytype}/{scheme}"
        );
    }
    for size in ["2048", "3072", "4096"] {
        first_valid("rsassa-pss-sha256", size);
    }
}

#[test]
fn key_ids_equal_the_ones_securesystemslib_computed() {
    for v in vectors() {
        assert_eq!(v.key.key_id().unwrap(), v.keyid, "{}", v.name);
    }
}

/// securesystemslib verifies PSS with any salt length; update-core tries the digest length
/// and the maximum only (see `keys/rsa.rs`).
#[test]
fn pss_salt_lengths_follow_the_documented_choice() {
    let max = by_name("rsassa-pss-sha256 salt MAX_LENGTH");
    assert_eq!(
        max.key.verify(&max.message, &max.sig),
        SignatureCheck::Valid
    );
    let zero = by_name("rsassa-pss-sha256 salt 0");
    assert_eq!(
        zero.key.verify(&zero.message, &zero.sig),
        SignatureCheck::Invalid
    );
}

#[test]
fn rsa_keys_under_2048_bits_are_refused() {
    let weak = by_name("rsassa-pss-sha256 1024");
    assert_eq!(
        weak.key.verify(&weak.message, &weak.sig),
        SignatureCheck::Invalid
    );
}

#[test]
fn pem_line_endings_and_trailing_newline_do_not_matter() {
    for scheme in ["ecdsa-sha2-nistp256", "rsassa-pss-sha256"] {
        let v = first_valid(scheme, "");
        let pem = &v.key.keyval.public;
        for variant in [pem.trim_end().to_string(), pem.replace('\n', "\r\n")] {
            let mut key = v.key.clone();
            key.keyval.public = variant;
            assert_eq!(
                key.verify(&v.message, &v.sig),
                SignatureCheck::Valid,
                "{}",
                v.name
            );
        }
    }
}

/// A root made and signed by python-tuf with an ed25519, an ecdsa and an rsa key, root
/// threshold 3: it verifies only if canonical JSON and all three schemes match the reference.
#[test]
fn python_tuf_root_signed_with_all_three_key_types_verifies() {
    let bytes = read_vector_file("root.json");
    let envelope = SignedEnvelope::from_slice(&bytes, "root.json").unwrap();
    let message = update_core::canonical::to_canonical_bytes(&envelope.signed).unwrap();
    let keys: BTreeMap<String, PublicKey> =
        serde_json::from_value(envelope.signed["keys"].clone()).unwrap();
    let mut keytypes = BTreeSet::new();
    for signature in &envelope.signatures {
        let key = &keys[&signature.keyid];
        assert_eq!(key.key_id().unwrap(), signature.keyid);
        let sig = hex::decode(&signature.sig).unwrap();
        assert_eq!(
            key.verify(&message, &sig),
            SignatureCheck::Valid,
            "{}",
            key.keytype
        );
        keytypes.insert(key.keytype.as_str());
    }
    assert_eq!(keytypes, BTreeSet::from(["ecdsa", "ed25519", "rsa"]));

    let root = update_core::trust::verify_self_signed_root(&envelope).unwrap();
    assert_eq!(root.version, 1);

    for (at, bad_sig) in [(1, "zz"), (2, "")] {
        let mut one_bad = envelope.clone();
        one_bad.signatures[at].sig = bad_sig.into();
        assert!(update_core::trust::verify_self_signed_root(&one_bad).is_err());
    }
}
