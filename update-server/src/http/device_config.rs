//! Checking the configuration a device reports at check-in and computing its drift
//! against the server's own copy of the signed profile: the device's own `drifted` list
//! is only compared, never trusted.

use std::collections::BTreeSet;

use update_core::api::ConfigState;
use update_core::config_profile::{
    MAX_FILES, MAX_PATH_LEN, check_path, is_sha256_hex, profile_target_names,
};

use super::error::ApiError;
use crate::store::{DeviceConfig, Store};

/// Bounds, then drift: the profile must be a published profile of the device's own
/// class (the newest or an older one), each path and digest well formed.
pub async fn assess_config(
    store: &Store,
    device_id: &str,
    class: &str,
    reported: &ConfigState,
) -> Result<DeviceConfig, ApiError> {
    check_bounds(reported)?;
    let expected_names = profile_target_names(class, reported.version);
    if !expected_names.contains(&reported.profile) {
        return Err(ApiError::BadRequest(format!(
            "config profile {:?} is not version {} of class {class:?} ({expected_names:?})",
            reported.profile, reported.version
        )));
    }
    // (class, version) names one profile: either of its names is accepted, so a device
    // that names it the top-level way (ota-fleet-sim does) still reports against a
    // profile its class's role signed.
    let expected_name = &reported.profile;
    let stored = store
        .config_profile(class, reported.version)
        .await?
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "config profile {expected_name:?} has not been published"
            ))
        })?;
    let drifted = stored.profile.drifted(&reported.files);
    let claimed: BTreeSet<&str> = reported.drifted.iter().map(String::as_str).collect();
    let computed: BTreeSet<&str> = drifted.iter().map(String::as_str).collect();
    if claimed != computed {
        tracing::warn!(
            device_id,
            profile = %expected_name,
            claimed = claimed.len(),
            computed = computed.len(),
            "device's drifted list disagrees with its digests; using the digests"
        );
    }
    Ok(DeviceConfig {
        version: reported.version,
        drifted,
    })
}

fn check_bounds(reported: &ConfigState) -> Result<(), ApiError> {
    let bad = |reason: String| Err(ApiError::BadRequest(format!("config: {reason}")));
    if reported.profile.len() > MAX_PATH_LEN {
        return bad("profile name is too long".into());
    }
    if reported.files.len() > MAX_FILES || reported.drifted.len() > MAX_FILES {
        return bad(format!("more than {MAX_FILES} files"));
    }
    let mut seen = BTreeSet::new();
    for file in &reported.files {
        check_path(&file.path).map_err(|e| ApiError::BadRequest(format!("config: {e}")))?;
        if !seen.insert(file.path.as_str()) {
            return bad(format!("path {:?} is listed twice", file.path));
        }
        if file
            .sha256
            .as_deref()
            .is_some_and(|sha| !is_sha256_hex(sha))
        {
            return bad(format!(
                "sha256 of {:?} is not 64 lowercase hex digits",
                file.path
            ));
        }
    }
    for path in &reported.drifted {
        check_path(path).map_err(|e| ApiError::BadRequest(format!("config drifted: {e}")))?;
    }
    Ok(())
}
