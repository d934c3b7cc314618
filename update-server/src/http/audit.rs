//! The audit log of the admin API: one middleware over every route, so that no admin
//! handler can forget it. Each request under `/api/v1/admin/` is written to the
//! `audit_log` table and emitted as a `tracing` event with target `audit`, accepted or
//! not, with the token's name (never the token) or `unknown`.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::Request;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Query, RawPathParams, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;
use update_core::api::{AuditEntry, paths};

use super::AppState;
use super::auth::{AdminAuth, admin_identity, needs};
use super::error::ApiError;
use crate::store::NewAuditEntry;

/// The actor of a request without a valid admin token.
pub const UNKNOWN_ACTOR: &str = "unknown";
/// Entries per `GET /api/v1/admin/audit` at most, and by default.
pub const MAX_AUDIT_LIMIT: u32 = 1000;
const DEFAULT_AUDIT_LIMIT: u32 = 100;
/// Path parameters come from a bounded URL, but a subject column need not hold a novel.
const MAX_SUBJECT: usize = 512;

/// What a handler adds to its answer's extensions when the path parameters do not name
/// what it acted on (the rollout it created, the targets version it published).
#[derive(Clone, Debug)]
pub struct AuditSubject(pub String);

/// Records every matched admin request after it has been answered.
pub async fn record(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let Some(pattern) = matched
        .map(|m| m.as_str().to_string())
        .filter(|pattern| pattern.starts_with(paths::ADMIN_PREFIX))
    else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    let action = format!("{} {pattern}", parts.method);
    let source_address = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_string());
    let subject = RawPathParams::from_request_parts(&mut parts, &state)
        .await
        .map(|params| {
            params
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let actor = match admin_identity(&parts, &state).await {
        Ok(identity) => {
            let name = identity.token_name.clone();
            parts.extensions.insert(identity);
            name
        }
        Err(_) => UNKNOWN_ACTOR.to_string(),
    };
    let response = next.run(Request::from_parts(parts, body)).await;
    let subject = match response.extensions().get::<AuditSubject>() {
        Some(AuditSubject(more)) if subject.is_empty() => more.clone(),
        Some(AuditSubject(more)) => format!("{subject} {more}"),
        None => subject,
    };
    let entry = NewAuditEntry {
        actor,
        action,
        subject: truncated(subject),
        outcome: response.status().as_u16(),
        source_address,
    };
    write(&state, &entry).await;
    response
}

/// Appends `entry` to the audit log and emits it as a `tracing` event (target `audit`).
/// A failed write is logged, not returned: the action itself has happened.
pub async fn write(state: &AppState, entry: &NewAuditEntry) {
    tracing::info!(
        target: "audit",
        actor = %entry.actor,
        action = %entry.action,
        subject = %entry.subject,
        outcome = entry.outcome,
        source = entry.source_address.as_deref().unwrap_or("-"),
        "audit"
    );
    if let Err(error) = state.store.add_audit_entry(entry).await {
        tracing::error!(%error, action = %entry.action, "cannot write the audit log");
    }
}

fn truncated(mut text: String) -> String {
    if text.len() > MAX_SUBJECT {
        let mut end = MAX_SUBJECT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<u32>,
    after: Option<i64>,
}

/// `GET /api/v1/admin/audit?limit=N&after=ID`.
pub async fn list(
    _admin: AdminAuth<needs::Read>,
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = query.limit.unwrap_or(DEFAULT_AUDIT_LIMIT);
    if limit == 0 || limit > MAX_AUDIT_LIMIT {
        return Err(ApiError::BadRequest(format!(
            "limit must be 1..={MAX_AUDIT_LIMIT}"
        )));
    }
    Ok(Json(state.store.audit_entries(query.after, limit).await?))
}
