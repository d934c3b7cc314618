//! Bearer-token authentication of admins (devices sign their requests instead:
//! `device_auth`). Tokens are looked up by their sha256; a missing, malformed or unknown
//! token is 401.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::token::{is_well_formed, token_hash};

/// A request made with a valid admin token.
#[derive(Debug)]
pub struct AdminAuth {
    pub token_name: String,
}

/// The hash of a well-formed bearer token in the request.
fn bearer_token_hash(parts: &Parts) -> Result<String, ApiError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or(ApiError::Unauthorized)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || !is_well_formed(token) {
        return Err(ApiError::Unauthorized);
    }
    Ok(token_hash(token))
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let hash = bearer_token_hash(parts)?;
        let token_name = state
            .store
            .admin_token_name(&hash)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(AdminAuth { token_name })
    }
}
