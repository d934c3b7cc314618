//! The HTTP calls a simulated device (and the enrolment step) makes, over a shared
//! `reqwest::Client`. Every answer is read with a byte limit while it streams: the
//! server is hostile until proven otherwise, even in a simulation.

use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use update_client::identity::Identity;
use update_core::api::{CheckIn, CheckInResponse, DeviceEnrollment, ErrorBody, Report, paths};
use update_core::device_auth::SEQUENCE_FLOOR;

/// Largest answer read from the device or admin API.
pub const MAX_API_RESPONSE: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: HTTP {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url}: answer larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url}: malformed answer: {reason}")]
    Malformed { url: String, reason: String },
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    #[error(transparent)]
    Tls(#[from] update_core::tls::TlsError),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Builds the HTTP client devices share; `local_address` binds the source address of
/// every connection (a distinct loopback address per simulated network); `ca_file`
/// replaces the built-in roots for HTTPS.
pub fn build_client(
    timeout: Duration,
    local_address: Option<std::net::IpAddr>,
    ca_file: Option<&std::path::Path>,
) -> Result<Client, ClientSetupError> {
    let mut builder = Client::builder()
        .connect_timeout(timeout)
        .read_timeout(timeout)
        .local_address(local_address)
        .pool_max_idle_per_host(1024)
        .user_agent(concat!("ota-fleet-sim/", env!("CARGO_PKG_VERSION")));
    let trust = update_core::tls::ClientTrust {
        ca_file: ca_file.map(std::path::Path::to_path_buf),
        pinned_sha256: None,
    };
    if let Some(tls) = update_core::tls::client_config(&trust)? {
        builder = builder.use_preconfigured_tls(tls);
    }
    Ok(builder.build()?)
}

/// The device and admin API of one server.
#[derive(Clone, Debug)]
pub struct ServerApi {
    client: Client,
    base: String,
}

impl ServerApi {
    pub fn new(client: Client, base: &str) -> ServerApi {
        ServerApi {
            client,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn check_in(
        &self,
        identity: &Identity,
        body: &CheckIn,
    ) -> Result<CheckInResponse, ApiError> {
        let bytes = self.post_signed(paths::CHECKIN, identity, body).await?;
        parse(&self.url(paths::CHECKIN), &bytes)
    }

    pub async fn report(&self, identity: &Identity, body: &Report) -> Result<(), ApiError> {
        self.post_signed(paths::REPORT, identity, body).await?;
        Ok(())
    }

    /// `POST /api/v1/admin/devices`: registers the device's public key (201 new, 200
    /// the same key again).
    pub async fn enroll(
        &self,
        admin_token: &str,
        device_id: &str,
        class: &str,
        public_key: &str,
    ) -> Result<(), ApiError> {
        let body = DeviceEnrollment {
            device_id: device_id.to_string(),
            class: class.to_string(),
            public_key: public_key.to_string(),
        };
        let url = self.url(paths::ADMIN_DEVICES);
        let request = self.client.post(&url).bearer_auth(admin_token).json(&body);
        send(&url, request, MAX_API_RESPONSE).await?;
        Ok(())
    }

    /// `GET` of an admin document such as `/api/v1/admin/status`.
    pub async fn admin_get<T: DeserializeOwned>(
        &self,
        admin_token: &str,
        path: &str,
        limit: usize,
    ) -> Result<T, ApiError> {
        let url = self.url(path);
        let request = self.client.get(&url).bearer_auth(admin_token);
        let bytes = send(&url, request, limit).await?;
        parse(&url, &bytes)
    }

    /// `GET` of any document on the server, such as `/metadata/1.root.json`.
    pub async fn get_bytes(&self, path: &str, limit: usize) -> Result<Vec<u8>, ApiError> {
        let url = self.url(path);
        send(&url, self.client.get(&url), limit).await
    }

    /// POSTs `body` signed by the device; after a 401 naming the server's sequence
    /// floor, signs above it and sends once more, as the real client does.
    async fn post_signed(
        &self,
        path: &str,
        identity: &Identity,
        body: &impl Serialize,
    ) -> Result<Vec<u8>, ApiError> {
        let url = self.url(path);
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Malformed {
            url: url.clone(),
            reason: format!("cannot encode the request: {e}"),
        })?;
        let mut floor_applied = false;
        loop {
            let request = signed_post(&self.client, &url, path, identity, &bytes);
            match send_with_floor(&url, request, MAX_API_RESPONSE).await {
                Err(Sent::Stale(floor)) if !floor_applied => {
                    identity.raise_floor(floor);
                    floor_applied = true;
                }
                Err(Sent::Stale(_)) => {
                    return Err(ApiError::Status {
                        url,
                        status: 401,
                        message: "request sequence refused twice".into(),
                    });
                }
                Err(Sent::Failed(e)) => return Err(e),
                Ok(body) => return Ok(body),
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A POST of `bytes` to `path` signed by `identity`, with the next sequence.
pub fn signed_post(
    client: &Client,
    url: &str,
    path: &str,
    identity: &Identity,
    bytes: &[u8],
) -> reqwest::RequestBuilder {
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    for (name, value) in identity.sign_post(path, bytes).pairs() {
        request = request.header(name, value);
    }
    request.body(bytes.to_vec())
}

/// Why a signed request did not succeed.
enum Sent {
    /// 401 with the server's last accepted sequence.
    Stale(u64),
    Failed(ApiError),
}

async fn send_with_floor(
    url: &str,
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<Vec<u8>, Sent> {
    let response = request.send().await.map_err(|source| {
        Sent::Failed(ApiError::Transport {
            url: url.to_string(),
            source,
        })
    })?;
    let floor = response
        .headers()
        .get(SEQUENCE_FLOOR)
        .and_then(|value| value.to_str().ok())
        .filter(|value| value.len() <= 20)
        .and_then(|value| value.parse::<u64>().ok());
    match floor {
        Some(floor) if response.status() == StatusCode::UNAUTHORIZED => Err(Sent::Stale(floor)),
        _ => read_answer(url, response, limit)
            .await
            .map_err(Sent::Failed),
    }
}

/// Sends a request and reads its body (at most `limit` bytes); non-2xx is an error
/// quoting the server's `ErrorBody`.
async fn send(
    url: &str,
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let transport = |source| ApiError::Transport {
        url: url.to_string(),
        source,
    };
    let response = request.send().await.map_err(transport)?;
    read_answer(url, response, limit).await
}

async fn read_answer(
    url: &str,
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let transport = |source| ApiError::Transport {
        url: url.to_string(),
        source,
    };
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge {
                url: url.to_string(),
                limit,
            });
        }
        body.extend_from_slice(&chunk);
    }
    if status.is_success() {
        return Ok(body);
    }
    Err(ApiError::Status {
        url: url.to_string(),
        status: status.as_u16(),
        message: error_message(status, &body),
    })
}

fn error_message(status: StatusCode, body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(error) => error.error.chars().take(300).collect(),
        Err(_) => status.canonical_reason().unwrap_or("error").to_string(),
    }
}

fn parse<T: DeserializeOwned>(url: &str, bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::Malformed {
        url: url.to_string(),
        reason: e.to_string(),
    })
}
