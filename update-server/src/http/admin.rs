//! The admin API: images, root and targets uploads, class approval and fleet status
//! (device enrolment: `enrollment`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use update_core::api::{ApprovedRelease, FleetStatus, Release};
use update_core::firmware::check_identifier;

use super::AppState;
use super::audit::AuditSubject;
use super::auth::{AdminAuth, needs};
use super::body::{ApiJson, RawBody};
use super::error::ApiError;
use crate::fleet::Catalogue;
use crate::status::FleetFacts;
use crate::store::blobs::BlobId;
use update_core::api::TargetsPublished;

/// Body of a successful image upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredImage {
    pub sha256: String,
    pub length: u64,
}

/// Body of a successful root upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootUpdated {
    pub root_version: u64,
}

fn image_id(sha256: &str) -> Result<BlobId, ApiError> {
    BlobId::parse(sha256).map_err(|e| ApiError::BadRequest(e.to_string()))
}

pub async fn has_image(
    _admin: AdminAuth<needs::Read>,
    State(state): State<AppState>,
    Path(sha256): Path<String>,
) -> Result<StatusCode, ApiError> {
    match state.blobs.len(&image_id(&sha256)?).await? {
        Some(_) => Ok(StatusCode::OK),
        None => Err(ApiError::NotFound(format!("no image {sha256}"))),
    }
}

/// Streams the body into the blob store; nothing is kept unless it hashes to `{sha256}`.
pub async fn upload_image(
    admin: AdminAuth<needs::Publish>,
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<StoredImage>), ApiError> {
    let id = image_id(&sha256)?;
    let limit = state.max_image_size;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::TooLarge(format!(
            "image is larger than the server's limit of {limit} bytes"
        )));
    }
    let stored = state
        .blobs
        .put_stream(Some(&id), limit, body.into_data_stream())
        .await?;
    tracing::info!(admin = %admin.token_name, sha256 = %stored.id, length = stored.length, "stored image");
    Ok((
        StatusCode::CREATED,
        Json(StoredImage {
            sha256: stored.id.to_string(),
            length: stored.length,
        }),
    ))
}

pub async fn put_root(
    admin: AdminAuth<needs::Publish>,
    State(state): State<AppState>,
    RawBody(bytes): RawBody,
) -> Result<Json<RootUpdated>, ApiError> {
    let root_version = state.repository.update_root(&bytes).await?;
    tracing::info!(admin = %admin.token_name, root_version, "root uploaded");
    Ok(Json(RootUpdated { root_version }))
}

pub async fn put_targets(
    admin: AdminAuth<needs::Publish>,
    State(state): State<AppState>,
    RawBody(bytes): RawBody,
) -> Result<(Extension<AuditSubject>, Json<TargetsPublished>), ApiError> {
    let published = state.repository.publish_targets(&bytes).await?;
    tracing::info!(admin = %admin.token_name, targets = published.targets_version, "targets uploaded");
    let subject = AuditSubject(format!("targets_version={}", published.targets_version));
    Ok((Extension(subject), Json(published)))
}

/// Lets a device retry a release that failed on it (at its next check-in).
pub async fn retry_device(
    admin: AdminAuth<needs::Rollout>,
    State(state): State<AppState>,
    Path(device_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.store.request_retry(&device_id).await? {
        return Err(ApiError::NotFound(format!("no device {device_id:?}")));
    }
    tracing::info!(admin = %admin.token_name, device = %device_id, "retry of a failed release allowed");
    Ok(StatusCode::NO_CONTENT)
}

/// Pins a class to one of its currently published releases; answers with that release.
pub async fn approve_release(
    admin: AdminAuth<needs::Rollout>,
    State(state): State<AppState>,
    Path(class): Path<String>,
    ApiJson(approved): ApiJson<ApprovedRelease>,
) -> Result<Json<Release>, ApiError> {
    check_identifier("class", &class).map_err(ApiError::BadRequest)?;
    let catalogue = Catalogue::load(&state.store).await?;
    let release = catalogue
        .release(&approved.target_name)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no currently published release {:?}",
                approved.target_name
            ))
        })?
        .clone();
    if release.class != class {
        return Err(ApiError::BadRequest(format!(
            "release {:?} is for class {:?}, not {class:?}",
            release.target_name, release.class
        )));
    }
    state.store.set_pin(&class, &release.target_name).await?;
    tracing::info!(admin = %admin.token_name, %class, target = %release.target_name, "approved release");
    Ok(Json(release))
}

pub async fn status(
    _admin: AdminAuth<needs::Read>,
    State(state): State<AppState>,
) -> Result<Json<FleetStatus>, ApiError> {
    Ok(Json(FleetFacts::load(&state.store).await?.status()))
}
