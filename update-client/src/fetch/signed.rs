//! The device API's signed POSTs: each request carries the device's signature over
//! method, path and body digest (`update_core::device_auth`). When the server says the
//! sequence was already used (401 with `OTA-Sequence-Floor`, after a reboot with a clock
//! behind), the counter jumps above that floor and the request is signed and sent once
//! more.

use reqwest::header::CONTENT_TYPE;
use reqwest::{StatusCode, Url};
use serde::Serialize;
use update_core::device_auth::SEQUENCE_FLOOR;

use super::{HttpClient, MAX_API_RESPONSE, check_status, read_limited, transport};
use crate::error::{Error, Result};
use crate::identity::Identity;

impl HttpClient {
    /// POSTs `body` as JSON signed by the device; returns the answer body (at most
    /// [`MAX_API_RESPONSE`] bytes, empty for 204).
    pub async fn post_signed(
        &self,
        url: &Url,
        identity: &Identity,
        body: &impl Serialize,
    ) -> Result<Vec<u8>> {
        self.post_signed_with(url, identity, None, body).await
    }

    /// Like [`HttpClient::post_signed`], with a bearer token as well (self-enrolment's
    /// class secret).
    pub async fn post_signed_with(
        &self,
        url: &Url,
        identity: &Identity,
        bearer: Option<&str>,
        body: &impl Serialize,
    ) -> Result<Vec<u8>> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            Error::io(format!("encoding a request to {url}"))(std::io::Error::other(e))
        })?;
        let mut floor_applied = false;
        loop {
            let mut request = self
                .client
                .post(url.clone())
                .header(CONTENT_TYPE, "application/json");
            for (name, value) in identity.sign_post(url.path(), &bytes).pairs() {
                request = request.header(name, value);
            }
            if let Some(token) = bearer {
                request = request.bearer_auth(token);
            }
            let response = request
                .body(bytes.clone())
                .send()
                .await
                .map_err(transport(url))?;
            if response.status() == StatusCode::UNAUTHORIZED && !floor_applied {
                if let Some(floor) = sequence_floor(&response) {
                    tracing::info!(floor, "request sequence behind the server's; signing again");
                    identity.raise_floor(floor);
                    floor_applied = true;
                    continue;
                }
            }
            let mut response = check_status(url, response).await?;
            return read_limited(url, &mut response, MAX_API_RESPONSE).await;
        }
    }
}

/// The server's last accepted sequence, if the answer carries a well-formed one.
fn sequence_floor(response: &reqwest::Response) -> Option<u64> {
    let value = response.headers().get(SEQUENCE_FLOOR)?.to_str().ok()?;
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}
