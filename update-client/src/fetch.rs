//! HTTP for the agent: bounded GETs streamed to a sink, ranged GETs that resume a
//! download ([`range`]), and the JSON calls of the device API. Every body read from the
//! network has a byte limit enforced *while* streaming: a server that sends endless data
//! is cut off as soon as it passes the limit, so it can fill neither memory nor disk.

use std::time::Duration;

use reqwest::{StatusCode, Url};

use crate::error::{Error, Result};
use update_core::tls::ClientTrust;

mod range;
mod signed;

pub use range::{RangedBody, Resume};

/// Largest error body or device-API answer read.
pub const MAX_API_RESPONSE: u64 = 64 * 1024;
/// How much of an error body is quoted in an error message.
const MAX_ERROR_MESSAGE: usize = 300;

#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
}

impl HttpClient {
    /// The one constructor of the agent's HTTP clients. `timeout` bounds connecting and
    /// each wait for more bytes, not a whole download; `trust` says which servers HTTPS
    /// accepts (a CA file, a pinned certificate, or the built-in roots).
    pub fn new(timeout: Duration, trust: &ClientTrust) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("update-client/", env!("CARGO_PKG_VERSION")));
        if let Some(tls) = update_core::tls::client_config(trust)? {
            builder = builder.use_preconfigured_tls(tls);
        }
        let client = builder.build().map_err(|source| Error::Transport {
            url: "(HTTP client setup)".into(),
            source,
        })?;
        Ok(HttpClient { client })
    }

    /// Wraps a client built elsewhere, so many simulated devices can share one
    /// connection pool (or bind a chosen local address); its timeouts are the caller's.
    pub fn from_client(client: reqwest::Client) -> Self {
        HttpClient { client }
    }

    /// GETs `url` into `sink`, chunk by chunk; fails with [`Error::TooLarge`] as soon as
    /// more than `limit` bytes arrive. Returns the number of bytes received.
    pub async fn get_streaming<F>(&self, url: &Url, limit: u64, mut sink: F) -> Result<u64>
    where
        F: FnMut(&[u8]) -> Result<()>,
    {
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(transport(url))?;
        let response = check_status(url, response).await?;
        let mut body = LimitedBody::new(url, response, limit)?;
        while let Some(chunk) = body.chunk().await? {
            sink(chunk.as_ref())?;
        }
        Ok(body.received())
    }

    /// GETs a small document (at most `limit` bytes) into memory.
    pub async fn get_bytes(&self, url: &Url, limit: u64) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        self.get_streaming(url, limit, |chunk| {
            body.extend_from_slice(chunk);
            Ok(())
        })
        .await?;
        Ok(body)
    }
}

/// Appends an already URL-quoted `path` (starting with `/`) to a base URL that may carry
/// a path prefix of its own.
pub fn join_url(base: &Url, path: &str) -> Result<Url> {
    let joined = format!("{}{}", base.as_str().trim_end_matches('/'), path);
    Url::parse(&joined).map_err(|e| Error::BadResponse {
        url: joined.clone(),
        reason: format!("not a valid URL: {e}"),
    })
}

/// A response body read with a byte limit enforced while it streams.
pub struct LimitedBody {
    url: Url,
    response: reqwest::Response,
    limit: u64,
    received: u64,
}

impl LimitedBody {
    /// Refuses at once a body whose announced length is over `limit`.
    fn new(url: &Url, response: reqwest::Response, limit: u64) -> Result<Self> {
        if response
            .content_length()
            .is_some_and(|length| length > limit)
        {
            return Err(too_large(url, limit));
        }
        Ok(LimitedBody {
            url: url.clone(),
            response,
            limit,
            received: 0,
        })
    }

    /// The next chunk; [`Error::TooLarge`] as soon as the body passes the limit, a
    /// [`Error::Transport`] when the connection breaks.
    pub async fn chunk(&mut self) -> Result<Option<impl AsRef<[u8]> + use<>>> {
        let Some(chunk) = self.response.chunk().await.map_err(transport(&self.url))? else {
            return Ok(None);
        };
        self.received = self.received.saturating_add(chunk.len() as u64);
        if self.received > self.limit {
            return Err(too_large(&self.url, self.limit));
        }
        Ok(Some(chunk))
    }

    /// Bytes of the body received so far.
    pub fn received(&self) -> u64 {
        self.received
    }
}

async fn check_status(url: &Url, mut response: reqwest::Response) -> Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status == StatusCode::NOT_FOUND {
        return Err(Error::NotFound {
            url: url.to_string(),
        });
    }
    let body = read_limited(url, &mut response, MAX_API_RESPONSE)
        .await
        .unwrap_or_default();
    Err(Error::HttpStatus {
        url: url.to_string(),
        status: status.as_u16(),
        message: error_message(&body),
    })
}

/// The `error` of an `ErrorBody`, else the start of the body as text.
fn error_message(body: &[u8]) -> String {
    let message = serde_json::from_slice::<update_core::api::ErrorBody>(body)
        .map(|b| b.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned());
    let mut message: String = message
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_ERROR_MESSAGE)
        .collect();
    if message.is_empty() {
        message.push_str("(no message)");
    }
    message
}

async fn read_limited(url: &Url, response: &mut reqwest::Response, limit: u64) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport(url))? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large(url, limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn transport(url: &Url) -> impl FnOnce(reqwest::Error) -> Error {
    let url = url.to_string();
    move |source| Error::Transport { url, source }
}

fn too_large(url: &Url, limit: u64) -> Error {
    Error::TooLarge {
        url: url.to_string(),
        limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_base_prefixes() {
        let base = Url::parse("http://h:1/repo/").unwrap();
        assert_eq!(
            join_url(&base, "/metadata/1.root.json").unwrap().as_str(),
            "http://h:1/repo/metadata/1.root.json"
        );
        let bare = Url::parse("http://h:1").unwrap();
        assert_eq!(
            join_url(&bare, "/targets/a%20b").unwrap().as_str(),
            "http://h:1/targets/a%20b"
        );
    }

    #[test]
    fn error_messages_are_short_and_printable() {
        assert_eq!(error_message(br#"{"error":"nope"}"#), "nope");
        assert_eq!(error_message(b"plain\x1b[31m"), "plain[31m");
        assert_eq!(error_message(b""), "(no message)");
        assert_eq!(error_message(&[b'x'; 5000]).len(), MAX_ERROR_MESSAGE);
    }
}
