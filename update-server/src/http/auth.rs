//! Bearer-token authentication of admins (devices sign their requests instead:
//! `device_auth`). Tokens are looked up by their sha256; a missing, malformed or unknown
//! token is 401.
//!
//! Admin handlers state the scope they need in their extractor's type,
//! `AdminAuth<needs::Publish>`; a token without it is refused with 403. Plain `AdminAuth`
//! needs the `all` scope, so a handler that names no scope is open only to full-power
//! tokens rather than to every token.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::AppState;
use super::error::ApiError;
use crate::scope::{Scope, Scopes};
use crate::token::{is_well_formed, token_hash};

/// The scope an admin handler needs, as a type (see [`needs`]).
pub trait RequiredScope: Send + Sync + 'static {
    const SCOPE: Scope;
}

/// Marker types for [`AdminAuth`]: `AdminAuth<needs::Rollout>` and so on.
pub mod needs {
    use super::{RequiredScope, Scope};

    macro_rules! scope_marker {
        ($($name:ident),*) => {$(
            #[derive(Debug)]
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: Scope = Scope::$name;
            }
        )*};
    }

    scope_marker!(Read, Publish, Rollout, Devices, All);
}

/// The admin token behind a request: resolved once per request (by the audit layer,
/// which names the actor) and kept in the request's extensions.
#[derive(Clone, Debug)]
pub struct AdminIdentity {
    pub token_name: String,
    pub scopes: Scopes,
}

/// A request made with a valid admin token that has scope `S`.
#[derive(Debug)]
pub struct AdminAuth<S: RequiredScope = needs::All> {
    pub token_name: String,
    pub scopes: Scopes,
    needs: PhantomData<S>,
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

/// The admin token of the request: from the extensions if already resolved, else looked
/// up. 401 for a missing or unknown token.
pub async fn admin_identity(parts: &Parts, state: &AppState) -> Result<AdminIdentity, ApiError> {
    if let Some(identity) = parts.extensions.get::<AdminIdentity>() {
        return Ok(identity.clone());
    }
    let hash = bearer_token_hash(parts)?;
    let (token_name, scopes) = state
        .store
        .admin_token(&hash)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(AdminIdentity { token_name, scopes })
}

impl<S: RequiredScope> FromRequestParts<AppState> for AdminAuth<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let identity = admin_identity(parts, state).await?;
        if !identity.scopes.grants(S::SCOPE) {
            return Err(ApiError::Forbidden(format!(
                "token {} lacks scope {}",
                identity.token_name,
                S::SCOPE
            )));
        }
        Ok(AdminAuth {
            token_name: identity.token_name,
            scopes: identity.scopes,
            needs: PhantomData,
        })
    }
}
