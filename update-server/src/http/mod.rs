//! The HTTP interface: one axum router for the repository, the device and admin APIs,
//! `/metrics` and `/healthz`.

mod admin;
mod audit;
mod auth;
mod body;
mod classes;
mod delegations;
mod device;
mod device_auth;
mod device_config;
mod enrollment;
mod error;
mod latency;
mod repository;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use tower_http::trace::TraceLayer;
use update_core::api::paths;

pub use admin::{RootUpdated, StoredImage};
pub use audit::MAX_AUDIT_LIMIT;
pub use auth::{AdminAuth, RequiredScope, needs};
pub use error::ApiError;

use crate::class_facts::ClassFactsCache;
use crate::device_keys::DeviceKeys;
use crate::metrics::{ControlInputs, RequestMetrics};
use crate::relays::Relays;
use crate::repository::{MAX_METADATA_SIZE, Repository};
use crate::status::FleetFacts;
use crate::store::Store;
use crate::store::blobs::BlobStore;

/// Limit of JSON request bodies.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub blobs: BlobStore,
    pub repository: Arc<Repository>,
    pub poll_interval: Duration,
    pub max_image_size: u64,
    pub requests: RequestMetrics,
    /// Proxies trusted to forward device addresses.
    pub relays: Arc<Relays>,
    /// What check-ins read about classes, kept in memory.
    pub class_facts: Arc<ClassFactsCache>,
    /// Device keys, kept in memory after their first use.
    pub device_keys: Arc<DeviceKeys>,
}

pub fn router(state: AppState) -> Router {
    let json_limit = || DefaultBodyLimit::max(JSON_BODY_LIMIT);
    let metadata_limit =
        || DefaultBodyLimit::max(usize::try_from(MAX_METADATA_SIZE).unwrap_or(usize::MAX));
    Router::new()
        .route(
            &format!("{}/{{file}}", paths::METADATA),
            get(repository::metadata),
        )
        .route(
            &format!("{}/{{*path}}", paths::TARGETS),
            get(repository::target),
        )
        .route(paths::CHECKIN, post(device::check_in).layer(json_limit()))
        .route(paths::REPORT, post(device::report).layer(json_limit()))
        .route(
            &format!("{}/{{sha256}}", paths::ADMIN_IMAGES),
            // Streamed with the server's own limit, enforced while streaming.
            put(admin::upload_image)
                .head(admin::has_image)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            paths::ADMIN_ROOT,
            put(admin::put_root).layer(metadata_limit()),
        )
        .route(
            paths::ADMIN_TARGETS,
            put(admin::put_targets).layer(metadata_limit()),
        )
        .route(
            &format!("{}/{{role}}", paths::ADMIN_DELEGATIONS),
            put(delegations::put_role).layer(metadata_limit()),
        )
        .route(
            paths::ADMIN_DEVICES,
            post(enrollment::enroll_device).layer(json_limit()),
        )
        .route(
            &format!("{}/{{device_id}}/{}", paths::ADMIN_DEVICES, paths::REVOKE),
            post(enrollment::revoke_device),
        )
        .route(
            &format!(
                "{}/{{class}}/{}",
                paths::ADMIN_CLASSES,
                paths::ENROLLMENT_SECRET
            ),
            put(enrollment::new_enrollment_secret),
        )
        .route(
            paths::ENROLL,
            post(enrollment::self_enroll).layer(json_limit()),
        )
        .route(
            &format!("{}/{{device_id}}/{}", paths::ADMIN_DEVICES, paths::RETRY),
            post(admin::retry_device),
        )
        .route(
            &format!("{}/{{class}}/approved", paths::ADMIN_CLASSES),
            put(admin::approve_release).layer(json_limit()),
        )
        .route(paths::ADMIN_CLASSES, get(classes::list_profiles))
        .route(
            &format!("{}/{{class}}", paths::ADMIN_CLASSES),
            put(classes::put_profile)
                .get(classes::get_profile)
                .layer(json_limit()),
        )
        .route(
            paths::ADMIN_ROLLOUTS,
            post(classes::start_rollout)
                .get(classes::list_rollouts)
                .layer(json_limit()),
        )
        .route(
            &format!("{}/{{id}}", paths::ADMIN_ROLLOUTS),
            get(classes::get_rollout),
        )
        .route(
            &format!("{}/{{id}}/{{action}}", paths::ADMIN_ROLLOUTS),
            post(classes::rollout_action),
        )
        .route(paths::ADMIN_STATUS, get(admin::status))
        .route(paths::ADMIN_AUDIT, get(audit::list))
        .route(paths::METRICS, get(metrics))
        .route(paths::HEALTH, get(|| async { "ok" }))
        // After the routes: only matched requests are timed, under their route's pattern.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            latency::record,
        ))
        // Every route under /api/v1/admin/, including any added later, is audited.
        .route_layer(middleware::from_fn_with_state(state.clone(), audit::record))
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let facts = FleetFacts::load(&state.store).await?;
    let unapproved_check_ins = state.store.unapproved_check_ins().await?;
    let install_durations = state.store.install_durations().await?;
    let controls = ControlInputs {
        default_poll: state.poll_interval,
        now: chrono::Utc::now(),
        unapproved_check_ins: &unapproved_check_ins,
        install_durations: &install_durations,
    };
    let text = crate::metrics::render(&facts, &controls, &state.requests)
        .map_err(|e| ApiError::Internal(format!("cannot encode metrics: {e}")))?;
    Ok(([(CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text))
}
