//! `PUT /api/v1/admin/metadata/delegations/{role}`: publishing a new version of a class's
//! delegated targets role (docs/delegations.md).

use axum::Json;
use axum::extract::{Path, State};
use update_core::api::TargetsPublished;
use update_core::firmware::check_identifier;

use super::AppState;
use super::auth::{AdminAuth, needs};
use super::body::RawBody;
use super::error::ApiError;

pub async fn put_role(
    admin: AdminAuth<needs::Publish>,
    State(state): State<AppState>,
    Path(role): Path<String>,
    RawBody(bytes): RawBody,
) -> Result<Json<TargetsPublished>, ApiError> {
    check_identifier("role name", &role).map_err(ApiError::BadRequest)?;
    let published = state.repository.publish_delegated(&role, &bytes).await?;
    tracing::info!(
        admin = %admin.token_name,
        role = %role,
        snapshot = published.snapshot_version,
        "delegated role uploaded"
    );
    Ok(Json(published))
}
