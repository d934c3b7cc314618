//! The metrics that tell whether a class's controls work: share on the baseline, firmware
//! and configuration drift, reachability through approved management paths, check-ins
//! through unapproved paths, rollouts, the class's success threshold and how long
//! installs take.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use update_core::classes::RolloutState;

use super::{ClassLabels, gauge_value};
use crate::controls::Reachability;
use crate::status::FleetFacts;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PathLabels {
    class: String,
    path: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RolloutLabels {
    class: String,
    rollout: String,
    release: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RolloutStateLabels {
    class: String,
    rollout: String,
    release: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WaveLabels {
    class: String,
    rollout: String,
    release: String,
    wave: String,
}

/// Install durations from the first `downloading` report to `success`: minutes on a
/// slow link, seconds in a lab.
const INSTALL_BUCKETS: [f64; 12] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0,
];

fn install_histogram() -> Histogram {
    Histogram::new(INSTALL_BUCKETS)
}

/// What the store knows beyond [`FleetFacts`] for these metrics.
pub struct ControlInputs<'a> {
    pub default_poll: Duration,
    pub now: DateTime<Utc>,
    /// Check-ins through unapproved paths, by class, since the server's data began.
    pub unapproved_check_ins: &'a BTreeMap<String, u64>,
    /// Seconds from `downloading` to `success` of every committed update, by class.
    pub install_durations: &'a [(String, f64)],
}

pub fn register(registry: &mut Registry, facts: &FleetFacts, inputs: &ControlInputs<'_>) {
    let on_baseline = Family::<ClassLabels, Gauge>::default();
    let firmware_drifted = Family::<ClassLabels, Gauge>::default();
    let config_drifted = Family::<ClassLabels, Gauge>::default();
    let config_unknown = Family::<ClassLabels, Gauge>::default();
    let reachability = Family::<PathLabels, Gauge>::default();
    let unapproved = Family::<ClassLabels, Counter>::default();
    let threshold = Family::<ClassLabels, Gauge<f64, AtomicU64>>::default();
    for class in facts.classes() {
        let labels = ClassLabels {
            class: class.to_string(),
        };
        let controls = facts.controls(class, inputs.default_poll, inputs.now);
        on_baseline
            .get_or_create(&labels)
            .set(gauge_value(controls.on_baseline));
        firmware_drifted
            .get_or_create(&labels)
            .set(gauge_value(controls.firmware_drifted));
        config_drifted
            .get_or_create(&labels)
            .set(gauge_value(controls.config_drifted));
        config_unknown
            .get_or_create(&labels)
            .set(gauge_value(controls.config_unknown));
        for path in Reachability::ALL {
            let path_labels = PathLabels {
                class: class.to_string(),
                path: path.as_str(),
            };
            reachability
                .get_or_create(&path_labels)
                .set(gauge_value(controls.reachability(path)));
        }
        let count = inputs.unapproved_check_ins.get(class).copied().unwrap_or(0);
        unapproved.get_or_create(&labels).inc_by(count);
        if let Some(share) = facts.profiles.get(class).and_then(|p| p.success_threshold) {
            threshold.get_or_create(&labels).set(share);
        }
    }
    registry.register(
        "ota_devices_on_baseline",
        "Devices running their class's approved baseline release",
        on_baseline,
    );
    registry.register(
        "ota_devices_firmware_drifted",
        "Devices running neither the class's baseline nor the release of its active rollout",
        firmware_drifted,
    );
    registry.register(
        "ota_devices_config_drifted",
        "Devices whose last check-in measured configuration files that differ from the class's signed profile",
        config_drifted,
    );
    registry.register(
        "ota_devices_config_unknown",
        "Devices of a class with a configuration profile that reported no digests",
        config_unknown,
    );
    registry.register(
        "ota_devices_reachability",
        "Devices by how their last check-in within three poll intervals reached the server: through an approved path, only an unapproved one, or unreachable",
        reachability,
    );
    registry.register(
        "ota_checkins_unapproved_path",
        "Check-ins that came through a network or relay the class does not approve",
        unapproved,
    );
    registry.register(
        "ota_class_success_threshold",
        "The lowest update success rate the class's profile accepts (alerting threshold)",
        threshold,
    );
    register_rollouts(registry, facts);
    register_install_durations(registry, inputs.install_durations);
}

fn register_rollouts(registry: &mut Registry, facts: &FleetFacts) {
    let state = Family::<RolloutStateLabels, Gauge>::default();
    let wave_percent = Family::<RolloutLabels, Gauge>::default();
    let wave_failure = Family::<WaveLabels, Gauge<f64, AtomicU64>>::default();
    for (class, rollout) in &facts.rollouts {
        let labels = RolloutLabels {
            class: class.clone(),
            rollout: rollout.id.clone(),
            release: rollout.version.to_string(),
        };
        for each in RolloutState::ALL {
            let state_labels = RolloutStateLabels {
                class: labels.class.clone(),
                rollout: labels.rollout.clone(),
                release: labels.release.clone(),
                state: each.as_str(),
            };
            state
                .get_or_create(&state_labels)
                .set(i64::from(each == rollout.state));
        }
        let open = rollout.spec.waves.get(rollout.wave).copied().unwrap_or(0);
        wave_percent.get_or_create(&labels).set(i64::from(open));
        for (index, wave) in rollout.waves.iter().enumerate() {
            if let Some(rate) = wave.failure_rate() {
                let wave_labels = WaveLabels {
                    class: labels.class.clone(),
                    rollout: labels.rollout.clone(),
                    release: labels.release.clone(),
                    wave: (index + 1).to_string(),
                };
                wave_failure.get_or_create(&wave_labels).set(rate);
            }
        }
    }
    registry.register(
        "ota_rollout_state",
        "1 for the state each class's latest rollout is in (running, paused, halted, aborted, completed), 0 for the others",
        state,
    );
    registry.register(
        "ota_rollout_wave_percent",
        "Share of the class, in percent, that the rollout's open wave covers",
        wave_percent,
    );
    registry.register(
        "ota_rollout_wave_failure_ratio",
        "Failed and rolled-back updates over finished ones, per wave (1-based) of the rollout",
        wave_failure,
    );
}

fn register_install_durations(registry: &mut Registry, durations: &[(String, f64)]) {
    let family = Family::<ClassLabels, Histogram, fn() -> Histogram>::new_with_constructor(
        install_histogram,
    );
    for (class, seconds) in durations {
        family
            .get_or_create(&ClassLabels {
                class: class.clone(),
            })
            .observe(*seconds);
    }
    registry.register(
        "ota_install_duration_seconds",
        "Time from a device's first downloading report to its success report, per committed update",
        family,
    );
}
