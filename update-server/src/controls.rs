//! Whether a class's controls work, device by device: the rules behind three of the four
//! fleet numbers (the fourth, the update success rate, is counted from reports).
//!
//! - **Baseline**: a device runs its class's approved baseline release.
//! - **Firmware drift**: it runs neither the baseline nor the release of the class's active
//!   rollout.
//! - **Configuration drift**: its last check-in measured listed files that differ from the
//!   class's signed configuration profile (recorded at check-in, `http::device_config`).
//! - **Management path**: its last check-in, if within three poll intervals, came through
//!   an approved network or relay of its class.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use update_core::classes::{ApprovedPaths, ClassProfile};

use crate::status::FleetFacts;
use crate::store::DeviceRecord;

/// A device is unreachable when it has not checked in for this many poll intervals.
pub const REACHABLE_POLL_INTERVALS: u32 = 3;

/// How a device was last reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reachability {
    /// Its last check-in, recent enough, came through an approved network or relay.
    Approved,
    /// Its last check-in was recent but through no approved path.
    Unapproved,
    /// Not seen within [`REACHABLE_POLL_INTERVALS`] poll intervals (or never).
    Unreachable,
}

impl Reachability {
    pub const ALL: [Reachability; 3] = [
        Reachability::Approved,
        Reachability::Unapproved,
        Reachability::Unreachable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reachability::Approved => "approved",
            Reachability::Unapproved => "unapproved",
            Reachability::Unreachable => "unreachable",
        }
    }
}

/// Whether a check-in recorded from `address` (`IP` or `IP:PORT`) through `relay` is on
/// one of `paths` ([`ApprovedPaths::approves`]).
pub fn path_approved(paths: &ApprovedPaths, address: Option<&str>, relay: Option<&str>) -> bool {
    paths.approves(address.and_then(parse_address), relay)
}

/// The IP of a recorded source: `IP` or `IP:PORT` (`[IPv6]:PORT`).
fn parse_address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
}

/// The counts behind a class's control numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassControls {
    pub devices: u64,
    pub on_baseline: u64,
    pub firmware_drifted: u64,
    pub config_drifted: u64,
    /// The class has a configuration profile but the device reported no digests.
    pub config_unknown: u64,
    pub approved: u64,
    pub unapproved: u64,
    pub unreachable: u64,
}

impl ClassControls {
    pub fn reachability(&self, reachability: Reachability) -> u64 {
        match reachability {
            Reachability::Approved => self.approved,
            Reachability::Unapproved => self.unapproved,
            Reachability::Unreachable => self.unreachable,
        }
    }
}

fn reachability(
    device: &DeviceRecord,
    profile: Option<&ClassProfile>,
    poll_interval: Duration,
    now: DateTime<Utc>,
) -> Reachability {
    let window = poll_interval.saturating_mul(REACHABLE_POLL_INTERVALS);
    let recent = device
        .last_seen
        .is_some_and(|seen| (now - seen).to_std().map_or(true, |since| since <= window));
    if !recent {
        return Reachability::Unreachable;
    }
    let paths = profile
        .map(|p| p.approved_paths.clone())
        .unwrap_or_default();
    if path_approved(
        &paths,
        device.source_address.as_deref(),
        device.relay.as_deref(),
    ) {
        Reachability::Approved
    } else {
        Reachability::Unapproved
    }
}

impl FleetFacts {
    /// The control counts of `class`; `default_poll` is the server's poll interval, used
    /// when the class's profile sets none.
    pub fn controls(
        &self,
        class: &str,
        default_poll: Duration,
        now: DateTime<Utc>,
    ) -> ClassControls {
        let profile = self.profiles.get(class);
        let poll = profile
            .and_then(|p| p.poll_interval_secs)
            .map_or(default_poll, Duration::from_secs);
        let baseline = self.catalogue.approved(class).map(|r| &r.version);
        let rollout = self
            .rollout(class)
            .filter(|r| r.state.is_active())
            .map(|r| &r.version);
        let mut controls = ClassControls::default();
        for device in self.devices.iter().filter(|d| d.class == class) {
            controls.devices += 1;
            let version = device.firmware_version.as_ref();
            if version.is_some() && version == baseline {
                controls.on_baseline += 1;
            } else if version.is_none() || version != rollout {
                controls.firmware_drifted += 1;
            }
            match reachability(device, profile, poll, now) {
                Reachability::Approved => controls.approved += 1,
                Reachability::Unapproved => controls.unapproved += 1,
                Reachability::Unreachable => controls.unreachable += 1,
            }
        }
        controls.config_drifted = self.config_drifted(class).count() as u64;
        controls.config_unknown = self.config_unknown(class).count() as u64;
        controls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(networks: &[&str], relays: &[&str]) -> ApprovedPaths {
        ApprovedPaths {
            networks: networks.iter().map(|n| n.to_string()).collect(),
            relays: relays.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn an_approved_network_or_relay_approves_a_path() {
        let policy = paths(&["10.1.0.0/16", "127.0.0.2/32"], &["site-gw-1"]);
        assert!(path_approved(&policy, Some("10.1.2.3"), None));
        assert!(path_approved(&policy, Some("127.0.0.2:40000"), None));
        assert!(!path_approved(&policy, Some("127.0.0.3:40000"), None));
        assert!(!path_approved(&policy, Some("10.2.0.1"), None));
        // Through an approved relay, wherever the device is.
        assert!(path_approved(
            &policy,
            Some("192.168.1.9"),
            Some("site-gw-1")
        ));
        // Through another relay, only if the device's own address is approved.
        assert!(!path_approved(&policy, Some("192.168.1.9"), Some("rogue")));
        assert!(path_approved(&policy, Some("10.1.0.9"), Some("rogue")));
        assert!(!path_approved(&policy, None, None));
        assert!(!path_approved(&policy, Some("not an address"), None));
        assert!(!path_approved(&policy, Some("[::1]:80"), None));
    }

    #[test]
    fn no_policy_approves_every_path() {
        assert!(path_approved(&paths(&[], &[]), Some("203.0.113.7"), None));
        assert!(path_approved(&paths(&[], &[]), None, None));
    }

    #[test]
    fn reachability_needs_a_check_in_within_three_poll_intervals() {
        let now = Utc::now();
        let mut device = DeviceRecord {
            device_id: "d".into(),
            class: "camera".into(),
            hardware_id: None,
            firmware_version: None,
            boot_slot: None,
            last_event: None,
            last_reason: None,
            last_seen: None,
            clock_untrusted: false,
            source_address: Some("127.0.0.3:5000".into()),
            relay: None,
            config_version: None,
            config_drift: None,
        };
        let poll = Duration::from_secs(60);
        let profile = ClassProfile {
            approved_paths: paths(&["127.0.0.2/32"], &[]),
            class: "camera".into(),
            ..ClassProfile::default()
        };
        assert_eq!(
            reachability(&device, Some(&profile), poll, now),
            Reachability::Unreachable
        );
        device.last_seen = Some(now - chrono::Duration::seconds(179));
        assert_eq!(
            reachability(&device, Some(&profile), poll, now),
            Reachability::Unapproved
        );
        device.source_address = Some("127.0.0.2:5000".into());
        assert_eq!(
            reachability(&device, Some(&profile), poll, now),
            Reachability::Approved
        );
        device.last_seen = Some(now - chrono::Duration::seconds(181));
        assert_eq!(
            reachability(&device, Some(&profile), poll, now),
            Reachability::Unreachable
        );
    }
}
