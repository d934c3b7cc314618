//! Staged rollouts of a release to a class: the operator's spec and the server's view
//! of its progress, wave by wave.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{MAX_MIN_FINISHED, MAX_SOAK_SECS, MAX_WAVES, check_fraction, check_target_name};
use crate::firmware::check_identifier;

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
    /// When set (e.g. 0.95), a wave halts only once the failure rate is above
    /// `max_failure_rate` with this confidence (the lower Wilson score bound of the
    /// observed rate exceeds it), so a healthy wave with few finished updates does not
    /// halt on noise. Unset: the observed rate alone decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halt_confidence: Option<f64>,
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
        if let Some(confidence) = self.halt_confidence
            && !(0.5..=0.999).contains(&confidence)
        {
            return Err(format!(
                "halt confidence {confidence} must be between 0.5 and 0.999 (50% to 99.9%)"
            ));
        }
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
