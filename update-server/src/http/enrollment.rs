//! Device enrolment and revocation: an operator registers a device's public key, or a
//! device enrols itself with its class's enrollment secret and proof that it holds the
//! key; revoking a device refuses its signatures from that instant.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use update_core::api::{DeviceEnrollment, EnrollmentSecret, SelfEnrollment};
use update_core::device_auth::parse_public_key;
use update_core::firmware::check_identifier;

use super::AppState;
use super::auth::{AdminAuth, needs};
use super::body::ApiJson;
use super::device_auth::{SignedBody, sequence_for_db};
use super::error::ApiError;
use crate::store::{EnrollOutcome, KeyEnrollment};
use crate::token::{generate_token, is_well_formed, token_hash};

fn check_enrollment(device_id: &str, class: &str, public_key: &str) -> Result<(), ApiError> {
    check_identifier("device id", device_id).map_err(ApiError::BadRequest)?;
    check_identifier("class", class).map_err(ApiError::BadRequest)?;
    parse_public_key(public_key).map_err(|e| ApiError::BadRequest(format!("public_key: {e}")))?;
    Ok(())
}

fn answer(
    outcome: EnrollOutcome,
    enrolled: DeviceEnrollment,
) -> Result<(StatusCode, Json<DeviceEnrollment>), ApiError> {
    match outcome {
        EnrollOutcome::Created => Ok((StatusCode::CREATED, Json(enrolled))),
        EnrollOutcome::Unchanged => Ok((StatusCode::OK, Json(enrolled))),
        EnrollOutcome::Conflict => Err(ApiError::Conflict(format!(
            "device {:?} is enrolled with another key or class",
            enrolled.device_id
        ))),
    }
}

/// `POST /api/v1/admin/devices`: 201 new, 200 the same key again, 409 the id has
/// another key (unless that one was revoked: then the new key replaces it).
pub async fn enroll_device(
    admin: AdminAuth<needs::Devices>,
    State(state): State<AppState>,
    ApiJson(enrollment): ApiJson<DeviceEnrollment>,
) -> Result<(StatusCode, Json<DeviceEnrollment>), ApiError> {
    check_enrollment(
        &enrollment.device_id,
        &enrollment.class,
        &enrollment.public_key,
    )?;
    let outcome = state
        .store
        .enroll_device_key(&KeyEnrollment {
            device_id: &enrollment.device_id,
            class: &enrollment.class,
            public_key: &enrollment.public_key,
            hardware_id: None,
            sequence: 0,
        })
        .await?;
    tracing::info!(target: "audit", admin = %admin.token_name, device = %enrollment.device_id,
        class = %enrollment.class, public_key = %enrollment.public_key, ?outcome, "device enrolment");
    answer(outcome, enrollment)
}

/// `POST /api/v1/admin/devices/{device_id}/revoke`: 204, 404 unknown device.
pub async fn revoke_device(
    admin: AdminAuth<needs::Devices>,
    State(state): State<AppState>,
    Path(device_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.store.revoke_device(&device_id).await? {
        return Err(ApiError::NotFound(format!("no device {device_id:?}")));
    }
    // Not needed for the refusal (the sequence check reads `revoked_at`), only tidy.
    state.device_keys.forget(&device_id);
    tracing::info!(target: "audit", admin = %admin.token_name, device = %device_id, "device revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/admin/classes/{class}/enrollment-secret`: 201 with a new secret, shown
/// once; the previous secret stops working.
pub async fn new_enrollment_secret(
    admin: AdminAuth<needs::Devices>,
    State(state): State<AppState>,
    Path(class): Path<String>,
) -> Result<(StatusCode, Json<EnrollmentSecret>), ApiError> {
    check_identifier("class", &class).map_err(ApiError::BadRequest)?;
    let secret = generate_token();
    state
        .store
        .set_enrollment_secret(&class, &token_hash(&secret))
        .await?;
    tracing::info!(target: "audit", admin = %admin.token_name, %class, "new enrollment secret");
    Ok((StatusCode::CREATED, Json(EnrollmentSecret { secret })))
}

/// `POST /api/v1/device/enroll`: the class's secret as bearer token, the request signed
/// by the key it registers, `keyid` the device id. 401 wrong secret or signature.
pub async fn self_enroll(
    State(state): State<AppState>,
    signed: SignedBody,
) -> Result<(StatusCode, Json<DeviceEnrollment>), ApiError> {
    let enrollment: SelfEnrollment = serde_json::from_slice(&signed.bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))?;
    check_enrollment(
        &enrollment.device_id,
        &enrollment.class,
        &enrollment.public_key,
    )?;
    check_identifier("hardware id", &enrollment.hardware_id).map_err(ApiError::BadRequest)?;
    let presented = signed
        .headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|secret| is_well_formed(secret))
        .ok_or(ApiError::Unauthorized)?;
    let expected = state.store.enrollment_secret(&enrollment.class).await?;
    if expected.as_deref() != Some(token_hash(presented).as_str()) {
        return Err(ApiError::Unauthorized);
    }
    // Proof of possession: signed by the key being registered, for the id being claimed.
    let key = parse_public_key(&enrollment.public_key)
        .map_err(|e| ApiError::BadRequest(format!("public_key: {e}")))?;
    if signed.request.params.key_id != enrollment.device_id {
        return Err(ApiError::SignatureRefused("signature invalid"));
    }
    signed
        .request
        .verify(&key)
        .map_err(|_| ApiError::SignatureRefused("signature invalid"))?;
    let outcome = state
        .store
        .enroll_device_key(&KeyEnrollment {
            device_id: &enrollment.device_id,
            class: &enrollment.class,
            public_key: &enrollment.public_key,
            hardware_id: Some(&enrollment.hardware_id),
            sequence: sequence_for_db(&signed.request)?,
        })
        .await?;
    tracing::info!(target: "audit", device = %enrollment.device_id, class = %enrollment.class,
        public_key = %enrollment.public_key, ?outcome, "device self-enrolment");
    answer(
        outcome,
        DeviceEnrollment {
            device_id: enrollment.device_id,
            class: enrollment.class,
            public_key: enrollment.public_key,
        },
    )
}
