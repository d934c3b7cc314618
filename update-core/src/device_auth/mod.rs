//! Device request signatures: the subset of HTTP Message Signatures (RFC 9421) and
//! Content-Digest (RFC 9530) with which devices sign check-ins and reports, so the server
//! (or any RFC 9421 verifier) can tell which device sent a request and that nobody
//! changed it on the way.
//!
//! A signed request carries three headers:
//! - `Content-Digest: sha-256=:<base64 sha256(body)>:`
//! - `Signature-Input: ota=("@method" "@path" "content-digest");created=<unix s>;keyid="<device id>";alg="ed25519";nonce="<sequence>"`
//! - `Signature: ota=:<base64 ed25519 signature of the signature base>:`
//!
//! Replay protection does not trust device clocks: `nonce` is a per-device sequence the
//! server only accepts strictly increasing; `created` is informative.

mod header;
mod key;
#[cfg(test)]
mod tests;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

pub use header::MAX_HEADER_LEN;
pub use key::{DeviceKey, parse_public_key, public_key_hex};

/// Header names of a signed request.
pub const CONTENT_DIGEST: &str = "content-digest";
pub const SIGNATURE_INPUT: &str = "signature-input";
pub const SIGNATURE: &str = "signature";
/// Sent with a 401 when the signature was valid but its sequence was not above the last
/// one accepted: the lowest sequence the server would accept minus one.
pub const SEQUENCE_FLOOR: &str = "ota-sequence-floor";
/// The signature label in `Signature-Input` and `Signature`.
pub const LABEL: &str = "ota";
/// The covered components, in order.
const COMPONENTS: &str = r#"("@method" "@path" "content-digest")"#;

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceAuthError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("{0} header is longer than {MAX_HEADER_LEN} bytes")]
    HeaderTooLong(&'static str),
    #[error("malformed {header} header: {reason}")]
    Malformed {
        header: &'static str,
        reason: &'static str,
    },
    #[error("content-digest does not match the body")]
    DigestMismatch,
    #[error("signature invalid")]
    BadSignature,
    #[error("invalid public key: {0}")]
    BadPublicKey(&'static str),
}

/// The three headers of a signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    pub content_digest: String,
    pub signature_input: String,
    pub signature: String,
}

impl SignatureHeaders {
    /// `(name, value)` pairs, ready to add to a request.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (CONTENT_DIGEST, self.content_digest.as_str()),
            (SIGNATURE_INPUT, self.signature_input.as_str()),
            (SIGNATURE, self.signature.as_str()),
        ]
    }
}

/// The signature parameters of a request (`@signature-params` without the components).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParams {
    pub created: u64,
    /// The device id.
    pub key_id: String,
    /// The request's sequence number.
    pub sequence: u64,
}

impl SignatureParams {
    /// The value of `@signature-params`, also the `Signature-Input` member's value.
    pub fn serialize(&self) -> String {
        format!(
            "{COMPONENTS};created={};keyid=\"{}\";alg=\"ed25519\";nonce=\"{}\"",
            self.created, self.key_id, self.sequence
        )
    }
}

/// `sha-256=:<base64>:` of `body`.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", BASE64.encode(Sha256::digest(body)))
}

/// The RFC 9421 signature base of a request.
pub fn signature_base(method: &str, path: &str, digest: &str, params: &SignatureParams) -> String {
    format!(
        "\"@method\": {method}\n\"@path\": {path}\n\"content-digest\": {digest}\n\"@signature-params\": {}",
        params.serialize()
    )
}

/// Signs a request now (`created` from the system clock, informative only).
pub fn sign_request(
    key: &DeviceKey,
    device_id: &str,
    sequence: u64,
    method: &str,
    path: &str,
    body: &[u8],
) -> SignatureHeaders {
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    sign_request_at(key, device_id, sequence, created, method, path, body)
}

/// Signs a request with a given `created` time.
pub fn sign_request_at(
    key: &DeviceKey,
    device_id: &str,
    sequence: u64,
    created: u64,
    method: &str,
    path: &str,
    body: &[u8],
) -> SignatureHeaders {
    let params = SignatureParams {
        created,
        key_id: device_id.to_string(),
        sequence,
    };
    let digest = content_digest(body);
    let base = signature_base(method, path, &digest, &params);
    let signature = key.sign(base.as_bytes());
    SignatureHeaders {
        signature_input: format!("{LABEL}={}", params.serialize()),
        signature: format!("{LABEL}=:{}:", BASE64.encode(signature)),
        content_digest: digest,
    }
}

/// A request whose headers parsed and whose body matches its digest, not yet verified:
/// look up the public key of [`SignedRequest::params`]`.key_id`, then [`SignedRequest::verify`].
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub params: SignatureParams,
    base: String,
    signature: Signature,
}

impl SignedRequest {
    /// Parses the headers (each `None` when absent) and checks the body's digest.
    pub fn parse(
        content_digest_header: Option<&str>,
        signature_input: Option<&str>,
        signature: Option<&str>,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<SignedRequest, DeviceAuthError> {
        let digest = header::bounded(CONTENT_DIGEST, content_digest_header)?;
        let input = header::bounded(SIGNATURE_INPUT, signature_input)?;
        let signature = header::bounded(SIGNATURE, signature)?;
        let params = header::parse_signature_input(input)?;
        let signature = header::parse_signature(signature)?;
        header::check_digest_syntax(digest)?;
        if digest != content_digest(body) {
            return Err(DeviceAuthError::DigestMismatch);
        }
        Ok(SignedRequest {
            base: signature_base(method, path, digest, &params),
            params,
            signature,
        })
    }

    /// Checks the signature with the device's public key.
    pub fn verify(&self, public_key: &VerifyingKey) -> Result<(), DeviceAuthError> {
        public_key
            .verify_strict(self.base.as_bytes(), &self.signature)
            .map_err(|_| DeviceAuthError::BadSignature)
    }
}
