//! What one device is offered at check-in once its class's profile and rollout are
//! applied to the catalogue's baseline: compatible hardware, rollout waves, the
//! maintenance window and the cap on concurrent installs.
//!
//! The window and the cap gate the *switch*, not the download: a device is offered its
//! new release at any time and may write it into its inactive slot, but the assignment
//! carries a hold while the window is closed, and a device may switch only once the store
//! has granted it one of the class's install places ([`Placement::needs_install_place`]).

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

/// Its class: the profile and the governing rollout with this device's progress.
#[derive(Clone, Debug, Default)]
pub struct ClassState {
    pub profile: Option<ClassProfile>,
    pub rollout: Option<(RolloutStatus, DeviceProgress)>,
}

/// The offer to one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub assignment: Assignment,
    /// The class caps concurrent installs at this many: the device may switch only if it
    /// gets one of the places (`Store::grant_install_place`); otherwise hold it.
    pub needs_install_place: Option<u32>,
}

pub fn place(
    catalogue: &Catalogue,
    class: &ClassState,
    device: Device<'_>,
    now: DateTime<Utc>,
) -> Option<Placement> {
    let profile = class.profile.as_ref();
    if let Some(profile) = profile
        && !profile.hardware.is_empty()
        && !profile.hardware.iter().any(|h| h == device.hardware_id)
    {
        return None;
    }
    let mut assignment = match &class.rollout {
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
    let nothing_new = &assignment.version == device.firmware_version;
    let mut needs_install_place = None;
    if !nothing_new {
        if let Some(window) = profile.and_then(|p| p.maintenance_window.as_ref())
            && !window.contains(now)
        {
            assignment.hold = Some(format!(
                "outside the class's maintenance window {}-{} UTC",
                window.start, window.end
            ));
        } else {
            needs_install_place = profile.and_then(|p| p.max_concurrent_installs);
        }
    }
    Some(Placement {
        assignment,
        needs_install_place,
    })
}

/// The hold of a device that did not get one of `limit` install places.
pub fn install_cap_hold(limit: u32) -> String {
    format!("the class's {limit} concurrent install places are taken")
}

#[cfg(test)]
mod tests;
