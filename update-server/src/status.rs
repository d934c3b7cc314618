//! The fleet as the store records it, read once per request, and the status view of it
//! (`GET /api/v1/admin/status`). Metrics render the same facts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use update_core::api::{ClassPayloads, ClassStatus, DeviceStatus, FleetStatus, Outcomes};
use update_core::classes::{ClassProfile, RolloutStatus};

use crate::fleet::Catalogue;
use crate::rollout;
use crate::store::{DeviceRecord, ReleaseCount, Store, StoreError};

#[derive(Clone, Debug)]
pub struct FleetFacts {
    pub devices: Vec<DeviceRecord>,
    pub counts: Vec<ReleaseCount>,
    pub catalogue: Catalogue,
    /// Update traffic by payload form, per class that has any.
    pub payloads: BTreeMap<String, ClassPayloads>,
    /// Control profiles by class.
    pub profiles: BTreeMap<String, ClassProfile>,
    /// Each class's latest rollout (whatever its state), evaluated now, with wave counts.
    pub rollouts: BTreeMap<String, RolloutStatus>,
    /// The newest configuration profile version of every class that has one.
    pub config_profiles: BTreeMap<String, u64>,
}

impl FleetFacts {
    pub async fn load(store: &Store) -> Result<FleetFacts, StoreError> {
        Ok(FleetFacts {
            devices: store.devices().await?,
            counts: store.release_counts().await?,
            catalogue: Catalogue::load(store).await?,
            payloads: store.payload_totals().await?,
            profiles: store.profiles().await?,
            rollouts: latest_rollouts(store).await?,
            config_profiles: store.newest_config_versions().await?,
        })
    }

    /// The class's latest rollout, if it ever had one.
    pub fn rollout(&self, class: &str) -> Option<&RolloutStatus> {
        self.rollouts.get(class)
    }

    /// Devices of `class` whose last check-in found drifted configuration files.
    pub fn config_drifted<'a>(&'a self, class: &'a str) -> impl Iterator<Item = &'a DeviceRecord> {
        self.devices.iter().filter(move |d| {
            d.class == class
                && d.config_drift
                    .as_ref()
                    .is_some_and(|paths| !paths.is_empty())
        })
    }

    /// Devices of `class` that reported no configuration although the class has a
    /// profile: "config unknown", neither drifted nor clean.
    pub fn config_unknown<'a>(&'a self, class: &'a str) -> impl Iterator<Item = &'a DeviceRecord> {
        let has_profile = self.config_profiles.contains_key(class);
        self.devices
            .iter()
            .filter(move |d| has_profile && d.class == class && d.config_version.is_none())
    }

    /// Every class that has devices, releases, a pin or update traffic, in name order.
    pub fn classes(&self) -> BTreeSet<&str> {
        let devices = self.devices.iter().map(|d| d.class.as_str());
        let releases = self.catalogue.releases.iter().map(|r| r.class.as_str());
        let pins = self.catalogue.pins.keys().map(String::as_str);
        let traffic = self.payloads.keys().map(String::as_str);
        let profiles = self.profiles.keys().map(String::as_str);
        devices
            .chain(releases)
            .chain(pins)
            .chain(traffic)
            .chain(profiles)
            .collect()
    }

    /// The class's update traffic (zero when it has none).
    pub fn class_payloads(&self, class: &str) -> ClassPayloads {
        self.payloads
            .get(class)
            .cloned()
            .unwrap_or_else(|| ClassPayloads::empty(class))
    }

    pub fn class_status(&self, class: &str) -> ClassStatus {
        let approved = self.catalogue.approved(class).cloned();
        let mut status = ClassStatus {
            class: class.to_string(),
            devices: 0,
            on_approved: 0,
            versions: BTreeMap::new(),
            outcomes: Outcomes::default(),
            approved: None,
        };
        for device in self.devices.iter().filter(|d| d.class == class) {
            status.devices += 1;
            if let Some(version) = &device.firmware_version {
                *status.versions.entry(version.to_string()).or_default() += 1;
                if approved.as_ref().is_some_and(|a| &a.version == version) {
                    status.on_approved += 1;
                }
            }
        }
        for count in self.counts.iter().filter(|c| c.class == class) {
            status.outcomes.add(count.event, count.count);
        }
        status.approved = approved;
        status
    }

    pub fn status(&self) -> FleetStatus {
        let classes: Vec<ClassStatus> = self
            .classes()
            .into_iter()
            .map(|class| self.class_status(class))
            .collect();
        let mut outcomes = Outcomes::default();
        for class in &classes {
            outcomes.success += class.outcomes.success;
            outcomes.failure += class.outcomes.failure;
            outcomes.rolled_back += class.outcomes.rolled_back;
        }
        let devices = self
            .devices
            .iter()
            .map(|device| DeviceStatus {
                device_id: device.device_id.clone(),
                class: device.class.clone(),
                firmware_version: device.firmware_version.clone(),
                boot_slot: device.boot_slot,
                last_event: device.last_event,
                last_reason: device.last_reason.clone(),
                last_seen: device.last_seen,
                clock_untrusted: device.clock_untrusted,
                source_address: device.source_address.clone(),
                relay: device.relay.clone(),
                config_version: device.config_version,
                config_drift: device.config_drift.clone(),
            })
            .collect();
        let payloads = classes
            .iter()
            .map(|class| self.class_payloads(&class.class))
            .collect();
        FleetStatus {
            classes,
            devices,
            outcomes,
            payloads,
        }
    }
}

/// The newest rollout of every class, brought up to date.
async fn latest_rollouts(store: &Store) -> Result<BTreeMap<String, RolloutStatus>, StoreError> {
    let now = Utc::now();
    let mut latest = BTreeMap::new();
    // Newest first: the first of each class is its latest.
    for mut status in store.rollouts(None).await? {
        if latest.contains_key(&status.spec.class) {
            continue;
        }
        rollout::refresh(store, &mut status, now).await?;
        latest.insert(status.spec.class.clone(), status);
    }
    Ok(latest)
}
