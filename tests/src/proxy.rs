//! A loopback HTTP proxy in front of the server that records what passes — target
//! requests with their `Range` and `If-Range` headers, the target bytes it forwarded, the
//! reports the server accepted — and, on request, breaks target downloads: it drops the
//! connection after N bytes of a target response, as many times as asked.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use update_core::api::{Report, UpdateEvent, paths};

use crate::peers::{Peer, spawn};

/// Headers that belong to one connection, not to the message forwarded.
const HOP_BY_HOP: [&str; 5] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "host",
    "content-length",
];

/// One target request the proxy forwarded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetRequest {
    pub path: String,
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub status: u16,
}

#[derive(Default)]
struct Log {
    targets: Mutex<Vec<TargetRequest>>,
    target_bytes: AtomicU64,
    reports: Mutex<Vec<Report>>,
}

/// Runs when the proxy breaks a response (e.g. to change the file behind it).
type OnCut = Box<dyn Fn() + Send + Sync>;

struct Shared {
    upstream: String,
    client: reqwest::Client,
    cut_after: u64,
    cuts_left: AtomicU32,
    on_cut: OnCut,
    log: Log,
}

pub struct Proxy {
    pub url: String,
    shared: Arc<Shared>,
    _peer: Peer,
}

impl Proxy {
    /// Forwards everything to `upstream` and records it.
    pub fn recording(upstream: &str) -> Proxy {
        Proxy::cutting(upstream, 0, 0)
    }

    /// Like [`Proxy::recording`], and the first `times` target responses break after
    /// `after_bytes` bytes of body.
    pub fn cutting(upstream: &str, after_bytes: u64, times: u32) -> Proxy {
        Proxy::cutting_then(upstream, after_bytes, times, || {})
    }

    /// Like [`Proxy::cutting`], running `on_cut` at each break, before the client can
    /// come back for the rest.
    pub fn cutting_then(
        upstream: &str,
        after_bytes: u64,
        times: u32,
        on_cut: impl Fn() + Send + Sync + 'static,
    ) -> Proxy {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("proxy client"),
            cut_after: after_bytes,
            cuts_left: AtomicU32::new(times),
            on_cut: Box::new(on_cut),
            log: Log::default(),
        });
        let peer = spawn(Router::new().fallback(forward).with_state(shared.clone()));
        Proxy {
            url: peer.url.clone(),
            shared,
            _peer: peer,
        }
    }

    pub fn target_requests(&self) -> Vec<TargetRequest> {
        self.shared.log.targets.lock().expect("log").clone()
    }

    /// Body bytes of target responses forwarded, broken ones included.
    pub fn target_bytes(&self) -> u64 {
        self.shared.log.target_bytes.load(Ordering::SeqCst)
    }

    /// Breaks still to come.
    pub fn cuts_left(&self) -> u32 {
        self.shared.cuts_left.load(Ordering::SeqCst)
    }

    /// Every report the server accepted from `device_id`, in order (a report sent again
    /// after a power cut appears twice).
    pub fn events_of(&self, device_id: &str) -> Vec<UpdateEvent> {
        self.reports_of(device_id).iter().map(|r| r.event).collect()
    }

    /// The reports themselves (with the payload each names), in order.
    pub fn reports_of(&self, device_id: &str) -> Vec<Report> {
        self.shared
            .log
            .reports
            .lock()
            .expect("log")
            .iter()
            .filter(|r| r.device_id == device_id)
            .cloned()
            .collect()
    }
}

/// Takes one break from the budget, if any is left.
fn take_cut(cuts_left: &AtomicU32) -> bool {
    cuts_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

async fn forward(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = shared
        .client
        .request(method, format!("{}{path}", shared.upstream))
        .body(body.clone());
    for (name, value) in &headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            request = request.header(name, value);
        }
    }
    let Ok(upstream) = request.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = upstream.status();
    if uri.path() == paths::REPORT && status.is_success() {
        if let Ok(report) = serde_json::from_slice::<Report>(&body) {
            shared.log.reports.lock().expect("log").push(report);
        }
    }
    let is_target = uri.path().starts_with("/targets/");
    if is_target {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        shared.log.targets.lock().expect("log").push(TargetRequest {
            path: uri.path().to_string(),
            range: header("range"),
            if_range: header("if-range"),
            status: status.as_u16(),
        });
    }
    let mut response = Response::builder().status(status.as_u16());
    for (name, value) in upstream.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) || name == "content-length" {
            response = response.header(name, value);
        }
    }
    let cut = (is_target && take_cut(&shared.cuts_left)).then_some(shared.cut_after);
    let counter = shared.clone();
    let mut forwarded: u64 = 0;
    let body = upstream.bytes_stream().flat_map(move |chunk| {
        let mut items: Vec<Result<Bytes, std::io::Error>> = Vec::new();
        match chunk {
            Err(e) => items.push(Err(std::io::Error::other(e))),
            Ok(mut chunk) => {
                let broken = cut.is_some_and(|cut| forwarded + chunk.len() as u64 > cut);
                if let (true, Some(cut)) = (broken, cut) {
                    chunk.truncate((cut - forwarded) as usize);
                }
                forwarded += chunk.len() as u64;
                if is_target {
                    counter
                        .log
                        .target_bytes
                        .fetch_add(chunk.len() as u64, Ordering::SeqCst);
                }
                items.push(Ok(chunk));
                if broken {
                    (counter.on_cut)();
                    items.push(Err(std::io::Error::other(
                        "connection dropped by the proxy",
                    )));
                }
            }
        }
        futures_util::stream::iter(items)
    });
    // Let the bytes before a break leave the proxy's buffers before the connection goes.
    let body = body.then(|item| async move {
        if item.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        item
    });
    response
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}
