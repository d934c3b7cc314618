//! An HTTP server on 127.0.0.1:0 serving a repository (with Range, If-Range and an ETag
//! of each file's sha256, as update-server does) and faking the device API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use update_core::api::{Assignment, CheckIn, CheckInResponse, Report};

use super::device_key;
use super::repo::{ReleaseSpec, Repo};

/// What the test server sends for a path.
#[derive(Clone)]
pub enum Served {
    Bytes(Vec<u8>),
    /// Zeros forever, in 64 KiB chunks, without a Content-Length.
    Endless,
}

#[derive(Default)]
pub struct ServerState {
    pub files: Mutex<HashMap<String, Served>>,
    pub assignment: Mutex<Option<Assignment>>,
    pub checkins: Mutex<Vec<CheckIn>>,
    pub reports: Mutex<Vec<Report>>,
    /// Bytes the endless responses produced so far.
    pub endless_bytes: AtomicU64,
    pub requests: Mutex<Vec<String>>,
    /// The `Range` header of each request that had one.
    pub ranges: Mutex<Vec<String>>,
    /// The last request sequence accepted, as update-server keeps it per device.
    pub last_sequence: Mutex<u64>,
}

impl ServerState {
    pub fn serve_repo(&self, repo: &Repo) {
        let mut files = self.files.lock().unwrap();
        for (path, bytes) in &repo.files {
            files.insert(path.clone(), Served::Bytes(bytes.clone()));
        }
    }

    pub fn assign(&self, release: &ReleaseSpec) {
        *self.assignment.lock().unwrap() = Some(Assignment {
            target_name: release.name.clone(),
            version: release.version.clone(),
            retry: false,
            hold: None,
        });
    }

    pub fn events(&self) -> Vec<String> {
        let reports = self.reports.lock().unwrap();
        reports.iter().map(|r| r.event.to_string()).collect()
    }
}

pub struct TestServer {
    pub url: String,
    pub state: Arc<ServerState>,
}

/// Starts the server on 127.0.0.1:0 in the current tokio runtime.
pub async fn start_server() -> TestServer {
    let state = Arc::new(ServerState::default());
    let app = Router::new().fallback(handle).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestServer { url, state }
}

static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

async fn handle(
    axum::extract::State(state): axum::extract::State<Arc<ServerState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    state.requests.lock().unwrap().push(path.clone());
    if let Some(range) = headers.get("range").and_then(|v| v.to_str().ok()) {
        state.ranges.lock().unwrap().push(range.to_string());
    }
    if path.starts_with("/api/") {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        use update_core::device_auth as auth;
        let signed = auth::SignedRequest::parse(
            header(auth::CONTENT_DIGEST),
            header(auth::SIGNATURE_INPUT),
            header(auth::SIGNATURE),
            method.as_str(),
            &path,
            &body,
        );
        let verified = signed.and_then(|s| s.verify(&device_key().verifying_key()).map(|()| s));
        let Ok(signed) = verified else {
            return (StatusCode::UNAUTHORIZED, r#"{"error":"signature invalid"}"#).into_response();
        };
        let mut last = state.last_sequence.lock().unwrap();
        if signed.params.sequence <= *last {
            let floor = last.to_string();
            return (
                StatusCode::UNAUTHORIZED,
                [(auth::SEQUENCE_FLOOR, floor)],
                r#"{"error":"stale"}"#,
            )
                .into_response();
        }
        *last = signed.params.sequence;
        drop(last);
        return match path.as_str() {
            "/api/v1/device/checkin" => {
                let checkin: CheckIn = serde_json::from_slice(&body).unwrap();
                state.checkins.lock().unwrap().push(checkin);
                let response = CheckInResponse {
                    assignment: state.assignment.lock().unwrap().clone(),
                    poll_interval_secs: 1,
                };
                axum::Json(response).into_response()
            }
            "/api/v1/device/report" => {
                let report: Report = serde_json::from_slice(&body).unwrap();
                state.reports.lock().unwrap().push(report);
                StatusCode::NO_CONTENT.into_response()
            }
            _ => StatusCode::NOT_FOUND.into_response(),
        };
    }
    let served = state.files.lock().unwrap().get(&path).cloned();
    match served {
        None => (StatusCode::NOT_FOUND, r#"{"error":"not found"}"#).into_response(),
        Some(Served::Bytes(bytes)) => {
            let etag = format!("\"{}\"", update_core::hash::sha256_hex(&bytes));
            super::ranged::respond(
                &bytes,
                &super::ranged::Serving::faithful(Some(etag)),
                &headers,
            )
        }
        Some(Served::Endless) => {
            let counter = state.clone();
            let stream = futures_util::stream::repeat_with(move || {
                counter
                    .endless_bytes
                    .fetch_add(ZEROS.len() as u64, Ordering::SeqCst);
                Ok::<_, std::convert::Infallible>(Bytes::from_static(&ZEROS))
            });
            Body::from_stream(stream).into_response()
        }
    }
}
