use proptest::prelude::*;

use super::*;

/// RFC 8032 test key 1.
const SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const BODY: &[u8] = br#"{"device_id":"dev-001"}"#;
const PATH: &str = "/api/v1/device/checkin";

fn key() -> DeviceKey {
    let mut secret = [0u8; 32];
    hex::decode_to_slice(SECRET, &mut secret).unwrap();
    DeviceKey::from_secret_bytes(&secret)
}

fn signed() -> SignatureHeaders {
    sign_request_at(
        &key(),
        "dev-001",
        1_700_000_000_000_001,
        1_700_000_000,
        "POST",
        PATH,
        BODY,
    )
}

fn parse(
    headers: &SignatureHeaders,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<SignedRequest, DeviceAuthError> {
    SignedRequest::parse(
        Some(&headers.content_digest),
        Some(&headers.signature_input),
        Some(&headers.signature),
        method,
        path,
        body,
    )
}

fn check(
    headers: &SignatureHeaders,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<SignatureParams, DeviceAuthError> {
    let request = parse(headers, method, path, body)?;
    request.verify(&key().verifying_key())?;
    Ok(request.params)
}

#[test]
fn test_vector_fixes_the_wire_format() {
    let headers = signed();
    assert_eq!(
        key().public_key_hex(),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    assert_eq!(
        headers.content_digest,
        "sha-256=:GscVtO/ZpEaABK0fKVN2HlO+/G4+/ekV0TLz6fcr6Ws=:"
    );
    assert_eq!(
        headers.signature_input,
        r#"ota=("@method" "@path" "content-digest");created=1700000000;keyid="dev-001";alg="ed25519";nonce="1700000000000001""#
    );
    let params = parse(&headers, "POST", PATH, BODY).unwrap().params;
    assert_eq!(
        signature_base("POST", PATH, &headers.content_digest, &params),
        "\"@method\": POST\n\"@path\": /api/v1/device/checkin\n\"content-digest\": sha-256=:GscVtO/ZpEaABK0fKVN2HlO+/G4+/ekV0TLz6fcr6Ws=:\n\"@signature-params\": (\"@method\" \"@path\" \"content-digest\");created=1700000000;keyid=\"dev-001\";alg=\"ed25519\";nonce=\"1700000000000001\""
    );
    assert_eq!(
        headers.signature,
        "ota=:GYTEG51Ke8oHdvH4sBbigfBqrAjOhcImKPcVCmq6sqLI3k9hgXCGijfE4khunRvHutJEXw3LWOqjx3DVF0fbBQ==:"
    );
}

#[test]
fn a_signed_request_verifies_and_names_its_device_and_sequence() {
    let params = check(&signed(), "POST", PATH, BODY).unwrap();
    assert_eq!(params.key_id, "dev-001");
    assert_eq!(params.sequence, 1_700_000_000_000_001);
    assert_eq!(params.created, 1_700_000_000);
}

#[test]
fn tampering_with_body_method_path_or_parameters_is_refused() {
    let headers = signed();
    assert_eq!(
        check(&headers, "POST", PATH, b"{}"),
        Err(DeviceAuthError::DigestMismatch)
    );
    assert_eq!(
        check(&headers, "PUT", PATH, BODY),
        Err(DeviceAuthError::BadSignature)
    );
    assert_eq!(
        check(&headers, "POST", "/api/v1/device/report", BODY),
        Err(DeviceAuthError::BadSignature)
    );
    // A body and a digest both replaced: the signature covers the digest.
    let mut swapped = headers.clone();
    swapped.content_digest = content_digest(b"{}");
    assert_eq!(
        check(&swapped, "POST", PATH, b"{}"),
        Err(DeviceAuthError::BadSignature)
    );
    for (from, to) in [
        ("nonce=\"1700000000000001\"", "nonce=\"1700000000000002\""),
        ("keyid=\"dev-001\"", "keyid=\"dev-002\""),
        ("created=1700000000", "created=1700000001"),
    ] {
        let mut changed = headers.clone();
        changed.signature_input = headers.signature_input.replace(from, to);
        assert_eq!(
            check(&changed, "POST", PATH, BODY),
            Err(DeviceAuthError::BadSignature)
        );
    }
    let other = DeviceKey::generate();
    let request = parse(&headers, "POST", PATH, BODY).unwrap();
    assert_eq!(
        request.verify(&other.verifying_key()),
        Err(DeviceAuthError::BadSignature)
    );
}

#[test]
fn headers_outside_the_exact_subset_are_malformed() {
    let headers = signed();
    let input = headers.signature_input.clone();
    for bad in [
        input.replace("ota=", "sig1="),
        input.replace(r#" "content-digest""#, ""),
        input.replace("alg=\"ed25519\"", "alg=\"hmac-sha256\""),
        input.replace("created=1700000000", "created=01700000000"),
        input.replace("nonce=\"1700000000000001\"", "nonce=\"-1\""),
        input.replace(
            "nonce=\"1700000000000001\"",
            "nonce=\"99999999999999999999\"",
        ),
        input.replace("keyid=\"dev-001\"", "keyid=\"dev\\\"001\""),
        input.replace("keyid=\"dev-001\"", "keyid=\"../x\""),
        format!("{input};expires=1"),
        format!("{input}, sig2=()"),
    ] {
        let mut changed = headers.clone();
        changed.signature_input = bad.clone();
        assert!(
            matches!(
                parse(&changed, "POST", PATH, BODY),
                Err(DeviceAuthError::Malformed { .. })
            ),
            "{bad}"
        );
    }
    let mut short = headers.clone();
    short.signature = "ota=:AAAA:".into();
    assert!(matches!(
        parse(&short, "POST", PATH, BODY),
        Err(DeviceAuthError::Malformed { .. })
    ));
    let mut digest = headers.clone();
    digest.content_digest = "sha-512=:AAAA:".into();
    assert!(matches!(
        parse(&digest, "POST", PATH, BODY),
        Err(DeviceAuthError::Malformed { .. })
    ));
    let mut long = headers.clone();
    long.signature = format!("ota=:{}:", "A".repeat(MAX_HEADER_LEN));
    assert_eq!(
        parse(&long, "POST", PATH, BODY).unwrap_err(),
        DeviceAuthError::HeaderTooLong(SIGNATURE)
    );
    let missing = SignedRequest::parse(
        None,
        Some(&input),
        Some(&headers.signature),
        "POST",
        PATH,
        BODY,
    );
    assert_eq!(
        missing.unwrap_err(),
        DeviceAuthError::MissingHeader(CONTENT_DIGEST)
    );
}

#[test]
fn public_keys_are_64_lowercase_hex_digits_of_a_point() {
    let hex = key().public_key_hex();
    assert_eq!(parse_public_key(&hex).unwrap(), key().verifying_key());
    assert!(parse_public_key(&hex.to_uppercase()).is_err());
    assert!(parse_public_key(&hex[..62]).is_err());
    assert!(parse_public_key(&"0".repeat(64)).is_err());
    let pem = key().to_pkcs8_pem().unwrap();
    assert_eq!(
        DeviceKey::from_pkcs8_pem(&pem).unwrap().public_key_hex(),
        hex
    );
    assert!(!format!("{:?}", key()).contains(SECRET));
}

proptest! {
    #[test]
    fn hostile_headers_never_panic(digest in ".{0,200}", input in ".{0,300}", signature in ".{0,200}") {
        let _ = SignedRequest::parse(Some(&digest), Some(&input), Some(&signature), "POST", PATH, BODY);
    }

    #[test]
    fn near_miss_signature_inputs_never_panic(suffix in "[;=\"a-z0-9()@ -]{0,80}") {
        let input = format!("ota=(\"@method\" \"@path\" \"content-digest\"){suffix}");
        let headers = signed();
        let _ = SignedRequest::parse(Some(&headers.content_digest), Some(&input), Some(&headers.signature), "POST", PATH, BODY);
    }
}
