//! Serves the published TUF repository: `/metadata/...` and `/targets/HASH.NAME`, from
//! blobs, with HTTP Range support and the cache policy of docs/interfaces.md. Targets
//! carry their sha256 as ETag and honour If-Range, so devices resume downloads safely.

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_RANGE, IF_UNMODIFIED_SINCE, RANGE,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use update_core::firmware::check_identifier;
use update_core::layout::parse_consistent_target_path;
use update_core::schema::RoleType;

use super::AppState;
use super::error::ApiError;
use crate::store::blobs::BlobId;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";
const JSON: &str = "application/json";
const OCTET_STREAM: &str = "application/octet-stream";

/// `N.role.json` (a fixed version) or `role.json` (the newest); timestamps only by name.
fn parse_metadata_name(file: &str) -> Option<(RoleType, Option<u64>)> {
    let stem = file.strip_suffix(".json")?;
    let (version, role) = match stem.split_once('.') {
        Some((digits, role))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (Some(digits.parse().ok()?), role)
        }
        Some(_) => return None,
        None => (None, stem),
    };
    let role = match role {
        "root" => RoleType::Root,
        "targets" => RoleType::Targets,
        "snapshot" => RoleType::Snapshot,
        "timestamp" if version.is_none() => RoleType::Timestamp,
        _ => return None,
    };
    Some((role, version))
}

/// `N.ROLE.json` or `ROLE.json` of a delegated role: a class identifier that is not a
/// top-level role's name.
fn parse_delegated_name(file: &str) -> Option<(&str, Option<u64>)> {
    let stem = file.strip_suffix(".json")?;
    let (version, role) = match stem.split_once('.') {
        Some((digits, role))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (Some(digits.parse().ok()?), role)
        }
        _ => (None, stem),
    };
    let top_level = RoleType::ALL.iter().any(|top| top.as_str() == role);
    (!top_level && check_identifier("role", role).is_ok() && !role.contains('.'))
        .then_some((role, version))
}

pub async fn metadata(
    State(state): State<AppState>,
    Path(file): Path<String>,
    mut request: Request,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no metadata file {file:?}"));
    let (sha256, version) = if let Some((role, version)) = parse_metadata_name(&file) {
        let record = match version {
            Some(version) => state.store.metadata_version(role, version).await?,
            None => state.store.latest_metadata(role).await?,
        };
        (record.ok_or_else(not_found)?.sha256, version)
    } else {
        let (role, version) = parse_delegated_name(&file).ok_or_else(not_found)?;
        let record = match version {
            Some(version) => state.store.delegated_version(role, version).await?,
            None => state.store.latest_delegated(role).await?,
        };
        (record.ok_or_else(not_found)?.sha256, version)
    };
    let cache = if version.is_some() {
        IMMUTABLE
    } else {
        // The file behind a plain name changes, possibly within the second that
        // Last-Modified can express: always send the current one.
        request.headers_mut().remove(IF_MODIFIED_SINCE);
        request.headers_mut().remove(IF_UNMODIFIED_SINCE);
        NO_CACHE
    };
    Ok(serve_file(state.blobs.path(&sha256), JSON, cache, request).await)
}

pub async fn target(
    State(state): State<AppState>,
    Path(path): Path<String>,
    mut request: Request,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no published target {path:?}"));
    let (hash, target_name) = parse_consistent_target_path(&path).ok_or_else(not_found)?;
    let id = BlobId::parse(hash).map_err(|_| not_found())?;
    if !state.store.is_published_target(&target_name, &id).await? {
        return Err(not_found());
    }
    // Targets are content-addressed: the sha256 is a strong validator of the bytes, so
    // a resumed download can send it back as If-Range.
    let etag = HeaderValue::from_str(&format!("\"{}\"", id.as_str()))
        .map_err(|e| ApiError::Internal(format!("ETag of {id}: {e}")))?;
    let other_copy = request
        .headers()
        .get(IF_RANGE)
        .is_some_and(|validator| *validator != etag);
    if other_copy {
        // RFC 9110 13.1.5: not the copy the client holds part of, send the whole file.
        // (ServeFile ignores If-Range.)
        request.headers_mut().remove(RANGE);
    }
    let mut response = serve_file(state.blobs.path(&id), OCTET_STREAM, IMMUTABLE, request).await;
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        response.headers_mut().insert(ETAG, etag);
    }
    Ok(response)
}

/// Serves a file with Range and conditional-request support (tower-http), then sets the
/// content type and cache policy on successful answers.
async fn serve_file(
    path: PathBuf,
    content_type: &'static str,
    cache: &'static str,
    request: Request,
) -> Response {
    let mut response = match ServeFile::new(path).oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names() {
        assert_eq!(
            parse_metadata_name("timestamp.json"),
            Some((RoleType::Timestamp, None))
        );
        assert_eq!(
            parse_metadata_name("3.root.json"),
            Some((RoleType::Root, Some(3)))
        );
        assert_eq!(
            parse_metadata_name("12.targets.json"),
            Some((RoleType::Targets, Some(12)))
        );
        assert_eq!(
            parse_metadata_name("snapshot.json"),
            Some((RoleType::Snapshot, None))
        );
        assert_eq!(
            parse_delegated_name("medical.json"),
            Some(("medical", None))
        );
        assert_eq!(
            parse_delegated_name("4.medical.json"),
            Some(("medical", Some(4)))
        );
        for bad in [
            "targets.json",
            "3.snapshot.json",
            "a.b.json",
            "../x.json",
            "x",
        ] {
            assert_eq!(parse_delegated_name(bad), None, "{bad}");
        }
        for bad in [
            "2.timestamp.json",
            "+1.root.json",
            "x.root.json",
            "root",
            "1.keys.json",
            ".root.json",
        ] {
            assert_eq!(parse_metadata_name(bad), None, "{bad}");
        }
    }
}
