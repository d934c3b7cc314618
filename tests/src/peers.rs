//! Hostile peers on loopback: a mirror serving a (tampered) copy of the repository, and a
//! proxy standing for a compromised server that lies in its check-in answers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tower_http::services::ServeDir;
use update_core::api::{Assignment, CheckIn, CheckInResponse, UpdateEvent, paths};
use update_core::layout::{consistent_target_path, url_path, versioned_metadata_name};
use update_core::schema::{Root, SignedEnvelope, Snapshot, Targets, Timestamp};

/// An HTTP server on a background thread; stops when dropped.
pub struct Peer {
    pub url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves `router` on 127.0.0.1 (an OS-chosen port) on a background thread.
pub fn spawn(router: Router) -> Peer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind peer");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}", listener.local_addr().expect("peer address"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
    });
    Peer {
        url,
        shutdown: Some(tx),
        thread: Some(thread),
    }
}

/// Serves `dir` (laid out as `metadata/…` and `targets/…`) as a TUF repository mirror.
pub fn mirror(dir: &Path) -> Peer {
    spawn(Router::new().fallback_service(ServeDir::new(dir)))
}

/// A copy of the repository a server publishes, on disk, ready to be tampered with.
pub struct RepositoryCopy {
    pub dir: PathBuf,
    pub root_version: u64,
    pub snapshot_version: u64,
    pub targets_version: u64,
}

impl RepositoryCopy {
    pub fn metadata(&self, name: &str) -> PathBuf {
        self.dir.join("metadata").join(name)
    }

    /// Path of a target file in the copy (consistent-snapshot name).
    pub fn target(&self, name: &str, sha256: &str) -> PathBuf {
        self.dir
            .join("targets")
            .join(consistent_target_path(name, sha256))
    }

    pub fn read_envelope(&self, name: &str) -> SignedEnvelope {
        let bytes = std::fs::read(self.metadata(name)).expect("read metadata copy");
        SignedEnvelope::from_slice(&bytes, name).expect("metadata copy parses")
    }

    pub fn write_envelope(&self, name: &str, envelope: &SignedEnvelope) {
        std::fs::write(self.metadata(name), envelope.to_bytes().expect("serialise"))
            .expect("write metadata copy");
    }
}

/// Downloads everything `server_url` publishes now into `dir`.
pub fn copy_repository(server_url: &str, dir: &Path) -> RepositoryCopy {
    let client = reqwest::blocking::Client::new();
    let get = |path: &str| -> Option<Vec<u8>> {
        let response = client
            .get(format!("{server_url}{path}"))
            .send()
            .expect("GET from server");
        response
            .status()
            .is_success()
            .then(|| response.bytes().expect("body").to_vec())
    };
    let metadata = dir.join("metadata");
    std::fs::create_dir_all(&metadata).expect("metadata dir");
    let save = |name: &str, bytes: &[u8]| std::fs::write(metadata.join(name), bytes).expect("save");

    let mut root_version = 0;
    while let Some(bytes) = get(&format!(
        "/metadata/{}",
        versioned_metadata_name(root_version + 1, "root")
    )) {
        root_version += 1;
        save(&versioned_metadata_name(root_version, "root"), &bytes);
        save("root.json", &bytes);
    }
    let timestamp_bytes = get("/metadata/timestamp.json").expect("server publishes a timestamp");
    save("timestamp.json", &timestamp_bytes);
    let timestamp: Timestamp = parse(&timestamp_bytes);
    let snapshot_version = timestamp.snapshot_meta().expect("snapshot meta").version;
    let snapshot_name = versioned_metadata_name(snapshot_version, "snapshot");
    let snapshot_bytes = get(&format!("/metadata/{snapshot_name}")).expect("snapshot");
    save(&snapshot_name, &snapshot_bytes);
    save("snapshot.json", &snapshot_bytes);
    let snapshot: Snapshot = parse(&snapshot_bytes);
    let targets_version = snapshot.role_meta("targets").expect("targets meta").version;
    let targets_name = versioned_metadata_name(targets_version, "targets");
    let targets_bytes = get(&format!("/metadata/{targets_name}")).expect("targets");
    save(&targets_name, &targets_bytes);
    save("targets.json", &targets_bytes);
    let targets: Targets = parse(&targets_bytes);
    for (name, file) in &targets.targets {
        let relative = consistent_target_path(name, file.sha256().expect("sha256"));
        let bytes = get(&format!("/targets/{}", url_path(&relative))).expect("target file");
        let path = dir.join("targets").join(&relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("targets dir");
        std::fs::write(path, bytes).expect("save target");
    }
    let _: Root = parse(&std::fs::read(metadata.join("root.json")).expect("root copy"));
    RepositoryCopy {
        dir: dir.to_path_buf(),
        root_version,
        snapshot_version,
        targets_version,
    }
}

fn parse<T: update_core::schema::Metadata>(bytes: &[u8]) -> T {
    SignedEnvelope::from_slice(bytes, "copy")
        .and_then(|e| e.parse_unverified())
        .expect("published metadata parses")
}

/// What a proxy in front of the server does to the traffic it forwards.
#[derive(Clone)]
enum Interference {
    /// Answers every check-in with this assignment: a compromised server steering devices.
    LieAboutAssignment(Assignment),
    /// Refuses check-ins from a device running a new slot on trial: a release that broke
    /// the device's network.
    CutTrialCheckIns,
}

/// A proxy in front of `upstream` that forwards everything but answers every check-in
/// with `assignment`: a compromised server steering devices.
pub fn lying_server(upstream: &str, assignment: Assignment) -> Peer {
    proxy(upstream, Interference::LieAboutAssignment(assignment))
}

/// A proxy in front of `upstream` that drops check-ins made from a new slot on trial, as
/// if the new release had broken the device's network.
pub fn network_broken_on_trial(upstream: &str) -> Peer {
    proxy(upstream, Interference::CutTrialCheckIns)
}

fn proxy(upstream: &str, interference: Interference) -> Peer {
    let state = Arc::new((upstream.to_string(), interference, reqwest::Client::new()));
    spawn(Router::new().fallback(forward).with_state(state))
}

type ProxyState = Arc<(String, Interference, reqwest::Client)>;

fn is_trial_check_in(uri: &Uri, body: &[u8]) -> bool {
    uri.path() == paths::CHECKIN
        && serde_json::from_slice::<CheckIn>(body).is_ok_and(|c| {
            c.pending_update
                .is_some_and(|p| p.last_event == UpdateEvent::BootedNew)
        })
}

async fn forward(
    State(state): State<ProxyState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (upstream, interference, client) = &*state;
    if matches!(interference, Interference::CutTrialCheckIns) && is_trial_check_in(&uri, &body) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = client
        .request(method, format!("{upstream}{path}"))
        .body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let Ok(response) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = response.status();
    let content_type = response.headers().get("content-type").cloned();
    let bytes = response.bytes().await.unwrap_or_default();
    let bytes = match interference {
        Interference::LieAboutAssignment(assignment)
            if uri.path() == paths::CHECKIN && status.is_success() =>
        {
            match serde_json::from_slice::<CheckInResponse>(&bytes) {
                Ok(mut answer) => {
                    answer.assignment = Some(assignment.clone());
                    Bytes::from(serde_json::to_vec(&answer).expect("serialise check-in"))
                }
                Err(_) => bytes,
            }
        }
        _ => bytes,
    };
    let mut out = Response::builder().status(status.as_u16());
    if let Some(content_type) = content_type {
        out = out.header("content-type", content_type);
    }
    out.body(Body::from(bytes))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}
