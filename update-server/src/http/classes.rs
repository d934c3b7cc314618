//! The admin API of class profiles and staged rollouts.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::Utc;
use rand::RngCore;
use serde::Deserialize;
use update_core::classes::{ClassProfile, RolloutSpec, RolloutState, RolloutStatus};
use update_core::firmware::check_identifier;

use super::AppState;
use super::audit::AuditSubject;
use super::auth::{AdminAuth, needs};
use super::body::ApiJson;
use super::error::ApiError;
use crate::rollout::{self, Action, RolloutError};
use crate::store::Store;

impl From<RolloutError> for ApiError {
    fn from(error: RolloutError) -> Self {
        match error {
            RolloutError::Store(store) => store.into(),
            RolloutError::NotFound(_) => ApiError::NotFound(error.to_string()),
            RolloutError::NotAllowed { .. } | RolloutError::Busy(_) => {
                ApiError::Conflict(error.to_string())
            }
        }
    }
}

/// `target_name` must be a currently published release of `class`.
async fn check_release_of(
    store: &Store,
    class: &str,
    target_name: &str,
) -> Result<semver::Version, ApiError> {
    let current = store.current_releases().await?;
    let release = current
        .iter()
        .find(|r| r.target_name == target_name)
        .ok_or_else(|| ApiError::NotFound(format!("no published release {target_name:?}")))?;
    if release.class != class {
        return Err(ApiError::BadRequest(format!(
            "release {target_name:?} is for class {:?}, not {class:?}",
            release.class
        )));
    }
    Ok(release.version.clone())
}

pub async fn put_profile(
    admin: AdminAuth<needs::Rollout>,
    State(state): State<AppState>,
    Path(class): Path<String>,
    ApiJson(profile): ApiJson<ClassProfile>,
) -> Result<Json<ClassProfile>, ApiError> {
    if profile.class != class {
        return Err(ApiError::BadRequest(format!(
            "the body is the profile of class {:?}, the path names {class:?}",
            profile.class
        )));
    }
    profile.validate().map_err(ApiError::BadRequest)?;
    if let Some(baseline) = &profile.baseline {
        check_release_of(&state.store, &class, baseline).await?;
    }
    state.store.put_profile(&profile).await?;
    tracing::info!(admin = %admin.token_name, class = %class, "class profile set");
    Ok(Json(profile))
}

pub async fn get_profile(
    _admin: AdminAuth<needs::Read>,
    State(state): State<AppState>,
    Path(class): Path<String>,
) -> Result<Json<ClassProfile>, ApiError> {
    check_identifier("class", &class).map_err(ApiError::BadRequest)?;
    let profile = state.store.profile(&class).await?;
    profile
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("class {class:?} has no profile")))
}

pub async fn list_profiles(
    _admin: AdminAuth<needs::Read>,
    State(state): State<AppState>,
) -> Result<Json<Vec<ClassProfile>>, ApiError> {
    Ok(Json(state.store.profiles().await?.into_values().collect()))
}

/// A new rollout id: short, random, safe in URLs.
fn rollout_id() -> String {
    let mut bytes = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("r-{}", hex::encode(bytes))
}

/// Starts a rollout. The class needs a baseline (its pin) other than the release rolled
/// out: without one, the newest release, this one, would be every device's baseline.
pub async fn start_rollout(
    admin: AdminAuth<needs::Rollout>,
    State(state): State<AppState>,
    ApiJson(spec): ApiJson<RolloutSpec>,
) -> Result<(StatusCode, Extension<AuditSubject>, Json<RolloutStatus>), ApiError> {
    spec.validate().map_err(ApiError::BadRequest)?;
    let version = check_release_of(&state.store, &spec.class, &spec.target_name).await?;
    let pins = state.store.pins().await?;
    match pins.get(&spec.class) {
        None => {
            return Err(ApiError::Conflict(format!(
                "class {:?} has no baseline release; set one first (ota class set --baseline)",
                spec.class
            )));
        }
        Some(baseline) if baseline == &spec.target_name => {
            return Err(ApiError::Conflict(format!(
                "{:?} already is the baseline of class {:?}",
                spec.target_name, spec.class
            )));
        }
        Some(_) => {}
    }
    let now = Utc::now();
    let mut status = RolloutStatus {
        id: rollout_id(),
        spec,
        version,
        state: RolloutState::Running,
        wave: 0,
        wave_opened_at: now,
        created_at: now,
        reason: None,
        waves: Vec::new(),
    };
    state.store.insert_rollout(&status).await?;
    rollout::refresh(&state.store, &mut status, now).await?;
    tracing::info!(admin = %admin.token_name, rollout = %status.id, class = %status.spec.class,
        target = %status.spec.target_name, "rollout started");
    let subject = AuditSubject(format!(
        "id={} class={} target={}",
        status.id, status.spec.class, status.spec.target_name
    ));
    Ok((StatusCode::CREATED, Extension(subject), Json(status)))
}

#[derive(Debug, Deserialize)]
pub struct RolloutFilter {
    class: Option<String>,
}

pub async fn list_rollouts(
    _admin: AdminAuth<needs::Read>,
    State(state): State<AppState>,
    Query(filter): Query<RolloutFilter>,
) -> Result<Json<Vec<RolloutStatus>>, ApiError> {
    if let Some(class) = &filter.class {
        check_identifier("class", class).map_err(ApiError::BadRequest)?;
    }
    let now = Utc::now();
    let mut rollouts = state.store.rollouts(filter.class.as_deref()).await?;
    for status in &mut rollouts {
        rollout::refresh(&state.store, status, now).await?;
    }
    Ok(Json(rollouts))
}

pub async fn get_rollout(
    _admin: AdminAuth<needs::Read>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RolloutStatus>, ApiError> {
    let mut status = state
        .store
        .rollout(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no rollout {id:?}")))?;
    rollout::refresh(&state.store, &mut status, Utc::now()).await?;
    Ok(Json(status))
}

pub async fn rollout_action(
    admin: AdminAuth<needs::Rollout>,
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<RolloutStatus>, ApiError> {
    let action = Action::parse(&action).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no rollout action {action:?}: pause, resume or abort"
        ))
    })?;
    let status = rollout::act(&state.store, &id, action, Utc::now()).await?;
    tracing::info!(admin = %admin.token_name, rollout = %id, state = %status.state, "rollout changed");
    Ok(Json(status))
}
