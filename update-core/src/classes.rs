//! Fleet classes as control profiles (compatible hardware, baseline release, poll
//! interval, approved network paths, maintenance window, install concurrency, alerting
//! threshold) and staged rollouts of a release to a class, as the admin API carries them.
//!
//! Everything here arrives from operators over the network: `validate` methods bound
//! every list and string before the server stores or acts on them.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::firmware::check_identifier;

/// Most entries of any list in a profile.
pub const MAX_LIST: usize = 64;
/// Longest target name accepted for a baseline or rollout release.
pub const MAX_TARGET_NAME: usize = 255;
/// Most waves of a rollout.
pub const MAX_WAVES: usize = 20;
/// Longest soak of one wave: 30 days.
pub const MAX_SOAK_SECS: u64 = 30 * 24 * 3600;
/// Longest poll interval a profile may set: 7 days.
pub const MAX_POLL_INTERVAL_SECS: u64 = 7 * 24 * 3600;
/// Largest `min_finished` of a rollout.
pub const MAX_MIN_FINISHED: u64 = 1_000_000_000;

/// `PUT /api/v1/admin/classes/{class}`: how the server treats a class of devices.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassProfile {
    pub class: String,
    /// Compatible hardware ids; when not empty, other devices get no assignment.
    #[serde(default)]
    pub hardware: Vec<String>,
    /// Target name of the approved baseline release (the class pin).
    #[serde(default)]
    pub baseline: Option<String>,
    /// Overrides the server's poll interval for devices of the class.
    #[serde(default)]
    pub poll_interval_secs: Option<u64>,
    #[serde(default)]
    pub approved_paths: ApprovedPaths,
    /// Installs start only inside this window (UTC).
    #[serde(default)]
    pub maintenance_window: Option<MaintenanceWindow>,
    /// At most this many devices of the class switching to a new release at once: allowed
    /// to switch and not yet finished (success, failure or rollback).
    #[serde(default)]
    pub max_concurrent_installs: Option<u32>,
    /// Alerting: the class's minimum acceptable success rate, 0..=1.
    #[serde(default)]
    pub success_threshold: Option<f64>,
}

/// The management paths through which devices of a class may be managed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovedPaths {
    /// CIDR networks, e.g. "10.0.0.0/8" (a bare address is one host).
    #[serde(default)]
    pub networks: Vec<String>,
    /// Relay names.
    #[serde(default)]
    pub relays: Vec<String>,
}

impl ApprovedPaths {
    /// Whether a request from `address` (through `relay`, if any) is on an approved path:
    /// through an approved relay, or from inside an approved network. With no network
    /// and no relay listed there is no path policy and every path is approved. Networks
    /// that do not parse approve nothing.
    pub fn approves(&self, address: Option<IpAddr>, relay: Option<&str>) -> bool {
        if self.networks.is_empty() && self.relays.is_empty() {
            return true;
        }
        if relay.is_some_and(|relay| self.relays.iter().any(|approved| approved == relay)) {
            return true;
        }
        let Some(address) = address.map(|a| a.to_canonical()) else {
            return false;
        };
        self.networks
            .iter()
            .filter_map(|network| parse_network(network).ok())
            .any(|network| network.contains(&address))
    }
}

/// A CIDR network (`10.0.0.0/8`, `fd00::/8`), or a bare address as a single host.
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not a CIDR network or an IP address"))
}

/// A daily UTC window "HH:MM"-"HH:MM"; `end` before `start` wraps past midnight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    pub start: String,
    pub end: String,
}

/// Parses "HH:MM" into minutes since midnight.
pub fn parse_clock(text: &str) -> Result<u32, String> {
    let bad = || format!("time {text:?} is not HH:MM (00:00 to 23:59)");
    let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
    if hours.len() != 2 || minutes.len() != 2 {
        return Err(bad());
    }
    let hours: u32 = hours.parse().map_err(|_| bad())?;
    let minutes: u32 = minutes.parse().map_err(|_| bad())?;
    if hours > 23 || minutes > 59 {
        return Err(bad());
    }
    Ok(hours * 60 + minutes)
}

impl MaintenanceWindow {
    pub fn validate(&self) -> Result<(), String> {
        let (start, end) = (parse_clock(&self.start)?, parse_clock(&self.end)?);
        if start == end {
            return Err("maintenance window start and end are equal".into());
        }
        Ok(())
    }

    /// Whether `now` falls inside the window (start inclusive, end exclusive).
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        use chrono::Timelike;
        let (Ok(start), Ok(end)) = (parse_clock(&self.start), parse_clock(&self.end)) else {
            return false;
        };
        let minute = now.hour() * 60 + now.minute();
        if start < end {
            (start..end).contains(&minute)
        } else {
            minute >= start || minute < end
        }
    }
}

fn check_list(what: &str, items: &[String]) -> Result<(), String> {
    if items.len() > MAX_LIST {
        return Err(format!("more than {MAX_LIST} {what}"));
    }
    Ok(())
}

/// A target name as operators may give it: bounded, printable, no path tricks.
pub fn check_target_name(what: &str, name: &str) -> Result<(), String> {
    let printable = name.chars().all(|c| c.is_ascii_graphic());
    if name.is_empty() || name.len() > MAX_TARGET_NAME || !printable || name.contains("..") {
        return Err(format!(
            "{what} {name:?} must be 1-{MAX_TARGET_NAME} printable ASCII characters without \"..\""
        ));
    }
    Ok(())
}

/// A share in 0..=1 (rates and thresholds).
fn check_fraction(what: &str, value: f64) -> Result<(), String> {
    if !(0.0..=1.0).contains(&value) {
        return Err(format!("{what} {value} is not between 0 and 1"));
    }
    Ok(())
}

impl ClassProfile {
    pub fn validate(&self) -> Result<(), String> {
        check_identifier("class", &self.class)?;
        check_list("hardware ids", &self.hardware)?;
        for hardware in &self.hardware {
            check_identifier("hardware id", hardware)?;
        }
        if let Some(baseline) = &self.baseline {
            check_target_name("baseline", baseline)?;
        }
        if let Some(secs) = self.poll_interval_secs
            && !(1..=MAX_POLL_INTERVAL_SECS).contains(&secs)
        {
            return Err(format!(
                "poll interval must be 1 to {MAX_POLL_INTERVAL_SECS} seconds"
            ));
        }
        check_list("approved networks", &self.approved_paths.networks)?;
        for network in &self.approved_paths.networks {
            parse_network(network).map_err(|e| format!("approved network: {e}"))?;
        }
        check_list("approved relays", &self.approved_paths.relays)?;
        for relay in &self.approved_paths.relays {
            check_identifier("relay", relay)?;
        }
        if let Some(window) = &self.maintenance_window {
            window.validate()?;
        }
        if self.max_concurrent_installs == Some(0) {
            return Err("max concurrent installs must be at least 1".into());
        }
        if let Some(threshold) = self.success_threshold {
            check_fraction("success threshold", threshold)?;
        }
        Ok(())
    }
}

mod rollout;

pub use rollout::{RolloutSpec, RolloutState, RolloutStatus, WaveStatus};

#[cfg(test)]
mod tests;
