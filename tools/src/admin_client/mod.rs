//! The server's admin API (plus its public metadata and metrics) over HTTP.
//!
//! Every answer is read with a size limit, error bodies are shown to the operator, and the
//! admin token is sent only on admin endpoints and never printed.

mod audit;
mod classes;
mod delegations;
mod devices;
mod response;
mod token;

pub use token::AdminToken;

use std::path::Path;
use std::time::Duration;

use futures_util::TryStreamExt;
use indicatif::ProgressBar;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use tokio_util::io::ReaderStream;
use update_core::api::{FleetStatus, TargetsPublished, paths};
use update_core::hash::STREAM_BUFFER;
use update_core::tls::{ClientTrust, TlsError, is_loopback_host};

use crate::display::error_chain;
use response::{check, read_body};

/// Largest metadata file accepted from the server.
pub const MAX_METADATA_RESPONSE: u64 = 16 * 1024 * 1024;
/// Largest JSON answer (fleet status) or metrics page accepted from the server.
pub const MAX_JSON_RESPONSE: u64 = 32 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// For requests with small bodies; image uploads are bounded by the connection instead.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("invalid admin token: {0}")]
    InvalidToken(String),
    #[error("cannot reach the server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the server refused the admin token")]
    Unauthorized,
    #[error("the server answered {status} to {what}: {message}")]
    Server {
        what: String,
        status: StatusCode,
        message: String,
    },
    #[error("the server's answer to {what} is larger than {limit} bytes")]
    TooLarge { what: String, limit: u64 },
    #[error("the server's answer to {what} is not valid: {reason}")]
    BadResponse { what: String, reason: String },
    #[error("invalid image hash {0:?}: expected 64 lowercase hex digits")]
    InvalidHash(String),
    #[error(
        "refusing plain HTTP to {url}: the admin token would cross the network in clear; use https://, or --allow-plain-http if that is really wanted"
    )]
    PlainHttp { url: String },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot read {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

/// How `ota` reaches the server: what HTTPS trusts, and whether plain HTTP to a host
/// that is not loopback is acceptable.
#[derive(Clone, Debug, Default)]
pub struct Transport {
    pub trust: ClientTrust,
    pub allow_plain_http: bool,
}

#[derive(Debug)]
pub struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: AdminToken,
}

impl AdminClient {
    /// A client for the server at `server` (`https://host:port`, optionally with a path;
    /// `http://` only to loopback), trusting the built-in roots.
    pub fn new(server: &str, token: AdminToken) -> Result<Self, AdminError> {
        Self::with_transport(server, token, &Transport::default())
    }

    /// A client for the server at `server` with explicit TLS trust and plain-HTTP rule.
    pub fn with_transport(
        server: &str,
        token: AdminToken,
        transport: &Transport,
    ) -> Result<Self, AdminError> {
        let invalid = |reason: &str| AdminError::InvalidUrl {
            url: server.to_string(),
            reason: reason.to_string(),
        };
        let url = reqwest::Url::parse(server).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid("expected http://HOST[:PORT] or https://..."));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("a server URL has no query or fragment"));
        }
        let loopback = url.host_str().is_some_and(is_loopback_host);
        if url.scheme() == "http" && !loopback && !transport.allow_plain_http {
            return Err(AdminError::PlainHttp {
                url: server.to_string(),
            });
        }
        let mut builder = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT);
        if let Some(tls) = update_core::tls::client_config(&transport.trust)? {
            builder = builder.use_preconfigured_tls(tls);
        }
        let http = builder.build().map_err(|e| invalid(&e.to_string()))?;
        Ok(AdminClient {
            http,
            base: url.as_str().trim_end_matches('/').to_string(),
            token,
        })
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        &self.base
    }

    /// A published metadata file (`/metadata/NAME`), `None` if the server has none.
    pub async fn metadata(&self, name: &str) -> Result<Option<Vec<u8>>, AdminError> {
        let what = format!("GET {}/{name}", paths::METADATA);
        let request = self
            .http
            .get(self.url(&format!("{}/{name}", paths::METADATA)))
            .timeout(REQUEST_TIMEOUT);
        let response = self.send(request).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = check(&what, response).await?;
        read_body(&what, response, MAX_METADATA_RESPONSE, &self.base)
            .await
            .map(Some)
    }

    /// Uploads a signed root (the next version of the server's current root).
    pub async fn put_root(&self, bytes: Vec<u8>) -> Result<(), AdminError> {
        let request = self.admin(Method::PUT, paths::ADMIN_ROOT).body(bytes);
        check("PUT root", self.send(request).await?).await?;
        Ok(())
    }

    /// Whether the server already stores the image with this sha256.
    pub async fn has_image(&self, sha256: &str) -> Result<bool, AdminError> {
        let path = image_path(sha256)?;
        let response = self.send(self.admin(Method::HEAD, &path)).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        check(&format!("HEAD {path}"), response).await?;
        Ok(true)
    }

    /// Streams the image file at `file` (of `length` bytes) to the server, advancing
    /// `progress` as chunks go out; never holds more than one buffer of it in memory.
    pub async fn upload_image(
        &self,
        sha256: &str,
        file: &Path,
        length: u64,
        progress: &ProgressBar,
    ) -> Result<(), AdminError> {
        let path = image_path(sha256)?;
        let source = tokio::fs::File::open(file)
            .await
            .map_err(|source| AdminError::File {
                path: file.display().to_string(),
                source,
            })?;
        let progress = progress.clone();
        let chunks = ReaderStream::with_capacity(source, STREAM_BUFFER)
            .inspect_ok(move |chunk| progress.inc(chunk.len() as u64));
        let request = self
            .http
            .put(self.url(&path))
            .bearer_auth(self.token.expose())
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, length)
            .body(reqwest::Body::wrap_stream(chunks));
        check(&format!("PUT {path}"), self.send(request).await?).await?;
        Ok(())
    }

    /// Publishes a signed targets.json; the server signs a new snapshot and timestamp.
    pub async fn put_targets(&self, bytes: Vec<u8>) -> Result<TargetsPublished, AdminError> {
        let what = "PUT targets";
        let request = self.admin(Method::PUT, paths::ADMIN_TARGETS).body(bytes);
        let response = check(what, self.send(request).await?).await?;
        self.read_json(what, response).await
    }

    /// The fleet's status, with its update traffic when the server reports it.
    pub async fn status(&self) -> Result<FleetStatus, AdminError> {
        let what = "GET status";
        let request = self.admin(Method::GET, paths::ADMIN_STATUS);
        let response = check(what, self.send(request).await?).await?;
        self.read_json(what, response).await
    }

    /// Lets `device_id` try again a release that failed on it.
    pub async fn retry(&self, device_id: &str) -> Result<(), AdminError> {
        let what = "POST devices/…/retry";
        let path = format!(
            "{}/{}/{}",
            paths::ADMIN_DEVICES,
            update_core::layout::quote_name(device_id),
            paths::RETRY
        );
        let request = self.admin(Method::POST, &path);
        check(what, self.send(request).await?).await?;
        Ok(())
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> Result<String, AdminError> {
        let what = "GET /metrics";
        let request = self
            .http
            .get(self.url(paths::METRICS))
            .timeout(REQUEST_TIMEOUT);
        let response = check(what, self.send(request).await?).await?;
        let bytes = read_body(what, response, MAX_JSON_RESPONSE, &self.base).await?;
        String::from_utf8(bytes).map_err(|e| AdminError::BadResponse {
            what: what.to_string(),
            reason: e.to_string(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(self.token.expose())
            .timeout(REQUEST_TIMEOUT)
    }

    async fn send(&self, request: RequestBuilder) -> Result<Response, AdminError> {
        request.send().await.map_err(|e| AdminError::Unreachable {
            url: self.base.clone(),
            reason: error_chain(&e),
        })
    }

    async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        response: Response,
    ) -> Result<T, AdminError> {
        let bytes = read_body(what, response, MAX_JSON_RESPONSE, &self.base).await?;
        serde_json::from_slice(&bytes).map_err(|e| AdminError::BadResponse {
            what: what.to_string(),
            reason: e.to_string(),
        })
    }
}

fn image_path(sha256: &str) -> Result<String, AdminError> {
    let valid = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !valid {
        return Err(AdminError::InvalidHash(sha256.to_string()));
    }
    Ok(format!("{}/{sha256}", paths::ADMIN_IMAGES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_validated() {
        let token: AdminToken = "t".parse().unwrap();
        let client = AdminClient::new("http://127.0.0.1:8080/", token.clone()).unwrap();
        assert_eq!(client.server(), "http://127.0.0.1:8080");
        assert!(!format!("{client:?}").contains("\"t\""));
        for bad in [
            "127.0.0.1:8080",
            "ftp://host",
            "http://host/?q=1",
            "not a url",
        ] {
            assert!(AdminClient::new(bad, token.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        let token: AdminToken = "t".parse().unwrap();
        for local in [
            "http://localhost:8080",
            "http://127.0.0.2",
            "http://[::1]:80",
        ] {
            assert!(AdminClient::new(local, token.clone()).is_ok(), "{local}");
        }
        let err = AdminClient::new("http://ota.example.com", token.clone()).unwrap_err();
        assert!(matches!(err, AdminError::PlainHttp { .. }), "{err}");
        assert!(err.to_string().contains("--allow-plain-http"), "{err}");
        let allowed = Transport {
            allow_plain_http: true,
            ..Transport::default()
        };
        assert!(
            AdminClient::with_transport("http://ota.example.com", token.clone(), &allowed).is_ok()
        );
        assert!(AdminClient::new("https://ota.example.com", token).is_ok());
    }

    #[test]
    fn image_hashes_must_be_hex() {
        assert!(image_path(&"ab".repeat(32)).is_ok());
        assert!(image_path("../../etc").is_err());
        assert!(image_path(&"AB".repeat(32)).is_err());
    }
}
