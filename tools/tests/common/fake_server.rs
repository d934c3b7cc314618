//! A stand-in for update-server's admin API on 127.0.0.1 (port 0), implementing the
//! contract of docs/interfaces.md closely enough to exercise `ota publish`, `status` and
//! `device add` over real HTTP: bearer token check, root updates verified with
//! update-core, images hashed as they stream in, targets verified against the root.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use futures_util::StreamExt;
use update_core::api::{
    ClassStatus, DeviceEnrollment, DeviceStatus, ErrorBody, FleetStatus, Outcomes,
};
use update_core::hash::StreamHasher;
use update_core::schema::{Root, SignedEnvelope, Targets};
use update_core::trust::{verify_root_update, verify_self_signed_root, verify_with_root};

pub const TOKEN: &str = "test-admin-token";

#[derive(Default)]
pub struct FakeState {
    pub root: Option<(Vec<u8>, Root)>,
    pub roots_received: Vec<u64>,
    pub images: BTreeMap<String, u64>,
    pub image_uploads: usize,
    pub targets: Option<(Vec<u8>, u64)>,
    pub devices: Vec<String>,
    /// Delegated roles: bytes and version by role name.
    pub roles: BTreeMap<String, (Vec<u8>, u64)>,
}

pub type Shared = Arc<Mutex<FakeState>>;

/// Starts the fake server, trusting `root` (if any) as its current root.
pub async fn start(root: Option<&[u8]>) -> (String, Shared) {
    let mut state = FakeState::default();
    if let Some(bytes) = root {
        let envelope = SignedEnvelope::from_slice(bytes, "root").unwrap();
        let verified = verify_self_signed_root(&envelope).unwrap();
        state.root = Some((bytes.to_vec(), verified.into_inner()));
    }
    let shared = Arc::new(Mutex::new(state));
    let app = Router::new()
        .route("/metadata/{file}", get(metadata))
        .route(
            "/api/v1/admin/images/{sha}",
            put(put_image).head(head_image),
        )
        .route("/api/v1/admin/metadata/root", put(put_root))
        .route("/api/v1/admin/metadata/targets", put(put_targets))
        .route("/api/v1/admin/metadata/delegations/{role}", put(put_role))
        .route("/api/v1/admin/status", get(status))
        .route("/api/v1/admin/devices", post(enroll))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, shared)
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(ErrorBody {
            error: message.to_string(),
        }),
    )
        .into_response()
}

fn authorised(headers: &HeaderMap) -> bool {
    let expected = format!("Bearer {TOKEN}");
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

fn unauthorised() -> Response {
    error(StatusCode::UNAUTHORIZED, "unknown admin token")
}

async fn metadata(State(state): State<Shared>, Path(file): Path<String>) -> Response {
    let state = state.lock().unwrap();
    let bytes = match file.as_str() {
        "root.json" => state.root.as_ref().map(|(bytes, _)| bytes.clone()),
        "targets.json" => state.targets.as_ref().map(|(bytes, _)| bytes.clone()),
        other => other
            .strip_suffix(".json")
            .and_then(|role| state.roles.get(role))
            .map(|(bytes, _)| bytes.clone()),
    };
    match bytes {
        Some(bytes) => bytes.into_response(),
        None => error(StatusCode::NOT_FOUND, "no such metadata"),
    }
}

async fn head_image(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(sha): Path<String>,
) -> Response {
    if !authorised(&headers) {
        return unauthorised();
    }
    if state.lock().unwrap().images.contains_key(&sha) {
        StatusCode::OK.into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

async fn put_image(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(sha): Path<String>,
    body: Body,
) -> Response {
    if !authorised(&headers) {
        return unauthorised();
    }
    let mut hasher = StreamHasher::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => hasher.update(&bytes),
            Err(_) => return error(StatusCode::BAD_REQUEST, "body interrupted"),
        }
    }
    let (length, actual) = hasher.finish();
    if actual != sha {
        return error(StatusCode::BAD_REQUEST, "image does not hash to its name");
    }
    let mut state = state.lock().unwrap();
    state.images.insert(sha, length);
    state.image_uploads += 1;
    StatusCode::CREATED.into_response()
}

async fn put_root(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&headers) {
        return unauthorised();
    }
    let mut state = state.lock().unwrap();
    let Some((_, current)) = &state.root else {
        return error(StatusCode::CONFLICT, "no root");
    };
    let verified = SignedEnvelope::from_slice(&body, "root")
        .and_then(|envelope| verify_root_update(current, &envelope));
    match verified {
        Ok(root) => {
            state.roots_received.push(root.version);
            state.root = Some((body.to_vec(), root.into_inner()));
            StatusCode::OK.into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

async fn put_targets(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&headers) {
        return unauthorised();
    }
    let mut state = state.lock().unwrap();
    let Some((_, root)) = &state.root else {
        return error(StatusCode::CONFLICT, "no root");
    };
    let verified = SignedEnvelope::from_slice(&body, "targets")
        .and_then(|envelope| verify_with_root::<Targets>(root, &envelope));
    let targets = match verified {
        Ok(targets) => targets,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    if state
        .targets
        .as_ref()
        .is_some_and(|(_, v)| *v >= targets.version)
    {
        return error(StatusCode::CONFLICT, "targets version not newer");
    }
    for target in targets.targets.values() {
        let sha = target.sha256().unwrap_or_default();
        if state.images.get(sha) != Some(&target.length) {
            return error(StatusCode::CONFLICT, "image missing");
        }
    }
    state.targets = Some((body.to_vec(), targets.version));
    Json(serde_json::json!({
        "targets_version": targets.version,
        "snapshot_version": targets.version,
        "timestamp_version": targets.version,
    }))
    .into_response()
}

/// A class role, verified against the delegation of the stored targets.json.
async fn put_role(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(role): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if !authorised(&headers) {
        return unauthorised();
    }
    let mut state = state.lock().unwrap();
    let Some((targets_bytes, _)) = &state.targets else {
        return error(StatusCode::CONFLICT, "no targets");
    };
    let top_level: Targets = SignedEnvelope::from_slice(targets_bytes, "targets")
        .and_then(|e| e.parse_unverified())
        .unwrap();
    let Some(delegations) = top_level.delegations else {
        return error(StatusCode::NOT_FOUND, "not delegated");
    };
    let Some(delegated) = delegations.roles.iter().find(|r| r.name == role) else {
        return error(StatusCode::NOT_FOUND, "not delegated");
    };
    let verified = SignedEnvelope::from_slice(&body, "role").and_then(|envelope| {
        update_core::trust::verify_role::<Targets>(
            &envelope,
            &role,
            &delegations.keys,
            &delegated.keyids,
            delegated.threshold,
        )
    });
    let targets = match verified {
        Ok(targets) => targets,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    for target in targets.targets.values() {
        let sha = target.sha256().unwrap_or_default();
        if state.images.get(sha) != Some(&target.length) {
            return error(StatusCode::CONFLICT, "image missing");
        }
    }
    state.roles.insert(role, (body.to_vec(), targets.version));
    Json(serde_json::json!({
        "targets_version": top_level.version,
        "snapshot_version": targets.version,
        "timestamp_version": targets.version,
    }))
    .into_response()
}

async fn status(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !authorised(&headers) {
        return unauthorised();
    }
    let state = state.lock().unwrap();
    let outcomes = Outcomes {
        success: 1,
        failure: 0,
        rolled_back: 1,
    };
    let devices = state
        .devices
        .iter()
        .map(|id| DeviceStatus {
            device_id: id.clone(),
            class: "camera".into(),
            firmware_version: Some(semver::Version::new(1, 1, 0)),
            boot_slot: Some(update_core::api::Slot::B),
            last_event: Some(update_core::api::UpdateEvent::RolledBack),
            last_reason: Some("health check failed\x1b[2J".into()),
            last_seen: None,
            clock_untrusted: false,
            source_address: None,
            relay: None,
            config_version: None,
            config_drift: None,
        })
        .collect();
    Json(FleetStatus {
        classes: vec![ClassStatus {
            class: "camera".into(),
            approved: None,
            devices: state.devices.len() as u64,
            on_approved: 0,
            versions: BTreeMap::from([("1.1.0".to_string(), state.devices.len() as u64)]),
            outcomes,
        }],
        devices,
        outcomes,
        payloads: vec![],
    })
    .into_response()
}

async fn enroll(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(enrollment): Json<DeviceEnrollment>,
) -> Response {
    if !authorised(&headers) {
        return unauthorised();
    }
    let mut state = state.lock().unwrap();
    if state.devices.contains(&enrollment.device_id) {
        return error(StatusCode::CONFLICT, "device exists");
    }
    state.devices.push(enrollment.device_id.clone());
    (StatusCode::CREATED, Json(enrollment)).into_response()
}
