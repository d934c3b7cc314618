//! Authentication of devices by their request signatures (`update_core::device_auth`).
//!
//! [`SignedDevice`] reads the (size-limited) body, checks its digest and signature with
//! the device's registered key, and accepts the request's sequence only if it is above
//! the last one accepted from that device (replay protection without device clocks).
//! Every refusal is a 401 that says no more than "signature invalid" or "unknown key".

use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use update_core::device_auth::{self, SignedRequest};

use super::AppState;
use super::body::RawBody;
use super::error::ApiError;

/// The device that signed a request.
#[derive(Debug)]
pub struct DeviceAuth {
    pub device_id: String,
    pub class: String,
}

impl DeviceAuth {
    /// 403 unless the body speaks for the signing device.
    pub fn require_self(&self, device_id: &str) -> Result<(), ApiError> {
        if device_id == self.device_id {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this request is signed by device {:?}, not {device_id:?}",
                self.device_id
            )))
        }
    }
}

/// A request signed by an enrolled, unrevoked device with a fresh sequence, and its
/// JSON body.
pub struct SignedDevice<T> {
    pub device: DeviceAuth,
    pub body: T,
}

/// A request whose signature headers parse and whose body matches its digest; the
/// signature is not yet checked (self-enrolment checks it against the key in the body).
pub struct SignedBody {
    pub request: SignedRequest,
    pub headers: HeaderMap,
    pub bytes: axum::body::Bytes,
}

const INVALID: ApiError = ApiError::SignatureRefused("signature invalid");
const UNKNOWN: ApiError = ApiError::SignatureRefused("unknown key");

fn header<'a>(parts: &'a HeaderMap, name: &str) -> Option<&'a str> {
    parts.get(name).and_then(|value| value.to_str().ok())
}

impl FromRequest<AppState> for SignedBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let (parts, body): (Parts, _) = request.into_parts();
        let method = parts.method.as_str().to_string();
        let path = parts.uri.path().to_string();
        let headers = parts.headers.clone();
        let RawBody(bytes) = RawBody::from_request(Request::from_parts(parts, body), state).await?;
        let request = SignedRequest::parse(
            header(&headers, device_auth::CONTENT_DIGEST),
            header(&headers, device_auth::SIGNATURE_INPUT),
            header(&headers, device_auth::SIGNATURE),
            &method,
            &path,
            &bytes,
        )
        .map_err(|e| {
            tracing::debug!(error = %e, "refused a device request");
            INVALID
        })?;
        Ok(SignedBody {
            request,
            headers,
            bytes,
        })
    }
}

/// The sequence as the database stores it (BIGINT); larger ones are refused.
pub fn sequence_for_db(request: &SignedRequest) -> Result<i64, ApiError> {
    i64::try_from(request.params.sequence).map_err(|_| INVALID)
}

impl<T: DeserializeOwned> FromRequest<AppState> for SignedDevice<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let SignedBody { request, bytes, .. } = SignedBody::from_request(request, state).await?;
        let device_id = request.params.key_id.as_str();
        let lookup = |reread| state.device_keys.get(&state.store, device_id, reread);
        let mut known = lookup(false).await?.ok_or(UNKNOWN)?;
        if request.verify(&known.key).is_err() {
            // The remembered key may have been replaced since (a new key enrolled after a
            // revocation, perhaps through another replica): ask the database once more.
            known = lookup(true).await?.ok_or(UNKNOWN)?;
            request.verify(&known.key).map_err(|_| INVALID)?;
        }
        let sequence = sequence_for_db(&request)?;
        if !state.store.advance_sequence(device_id, sequence).await? {
            // Revoked in the meantime: no floor, nothing to retry.
            let floor = state
                .store
                .sequence_floor(device_id)
                .await?
                .ok_or(UNKNOWN)?;
            return Err(ApiError::StaleSequence(u64::try_from(floor).unwrap_or(0)));
        }
        let body = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))?;
        Ok(SignedDevice {
            device: DeviceAuth {
                device_id: known.device_id.clone(),
                class: known.class.clone(),
            },
            body,
        })
    }
}
