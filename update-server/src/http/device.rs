//! The device API: check-in (state in, assignment out) and update reports.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use update_core::api::{CheckIn, CheckInResponse, Payload, PayloadKind, Report, UpdateEvent};
use update_core::firmware::{check_identifier, zstd_target_name};

use super::AppState;
use super::device_auth::SignedDevice;
use super::device_config::assess_config;
use super::error::ApiError;
use crate::controls::path_approved;
use crate::placement::{ClassState, Device, install_cap_hold, place};
use crate::rollout;
use crate::store::NewAuditEntry;
use crate::store::blobs::BlobId;

/// The audit log's action for a check-in through a path its class does not approve.
pub const UNAPPROVED_PATH_ACTION: &str = "check-in via unapproved path";

/// Longest target name or failure reason stored from a device.
const MAX_TEXT: usize = 1024;

fn check_text(what: &str, text: &str) -> Result<(), ApiError> {
    if text.len() > MAX_TEXT {
        return Err(ApiError::BadRequest(format!(
            "{what} is longer than {MAX_TEXT} bytes"
        )));
    }
    Ok(())
}

pub async fn check_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    SignedDevice {
        device,
        body: check_in,
    }: SignedDevice<CheckIn>,
) -> Result<Json<CheckInResponse>, ApiError> {
    device.require_self(&check_in.device_id)?;
    if check_in.class != device.class {
        return Err(ApiError::Forbidden(format!(
            "device {:?} is enrolled in class {:?}, not {:?}",
            device.device_id, device.class, check_in.class
        )));
    }
    check_identifier("hardware id", &check_in.hardware_id).map_err(ApiError::BadRequest)?;
    BlobId::parse(&check_in.image_sha256)
        .map_err(|e| ApiError::BadRequest(format!("image_sha256: {e}")))?;
    if let Some(pending) = &check_in.pending_update {
        check_text("pending target name", &pending.target_name)?;
    }
    let config = match &check_in.config {
        Some(reported) => {
            Some(assess_config(&state.store, &device.device_id, &device.class, reported).await?)
        }
        None => None,
    };
    let source = state.relays.source(peer.ip(), &headers);
    let recorded = state
        .store
        .record_check_in(&check_in, &peer.to_string(), &source, config.as_ref())
        .await?;
    let now = Utc::now();
    let facts = state.class_facts.get(&state.store).await?;
    let active = facts.rollouts.get(&device.class);
    let class = ClassState {
        profile: facts.profiles.get(&device.class).cloned(),
        rollout: rollout::for_check_in(&state.store, active, &device.device_id, now).await?,
    };
    if let Some(profile) = &class.profile {
        let (address, relay) = (source.address.as_str(), source.relay.as_deref());
        if !path_approved(&profile.approved_paths, Some(address), relay) {
            // Answered as usual: the path is the operator's concern, not the device's.
            let subject = match relay {
                Some(relay) => format!("class={} relay={relay}", device.class),
                None => format!("class={}", device.class),
            };
            let entry = NewAuditEntry {
                actor: device.device_id.clone(),
                action: UNAPPROVED_PATH_ACTION.to_string(),
                subject,
                outcome: StatusCode::OK.as_u16(),
                source_address: Some(address.to_string()),
            };
            super::audit::write(&state, &entry).await;
            state.store.count_unapproved_check_in(&device.class).await?;
        }
    }
    // Again after the rollout: completing it moved the baseline pin.
    let facts = state.class_facts.get(&state.store).await?;
    let catalogue = &facts.catalogue;
    let poll_interval_secs = class
        .profile
        .as_ref()
        .and_then(|p| p.poll_interval_secs)
        .unwrap_or(state.poll_interval.as_secs());
    let placed = Device {
        device_id: &device.device_id,
        class: &device.class,
        hardware_id: &check_in.hardware_id,
        firmware_version: &check_in.firmware_version,
    };
    let mut assignment = None;
    if let Some(placement) = place(catalogue, &class, placed, now) {
        let mut offer = placement.assignment;
        if let Some(limit) = placement.needs_install_place {
            let live_since = now.timestamp() - install_place_lifetime(poll_interval_secs);
            let granted = state
                .store
                .grant_install_place(
                    &device.class,
                    &device.device_id,
                    limit,
                    now.timestamp(),
                    live_since,
                )
                .await?;
            if !granted {
                offer.hold = Some(install_cap_hold(limit));
            }
        }
        offer.retry = recorded.retry_requested;
        assignment = Some(offer);
    }
    Ok(Json(CheckInResponse {
        assignment,
        poll_interval_secs,
    }))
}

/// How long a granted install place stays taken without a terminal report: three poll
/// intervals (a device in the middle of an update checks in again only when it is done),
/// and at least an hour, for long downloads.
fn install_place_lifetime(poll_interval_secs: u64) -> i64 {
    i64::try_from(poll_interval_secs.saturating_mul(3))
        .unwrap_or(i64::MAX)
        .max(3600)
}

/// Reports must name a release the server published for the device's class, so that
/// metric labels stay a bounded, meaningful set.
pub async fn report(
    State(state): State<AppState>,
    SignedDevice {
        device,
        body: report,
    }: SignedDevice<Report>,
) -> Result<StatusCode, ApiError> {
    device.require_self(&report.device_id)?;
    check_text("target name", &report.target_name)?;
    if let Some(reason) = &report.reason {
        check_text("reason", reason)?;
    }
    let release = state
        .store
        .release(&report.target_name)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!("no published release {:?}", report.target_name))
        })?;
    if release.class != device.class || release.version != report.version {
        return Err(ApiError::BadRequest(format!(
            "release {:?} is version {} for class {:?}; the report says version {} from a device of class {:?}",
            release.target_name, release.version, release.class, report.version, device.class
        )));
    }
    if let Some(payload) = &report.payload {
        check_payload(&release.target_name, payload)?;
    }
    state.store.record_report(&device.class, &report).await?;
    // A terminal report may halt, advance or complete the class's rollout.
    if report.event.is_terminal() {
        rollout::evaluate_class(&state.store, &device.class, Utc::now()).await?;
    }
    if report.event == UpdateEvent::Downloading {
        state.store.clear_retry(&device.device_id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The payload must name a form of the reported release: the raw target itself, its zstd
/// form, or one of its deltas (`RELEASE.from-SHA256.delta`). Its texts are bounded like
/// every other text a device sends.
fn check_payload(release: &str, payload: &Payload) -> Result<(), ApiError> {
    check_text("payload target name", &payload.target_name)?;
    check_text("payload reason", &payload.reason)?;
    if let Some(failure) = &payload.delta_failure {
        check_text("payload delta failure", failure)?;
    }
    if i64::try_from(payload.length).is_err() {
        return Err(ApiError::BadRequest(format!(
            "payload length {} is out of range",
            payload.length
        )));
    }
    let name = payload.target_name.as_str();
    let names_a_form = match payload.kind {
        PayloadKind::Raw => name == release,
        PayloadKind::Zstd => name == zstd_target_name(release),
        PayloadKind::Delta => name
            .strip_prefix(release)
            .and_then(|rest| rest.strip_prefix(".from-"))
            .and_then(|rest| rest.strip_suffix(".delta"))
            .is_some_and(|sha256| BlobId::parse(sha256).is_ok()),
    };
    if !names_a_form {
        return Err(ApiError::BadRequest(format!(
            "payload target {name:?} is not the {} form of release {release:?}",
            payload.kind.as_str()
        )));
    }
    if payload.kind == PayloadKind::Delta && payload.base_version.is_none() {
        return Err(ApiError::BadRequest(
            "a delta payload must name its base version".into(),
        ));
    }
    Ok(())
}
