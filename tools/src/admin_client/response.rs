//! Reading the server's answers: size limits, and errors that carry the server's own
//! explanation.

use reqwest::{Response, StatusCode};
use update_core::api::ErrorBody;

use super::AdminError;
use crate::display::{error_chain, printable};

const MAX_ERROR_BODY: u64 = 64 * 1024;
const MAX_SHOWN_ERROR: usize = 500;

/// Passes successful answers through; turns the others into errors that carry the
/// server's own explanation.
pub(super) async fn check(what: &str, response: Response) -> Result<Response, AdminError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if status == StatusCode::UNAUTHORIZED {
        return Err(AdminError::Unauthorized);
    }
    Err(AdminError::Server {
        what: what.to_string(),
        status,
        message: error_message(response).await,
    })
}

/// The `error` of an `ErrorBody`, or the start of whatever text came instead, with control
/// characters removed so a hostile server cannot drive the operator's terminal.
async fn error_message(mut response: Response) -> String {
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > MAX_ERROR_BODY {
            break;
        }
    }
    let text = match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => body.error,
        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
    };
    let shown = printable(text.trim(), MAX_SHOWN_ERROR);
    if shown.is_empty() {
        "(no explanation given)".to_string()
    } else {
        shown
    }
}

pub(super) async fn read_body(
    what: &str,
    mut response: Response,
    limit: u64,
    server: &str,
) -> Result<Vec<u8>, AdminError> {
    let too_large = || AdminError::TooLarge {
        what: what.to_string(),
        limit,
    };
    if response
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|e| AdminError::Unreachable {
                url: server.to_string(),
                reason: error_chain(&e),
            })?;
        let Some(chunk) = chunk else {
            return Ok(bytes);
        };
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
}
