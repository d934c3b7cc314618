//! The rollout rules as pure functions of (rollout, device progress, now): wave counts,
//! when a wave opens, halts or completes the rollout, and what a device is assigned.
//! Nothing here reads a clock or the database, so tests pass `now` and counts directly.

use chrono::{DateTime, Duration, Utc};
use update_core::api::UpdateEvent;
use update_core::classes::{RolloutState, RolloutStatus, WaveStatus};

use super::bucket::{bucket, wave_of};
use super::evidence::failure_rate_lower_bound;

/// What the server knows of one device of the class for this rollout's release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceProgress {
    pub device_id: String,
    /// The device reported any step of this release.
    pub started: bool,
    /// Its latest terminal report for this release.
    pub outcome: Option<UpdateEvent>,
}

/// Counts each wave's devices and outcomes.
pub fn wave_statuses(status: &RolloutStatus, devices: &[DeviceProgress]) -> Vec<WaveStatus> {
    let waves = &status.spec.waves;
    let mut out: Vec<WaveStatus> = waves
        .iter()
        .map(|&percent| WaveStatus {
            percent,
            ..WaveStatus::default()
        })
        .collect();
    for device in devices {
        let Some(wave) = wave_of(waves, bucket(&status.id, &device.device_id)) else {
            continue;
        };
        let Some(counts) = out.get_mut(wave) else {
            continue;
        };
        counts.devices += 1;
        match device.outcome {
            Some(UpdateEvent::Success) => counts.success += 1,
            Some(UpdateEvent::Failure) => counts.failure += 1,
            Some(UpdateEvent::RolledBack) => counts.rolled_back += 1,
            _ => continue,
        }
        counts.finished += 1;
    }
    out
}

/// A change of the rollout's state the rules call for.
#[derive(Clone, Debug, PartialEq)]
pub enum Transition {
    /// Open wave `wave` at `opened_at`.
    Advance {
        wave: usize,
        opened_at: DateTime<Utc>,
    },
    Halt {
        reason: String,
    },
    /// The last wave soaked cleanly: the release becomes the class's baseline.
    Complete {
        reason: String,
    },
}

/// What the rules say should happen to a running rollout whose waves hold `waves` counts.
pub fn evaluate(status: &RolloutStatus, now: DateTime<Utc>) -> Option<Transition> {
    if status.state != RolloutState::Running {
        return None;
    }
    let spec = &status.spec;
    let open = status.waves.get(status.wave)?;
    let rate = open.failure_rate().unwrap_or(0.0);
    let over = rate > spec.max_failure_rate;
    let failed = open.failure + open.rolled_back;
    let bound = spec.halt_confidence.map(|confidence| {
        (
            confidence,
            failure_rate_lower_bound(failed, open.finished, confidence),
        )
    });
    let halts = match bound {
        Some((_, lower)) => lower > spec.max_failure_rate,
        None => over,
    };
    if halts && open.finished >= spec.min_finished {
        let evidence = match bound {
            Some((confidence, lower)) => format!(
                "; at {:.1}% confidence at least {:.1}%",
                confidence * 100.0,
                lower * 100.0
            ),
            None => String::new(),
        };
        return Some(Transition::Halt {
            reason: format!(
                "wave {} ({}%): {} of {} finished updates failed or rolled back ({:.1}%{evidence} > {:.1}%)",
                status.wave + 1,
                open.percent,
                failed,
                open.finished,
                rate * 100.0,
                spec.max_failure_rate * 100.0
            ),
        });
    }
    if !soaked(status, now) || over {
        return None;
    }
    if status.wave + 1 >= spec.waves.len() {
        return Some(Transition::Complete {
            reason: format!(
                "all waves soaked; {} is now the baseline of {}",
                spec.target_name, spec.class
            ),
        });
    }
    Some(Transition::Advance {
        wave: status.wave + 1,
        opened_at: now,
    })
}

/// Whether the open wave has run its soak time at `now`.
pub fn soaked(status: &RolloutStatus, now: DateTime<Utc>) -> bool {
    let soak = Duration::seconds(i64::try_from(status.spec.soak_secs).unwrap_or(i64::MAX));
    status
        .wave_opened_at
        .checked_add_signed(soak)
        .is_some_and(|due| now >= due)
}

/// Applies `transition` to `status`.
pub fn apply(status: &mut RolloutStatus, transition: &Transition) {
    match transition {
        Transition::Advance { wave, opened_at } => {
            status.wave = *wave;
            status.wave_opened_at = *opened_at;
        }
        Transition::Halt { reason } => {
            status.state = RolloutState::Halted;
            status.reason = Some(reason.clone());
        }
        Transition::Complete { reason } => {
            status.state = RolloutState::Completed;
            status.reason = Some(reason.clone());
        }
    }
}

/// Which release a device of the rollout's class should be offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// The rollout's release.
    Release,
    /// Whatever the class's baseline is.
    Baseline,
}

/// Running: devices of the open waves get the release. Paused: only devices that already
/// started it keep it. Halted or aborted: only devices already running it keep it (so
/// they are not told to go back); nobody new starts. Completed: the baseline is the
/// release.
pub fn offer(status: &RolloutStatus, device: &DeviceProgress, runs_release: bool) -> Offer {
    let in_open_wave = || {
        let open_percent = status.spec.waves.get(status.wave).copied().unwrap_or(0);
        bucket(&status.id, &device.device_id) < open_percent
    };
    let gets_release = match status.state {
        RolloutState::Running => in_open_wave(),
        RolloutState::Paused => in_open_wave() && (device.started || runs_release),
        RolloutState::Halted | RolloutState::Aborted => runs_release,
        RolloutState::Completed => false,
    };
    if gets_release {
        Offer::Release
    } else {
        Offer::Baseline
    }
}

#[cfg(test)]
mod tests;
