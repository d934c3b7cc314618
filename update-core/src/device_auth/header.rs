//! Parsing of the signature headers: hostile input, so only the exact structured-field
//! subset we emit is accepted (RFC 8941 items, no escapes, no extra members or
//! parameters), every header is length-bounded, and nothing here can panic.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::Signature;

use super::{COMPONENTS, DeviceAuthError, LABEL, SIGNATURE, SIGNATURE_INPUT, SignatureParams};

/// Longest accepted value of any signature header.
pub const MAX_HEADER_LEN: usize = 1024;
/// Longest `keyid` (a device id).
const MAX_KEY_ID: usize = 64;

fn malformed(header: &'static str, reason: &'static str) -> DeviceAuthError {
    DeviceAuthError::Malformed { header, reason }
}

/// The header's value if present and within [`MAX_HEADER_LEN`].
pub(super) fn bounded<'a>(
    name: &'static str,
    value: Option<&'a str>,
) -> Result<&'a str, DeviceAuthError> {
    let value = value.ok_or(DeviceAuthError::MissingHeader(name))?;
    if value.len() > MAX_HEADER_LEN {
        return Err(DeviceAuthError::HeaderTooLong(name));
    }
    Ok(value)
}

/// `sha-256=:<base64 of 32 bytes>:`, nothing else.
pub(super) fn check_digest_syntax(value: &str) -> Result<(), DeviceAuthError> {
    let header = super::CONTENT_DIGEST;
    let encoded = value
        .strip_prefix("sha-256=:")
        .and_then(|rest| rest.strip_suffix(':'))
        .ok_or(malformed(header, "expected sha-256=:<base64>:"))?;
    match BASE64.decode(encoded) {
        Ok(bytes) if bytes.len() == 32 => Ok(()),
        _ => Err(malformed(header, "sha-256 must be base64 of 32 bytes")),
    }
}

/// `ota=:<base64 of 64 bytes>:`.
pub(super) fn parse_signature(value: &str) -> Result<Signature, DeviceAuthError> {
    let encoded = value
        .strip_prefix(LABEL)
        .and_then(|rest| rest.strip_prefix("=:"))
        .and_then(|rest| rest.strip_suffix(':'))
        .ok_or(malformed(SIGNATURE, "expected ota=:<base64>:"))?;
    let bytes = BASE64
        .decode(encoded)
        .map_err(|_| malformed(SIGNATURE, "not base64"))?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|_| malformed(SIGNATURE, "an ed25519 signature is 64 bytes"))?;
    Ok(Signature::from_bytes(&bytes))
}

/// `ota=("@method" "@path" "content-digest");created=N;keyid="ID";alg="ed25519";nonce="N"`,
/// parameters in that order: what [`SignatureParams::serialize`] writes, byte for byte.
pub(super) fn parse_signature_input(value: &str) -> Result<SignatureParams, DeviceAuthError> {
    let rest = value
        .strip_prefix(LABEL)
        .and_then(|rest| rest.strip_prefix('='))
        .ok_or(malformed(
            SIGNATURE_INPUT,
            "expected one member labelled ota",
        ))?;
    let rest = rest.strip_prefix(COMPONENTS).ok_or(malformed(
        SIGNATURE_INPUT,
        "covered components must be (\"@method\" \"@path\" \"content-digest\")",
    ))?;
    let mut params = rest.split(';');
    if params.next() != Some("") {
        return Err(malformed(
            SIGNATURE_INPUT,
            "parameters must follow the components",
        ));
    }
    let created = integer(param(params.next(), "created")?)?;
    let key_id = string(param(params.next(), "keyid")?)?;
    if string(param(params.next(), "alg")?)? != "ed25519" {
        return Err(malformed(SIGNATURE_INPUT, "alg must be ed25519"));
    }
    let sequence = integer(string(param(params.next(), "nonce")?)?)?;
    if params.next().is_some() {
        return Err(malformed(SIGNATURE_INPUT, "unexpected parameter"));
    }
    check_key_id(key_id)?;
    let parsed = SignatureParams {
        created,
        key_id: key_id.to_string(),
        sequence,
    };
    // Rejects leading zeros and any other second spelling of the same parameters.
    if format!("{LABEL}={}", parsed.serialize()) != value {
        return Err(malformed(SIGNATURE_INPUT, "not in canonical form"));
    }
    Ok(parsed)
}

fn param<'a>(item: Option<&'a str>, name: &str) -> Result<&'a str, DeviceAuthError> {
    item.and_then(|item| item.split_once('='))
        .filter(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .ok_or(malformed(
            SIGNATURE_INPUT,
            "parameters must be created, keyid, alg, nonce in that order",
        ))
}

/// A decimal u64 without sign or leading zeros.
fn integer(text: &str) -> Result<u64, DeviceAuthError> {
    let digits_only =
        !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (text.len() > 1 && text.starts_with('0')) {
        return Err(malformed(SIGNATURE_INPUT, "expected a decimal integer"));
    }
    text.parse()
        .map_err(|_| malformed(SIGNATURE_INPUT, "integer out of range"))
}

/// A structured-field string without escapes.
fn string(text: &str) -> Result<&str, DeviceAuthError> {
    text.strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|inner| !inner.contains(['"', '\\']))
        .ok_or(malformed(SIGNATURE_INPUT, "expected a quoted string"))
}

/// A device id: what `update_core::firmware::check_identifier` allows.
fn check_key_id(key_id: &str) -> Result<(), DeviceAuthError> {
    let allowed = key_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if key_id.is_empty() || key_id.len() > MAX_KEY_ID || !allowed || key_id.starts_with('.') {
        return Err(malformed(SIGNATURE_INPUT, "keyid is not a device id"));
    }
    Ok(())
}
