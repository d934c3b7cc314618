//! Serving a file the way HTTP servers do for resumed downloads, with the faults the
//! client must survive: `Range` and `If-Range` honoured or ignored, a validator or none,
//! a `Content-Range` that lies, and connections dropped part-way through a body.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

/// Bytes per body chunk sent.
const CHUNK: usize = 16 * 1024;

/// How a response is built from a file and a request.
#[derive(Clone, Debug)]
pub struct Serving {
    pub etag: Option<String>,
    pub honor_range: bool,
    pub honor_if_range: bool,
    /// Added to the first byte position a `206` announces (a lying server).
    pub content_range_skew: u64,
    /// End the body after this many bytes with a broken connection.
    pub cut_after: Option<u64>,
}

impl Serving {
    /// What tower-http's ServeFile does plus an ETag: Range honoured, If-Range too.
    pub fn faithful(etag: Option<String>) -> Self {
        Serving {
            etag,
            honor_range: true,
            honor_if_range: true,
            content_range_skew: 0,
            cut_after: None,
        }
    }
}

/// The `N` of `Range: bytes=N-`.
fn range_start(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get("range")?.to_str().ok()?;
    value
        .strip_prefix("bytes=")?
        .strip_suffix('-')?
        .parse()
        .ok()
}

/// The response `serving` gives to a GET of `content` with `headers`.
pub fn respond(content: &[u8], serving: &Serving, headers: &HeaderMap) -> Response {
    let mut start = range_start(headers).filter(|_| serving.honor_range);
    let if_range = headers.get("if-range").and_then(|v| v.to_str().ok());
    if serving.honor_if_range && if_range.is_some() && if_range != serving.etag.as_deref() {
        start = None;
    }
    let total = content.len() as u64;
    let mut response = Response::builder();
    if let Some(etag) = &serving.etag {
        response = response.header("etag", etag);
    }
    let body_start = match start {
        Some(start) if start >= total => {
            return response
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header("content-range", format!("bytes */{total}"))
                .body(Body::empty())
                .unwrap();
        }
        Some(start) => {
            let shown = start + serving.content_range_skew;
            response = response.status(StatusCode::PARTIAL_CONTENT).header(
                "content-range",
                format!("bytes {shown}-{}/{total}", total - 1),
            );
            start as usize
        }
        None => {
            response = response.status(StatusCode::OK);
            0
        }
    };
    let body = content[body_start..].to_vec();
    let cut = serving.cut_after.map(|n| n as usize);
    let mut chunks: Vec<Result<Bytes, std::io::Error>> = Vec::new();
    let mut sent = 0;
    for chunk in body.chunks(CHUNK) {
        if let Some(cut) = cut {
            if sent + chunk.len() > cut {
                chunks.push(Ok(Bytes::copy_from_slice(&chunk[..cut - sent])));
                chunks.push(Err(std::io::Error::other("connection dropped")));
                break;
            }
        }
        chunks.push(Ok(Bytes::copy_from_slice(chunk)));
        sent += chunk.len();
    }
    // The break is delayed so that the bytes before it leave the server's buffers first.
    let body = futures_util::stream::iter(chunks).then(|item| async move {
        if item.is_err() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        item
    });
    response.body(Body::from_stream(body)).unwrap()
}

/// One request the server answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub status: u16,
}

/// A one-file server whose behaviour each test scripts.
pub struct FileServer {
    pub url: String,
    pub state: Arc<Mutex<Script>>,
}

pub struct Script {
    pub content: Vec<u8>,
    pub serving: Serving,
    /// Cut the bodies of the next responses after these many bytes, one per response.
    pub cuts: VecDeque<u64>,
    /// Served from the second response on: the file changed on the server.
    pub next_content: Option<(Vec<u8>, Serving)>,
    pub seen: Vec<Seen>,
}

impl Script {
    pub fn new(content: Vec<u8>, serving: Serving) -> Self {
        Script {
            content,
            serving,
            cuts: VecDeque::new(),
            next_content: None,
            seen: Vec::new(),
        }
    }
}

impl FileServer {
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

/// Serves `script` at every path of 127.0.0.1:0 in the current tokio runtime.
pub async fn serve_file(script: Script) -> FileServer {
    let state = Arc::new(Mutex::new(script));
    let app = Router::new().fallback(handle).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/file", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    FileServer { url, state }
}

async fn handle(State(state): State<Arc<Mutex<Script>>>, headers: HeaderMap) -> Response {
    let mut script = state.lock().unwrap();
    if !script.seen.is_empty() {
        if let Some((content, serving)) = script.next_content.take() {
            script.content = content;
            script.serving = serving;
        }
    }
    let mut serving = script.serving.clone();
    serving.cut_after = script.cuts.pop_front();
    let response = respond(&script.content, &serving, &headers);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    script.seen.push(Seen {
        range: header("range"),
        if_range: header("if-range"),
        status: response.status().as_u16(),
    });
    response.into_response()
}
