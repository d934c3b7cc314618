//! What one device is offered at check-in once its class's profile and rollout are
//! applied to the catalogue's baseline: compatible hardware, rollout waves, the
//! maintenance window and the cap on concurrent installs.
//!
//! The window and the cap withhold *new* updates only: a device that already runs the
//! offered release, or is in the middle of an update, keeps its assignment so that it
//! can finish. Outside the window a device is offered nothing new, so it neither
//! downloads nor installs until the window opens (devices take no schedule from the
//! server, so withholding is the only way to keep installs inside the window).

use chrono::{DateTime, Utc};
use update_core::api::Assignment;
use update_core::classes::{ClassProfile, RolloutStatus};

use crate::fleet::Catalogue;
use crate::rollout::{DeviceProgress, Offer, engine};

/// The device checking in.
#[derive(Clone, Copy, Debug)]
pub struct Device<'a> {
    pub device_id: &'a str,
    pub class: &'a str,
    pub hardware_id: &'a str,
    pub firmware_version: &'a semver::Version,
}

/// Its class: the profile, the governing rollout with this device's progress, and the
/// devices of the class now between `downloading` and a terminal report.
#[derive(Clone, Debug, Default)]
pub struct ClassState {
    pub profile: Option<ClassProfile>,
    pub rollout: Option<(RolloutStatus, DeviceProgress)>,
    pub installs_in_progress: Vec<String>,
}

pub fn place(
    catalogue: &Catalogue,
    class: &ClassState,
    device: Device<'_>,
    now: DateTime<Utc>,
) -> Option<Assignment> {
    let profile = class.profile.as_ref();
    if let Some(profile) = profile
        && !profile.hardware.is_empty()
        && !profile.hardware.iter().any(|h| h == device.hardware_id)
    {
        return None;
    }
    let offered = match &class.rollout {
        Some((rollout, own)) => {
            let runs_release = device.firmware_version == &rollout.version;
            match engine::offer(rollout, own, runs_release) {
                // A withdrawn rollout release leaves the device on the baseline.
                Offer::Release => catalogue
                    .assignment_of(device.class, &rollout.spec.target_name, device.hardware_id)
                    .or_else(|| catalogue.assignment(device.class, device.hardware_id)),
                Offer::Baseline => catalogue.assignment(device.class, device.hardware_id),
            }
        }
        None => catalogue.assignment(device.class, device.hardware_id),
    }?;
    let nothing_new = &offered.version == device.firmware_version;
    let busy = class
        .installs_in_progress
        .iter()
        .any(|id| id == device.device_id);
    if nothing_new || busy {
        return Some(offered);
    }
    if let Some(window) = profile.and_then(|p| p.maintenance_window.as_ref())
        && !window.contains(now)
    {
        return None;
    }
    if let Some(limit) = profile.and_then(|p| p.max_concurrent_installs)
        && class.installs_in_progress.len() >= limit as usize
    {
        return None;
    }
    Some(offered)
}

#[cfg(test)]
mod tests;
