//! The one error type of the HTTP layer, mapped to status codes and `{"error": ...}`
//! bodies as docs/interfaces.md lists them.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use update_core::api::ErrorBody;

use crate::device_keys::KeyLookupError;
use crate::repository::RepositoryError;
use crate::store::StoreError;
use crate::store::blobs::BlobError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input or failed verification.
    #[error("{0}")]
    BadRequest(String),
    /// Missing or unknown credential.
    #[error("missing or unknown credential")]
    Unauthorized,
    /// A device request whose signature or key was refused; the reason stays vague.
    #[error("{0}")]
    SignatureRefused(&'static str),
    /// A valid device signature with a sequence not above the last accepted one, which
    /// the 401 carries in `OTA-Sequence-Floor`.
    #[error("request sequence already used")]
    StaleSequence(u64),
    /// A valid credential acting for someone else.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// Version not newer, image missing, device exists.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// Logged in full; the client sees only that the server failed.
    #[error("internal server error")]
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::SignatureRefused(_) | ApiError::StaleSequence(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        let status = self.status();
        let body = Json(ErrorBody {
            error: self.to_string(),
        });
        if let ApiError::StaleSequence(floor) = &self {
            let floor = floor.to_string();
            return (
                status,
                [
                    (header::WWW_AUTHENTICATE, "Signature".to_string()),
                    (
                        header::HeaderName::from_static(update_core::device_auth::SEQUENCE_FLOOR),
                        floor,
                    ),
                ],
                body,
            )
                .into_response();
        }
        if matches!(self, ApiError::SignatureRefused(_)) {
            (status, [(header::WWW_AUTHENTICATE, "Signature")], body).into_response()
        } else if status == StatusCode::UNAUTHORIZED {
            (status, [(header::WWW_AUTHENTICATE, "Bearer")], body).into_response()
        } else {
            (status, body).into_response()
        }
    }
}

impl From<KeyLookupError> for ApiError {
    fn from(error: KeyLookupError) -> Self {
        match error {
            KeyLookupError::Store(error) => error.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AlreadyExists(what) => ApiError::Conflict(format!("{what} already exists")),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<BlobError> for ApiError {
    fn from(error: BlobError) -> Self {
        match error {
            BlobError::InvalidHash(_) | BlobError::HashMismatch { .. } | BlobError::Upload(_) => {
                ApiError::BadRequest(error.to_string())
            }
            BlobError::TooLarge { .. } => ApiError::TooLarge(error.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<RepositoryError> for ApiError {
    fn from(error: RepositoryError) -> Self {
        match error {
            RepositoryError::Rejected { .. } | RepositoryError::Invalid(_) => {
                ApiError::BadRequest(error.to_string())
            }
            RepositoryError::NotDelegated(_) => ApiError::NotFound(error.to_string()),
            RepositoryError::NotNewer { .. }
            | RepositoryError::RoleNotNewer { .. }
            | RepositoryError::NoTargets
            | RepositoryError::MissingImage { .. }
            | RepositoryError::OnlineKeyNotAuthorised(_) => ApiError::Conflict(error.to_string()),
            RepositoryError::Store(error) => error.into(),
            RepositoryError::Blob(error) => error.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}
