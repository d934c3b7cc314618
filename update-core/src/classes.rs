//! Fleet classes as control profiles (compatible hardware, baseline release, poll
//! interval, approved network paths, maintenance window, install concurrency, alerting
//! threshold) and staged rollouts of a release to a class, as the admin API carries them.
//!
//! Everything here arrives from operators over the network: `validate` methods bound
//! every list and string before the server stores or acts on them.

use std::fmt;

use chrono::{DateTime, Utc};
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
    /// At most this many devices of the class between `downloading` and a terminal report.
    #[serde(default)]
    pub max_concurrent_installs: Option<u32>,
    /// Alerting: the class's minimum acceptable success rate, 0..=1.
    #[serde(default)]
    pub success_threshold: Option<f64>,
}

/// Where devices of a class may fetch updates from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovedPaths {
    /// CIDR networks, e.g. "10.0.0.0/8".
    #[serde(default)]
    pub networks: Vec<String>,
    /// Relay names.
    #[serde(default)]
    pub relays: Vec<String>,
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
            network
                .parse::<ipnet::IpNet>()
                .map_err(|_| format!("approved network {network:?} is not a CIDR network"))?;
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

fn default_min_finished() -> u64 {
    5
}

/// `POST /api/v1/admin/rollouts`: roll `target_name` out to `class` in waves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutSpec {
    pub class: String,
    pub target_name: String,
    /// Cumulative percent of the class per wave, strictly increasing, the last 100.
    pub waves: Vec<u8>,
    /// How long each wave runs before the next may open.
    pub soak_secs: u64,
    /// Failure rate (failures and rollbacks over finished updates) that halts a wave.
    pub max_failure_rate: f64,
    /// Finished updates a wave needs before its failure rate can halt it.
    #[serde(default = "default_min_finished")]
    pub min_finished: u64,
}

impl RolloutSpec {
    pub fn validate(&self) -> Result<(), String> {
        check_identifier("class", &self.class)?;
        check_target_name("target name", &self.target_name)?;
        if self.waves.is_empty() || self.waves.len() > MAX_WAVES {
            return Err(format!("a rollout needs 1 to {MAX_WAVES} waves"));
        }
        if self.waves.windows(2).any(|pair| pair[0] >= pair[1]) || self.waves[0] == 0 {
            return Err("wave percentages must be strictly increasing and above 0".into());
        }
        if self.waves.last() != Some(&100) {
            return Err("the last wave must be 100 percent".into());
        }
        if self.soak_secs > MAX_SOAK_SECS {
            return Err(format!("soak is longer than {MAX_SOAK_SECS} seconds"));
        }
        check_fraction("max failure rate", self.max_failure_rate)?;
        if self.min_finished > MAX_MIN_FINISHED {
            return Err(format!("min finished is above {MAX_MIN_FINISHED}"));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolloutState {
    Running,
    Paused,
    /// Stopped by the server because a wave failed too often.
    Halted,
    Aborted,
    Completed,
}

impl RolloutState {
    pub const ALL: [RolloutState; 5] = [
        RolloutState::Running,
        RolloutState::Paused,
        RolloutState::Halted,
        RolloutState::Aborted,
        RolloutState::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Running => "running",
            RolloutState::Paused => "paused",
            RolloutState::Halted => "halted",
            RolloutState::Aborted => "aborted",
            RolloutState::Completed => "completed",
        }
    }

    /// Still governs its class's assignments.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            RolloutState::Running | RolloutState::Paused | RolloutState::Halted
        )
    }
}

impl fmt::Display for RolloutState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RolloutState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RolloutState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown rollout state {s:?}"))
    }
}

/// A rollout as the server tracks it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutStatus {
    pub id: String,
    pub spec: RolloutSpec,
    /// Version of the release rolled out.
    pub version: semver::Version,
    pub state: RolloutState,
    /// Index of the open wave in `spec.waves`.
    pub wave: usize,
    pub wave_opened_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// Why the rollout halted, was aborted or completed.
    #[serde(default)]
    pub reason: Option<String>,
    /// Per wave (the devices whose bucket falls in it), this rollout's outcomes.
    #[serde(default)]
    pub waves: Vec<WaveStatus>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveStatus {
    pub percent: u8,
    pub devices: u64,
    pub finished: u64,
    pub success: u64,
    pub failure: u64,
    pub rolled_back: u64,
}

impl WaveStatus {
    /// Failures and rollbacks over finished updates; `None` before any finished.
    pub fn failure_rate(&self) -> Option<f64> {
        (self.finished > 0).then(|| (self.failure + self.rolled_back) as f64 / self.finished as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> ClassProfile {
        ClassProfile {
            class: "camera".into(),
            hardware: vec!["cam-v2".into()],
            approved_paths: ApprovedPaths {
                networks: vec![
                    "10.0.0.0/8".into(),
                    "127.0.0.2/32".into(),
                    "fd00::/8".into(),
                ],
                relays: vec!["relay-1".into()],
            },
            maintenance_window: Some(MaintenanceWindow {
                start: "22:00".into(),
                end: "04:00".into(),
            }),
            success_threshold: Some(0.95),
            ..ClassProfile::default()
        }
    }

    #[test]
    fn profiles_validate_networks_windows_and_bounds() {
        assert_eq!(profile().validate(), Ok(()));
        let mut bad = profile();
        bad.approved_paths.networks.push("10.0.0.0/33".into());
        assert!(bad.validate().unwrap_err().contains("CIDR"));
        let mut bad = profile();
        bad.maintenance_window = Some(MaintenanceWindow {
            start: "24:00".into(),
            end: "01:00".into(),
        });
        assert!(bad.validate().is_err());
        let mut bad = profile();
        bad.hardware = vec!["x".into(); MAX_LIST + 1];
        assert!(bad.validate().is_err());
        let mut bad = profile();
        bad.poll_interval_secs = Some(u64::MAX);
        assert!(bad.validate().is_err());
        let mut bad = profile();
        bad.success_threshold = Some(1.5);
        assert!(bad.validate().is_err());
        let mut bad = profile();
        bad.baseline = Some("../etc".into());
        assert!(bad.validate().is_err());
    }

    #[test]
    fn windows_wrap_midnight() {
        let window = profile().maintenance_window.unwrap();
        let at = |h, m| {
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
                .unwrap()
                .and_hms_opt(h, m, 0)
                .unwrap()
                .and_utc()
        };
        assert!(window.contains(at(23, 0)));
        assert!(window.contains(at(3, 59)));
        assert!(!window.contains(at(4, 0)));
        assert!(!window.contains(at(12, 0)));
    }

    #[test]
    fn rollout_specs_need_increasing_waves_ending_at_100() {
        let spec = |waves: Vec<u8>| RolloutSpec {
            class: "camera".into(),
            target_name: "camera-2.0.0.img".into(),
            waves,
            soak_secs: 60,
            max_failure_rate: 0.05,
            min_finished: 5,
        };
        assert_eq!(spec(vec![1, 10, 50, 100]).validate(), Ok(()));
        assert!(spec(vec![10, 10, 100]).validate().is_err());
        assert!(spec(vec![10, 50]).validate().is_err());
        assert!(spec(vec![]).validate().is_err());
        let parsed: RolloutSpec = serde_json::from_value(serde_json::json!({
            "class": "camera", "target_name": "t", "waves": [100],
            "soak_secs": 0, "max_failure_rate": 0.1
        }))
        .unwrap();
        assert_eq!(parsed.min_finished, 5);
    }
}
