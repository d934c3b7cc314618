//! `/metrics`: fleet metrics in the Prometheus/OpenMetrics text format, built from the
//! database at scrape time so the values survive restarts and agree across replicas, and
//! this process's request latency ([`requests`]).

mod controls;
mod requests;

pub use controls::ControlInputs;
pub use requests::RequestMetrics;

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use update_core::api::{Outcomes, UpdateEvent};

use crate::status::FleetFacts;

/// The `Content-Type` of the rendered text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReleaseLabels {
    class: String,
    release: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    class: String,
    release: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ClassLabels {
    pub class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    class: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    class: String,
    version: String,
}

/// The `outcome` label of a terminal event.
fn outcome_label(event: UpdateEvent) -> Option<&'static str> {
    match event {
        UpdateEvent::Success => Some("success"),
        UpdateEvent::Failure => Some("failure"),
        UpdateEvent::RolledBack => Some("rolled_back"),
        _ => None,
    }
}

pub(crate) fn gauge_value(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Renders every fleet metric. Counter names gain their `_total` suffix when encoded.
pub fn render(
    facts: &FleetFacts,
    controls: &ControlInputs<'_>,
    requests: &RequestMetrics,
) -> Result<String, std::fmt::Error> {
    let attempts = Family::<ReleaseLabels, Counter>::default();
    let outcomes = Family::<OutcomeLabels, Counter>::default();
    let success_ratio = Family::<ClassLabels, Gauge<f64, AtomicU64>>::default();
    let devices = Family::<VersionLabels, Gauge>::default();
    let class_devices = Family::<ClassLabels, Gauge>::default();
    let clock_untrusted = Family::<ClassLabels, Gauge>::default();
    let payloads = Family::<KindLabels, Counter>::default();
    let download_bytes = Family::<KindLabels, Counter>::default();
    let full_equivalent = Family::<ClassLabels, Counter>::default();
    let fallbacks = Family::<ClassLabels, Counter>::default();

    let mut class_outcomes = std::collections::BTreeMap::<&str, Outcomes>::new();
    for count in &facts.counts {
        let release = ReleaseLabels {
            class: count.class.clone(),
            release: count.version.clone(),
        };
        if count.event == UpdateEvent::Downloading {
            attempts.get_or_create(&release).inc_by(count.count);
        } else if let Some(outcome) = outcome_label(count.event) {
            let labels = OutcomeLabels {
                class: release.class,
                release: release.release,
                outcome,
            };
            outcomes.get_or_create(&labels).inc_by(count.count);
            let totals = class_outcomes.entry(count.class.as_str()).or_default();
            totals.add(count.event, count.count);
        }
    }
    for (class, totals) in class_outcomes {
        if let Some(ratio) = totals.success_rate() {
            let labels = ClassLabels {
                class: class.to_string(),
            };
            success_ratio.get_or_create(&labels).set(ratio);
        }
    }
    for class in facts.classes() {
        let status = facts.class_status(class);
        let labels = ClassLabels {
            class: class.to_string(),
        };
        class_devices
            .get_or_create(&labels)
            .set(gauge_value(status.devices));
        let untrusted = facts
            .devices
            .iter()
            .filter(|d| d.class == class && d.clock_untrusted)
            .count();
        clock_untrusted
            .get_or_create(&labels)
            .set(gauge_value(untrusted as u64));
        // Every class and kind gets a series, zero until used, so that rates and
        // differences over them exist from the first scrape.
        let traffic = facts.class_payloads(class);
        for totals in &traffic.kinds {
            let labels = KindLabels {
                class: class.to_string(),
                kind: totals.kind.as_str(),
            };
            payloads.get_or_create(&labels).inc_by(totals.updates);
            download_bytes
                .get_or_create(&labels)
                .inc_by(totals.bytes_downloaded);
        }
        full_equivalent
            .get_or_create(&labels)
            .inc_by(traffic.full_equivalent_bytes);
        fallbacks
            .get_or_create(&labels)
            .inc_by(traffic.delta_fallbacks);
        for (version, count) in status.versions {
            let labels = VersionLabels {
                class: class.to_string(),
                version,
            };
            devices.get_or_create(&labels).set(gauge_value(count));
        }
    }

    let mut registry = Registry::default();
    registry.register(
        "ota_update_attempts",
        "Updates started: devices that reported downloading a release, one per device and release",
        attempts,
    );
    registry.register(
        "ota_update_outcomes",
        "Finished updates by outcome (success, failure, rolled_back), one per device, release and outcome",
        outcomes,
    );
    registry.register(
        "ota_update_success_ratio",
        "Share of finished updates that succeeded, over all releases of the class",
        success_ratio,
    );
    registry.register(
        "ota_devices",
        "Devices by the firmware version they run",
        devices,
    );
    registry.register(
        "ota_class_devices",
        "Devices enrolled in the class",
        class_devices,
    );
    registry.register(
        "ota_devices_clock_untrusted",
        "Devices whose clock is behind the latest time they have proven to have passed (they check metadata expiry against that time instead)",
        clock_untrusted,
    );
    registry.register(
        "ota_update_payloads",
        "Updates by the form the device chose first (delta, zstd, raw), one per device and release",
        payloads,
    );
    registry.register(
        "ota_download_bytes",
        "Bytes devices downloaded for finished updates, by the form the update ended in",
        download_bytes,
    );
    registry.register(
        "ota_download_full_equivalent_bytes",
        "Raw image bytes of the finished updates that downloaded anything: what they would have downloaded without compression or deltas",
        full_equivalent,
    );
    registry.register(
        "ota_delta_fallbacks",
        "Updates whose delta failed on the device, which then downloaded the full image",
        fallbacks,
    );
    controls::register(&mut registry, facts, controls);
    registry.register(
        "ota_http_request_duration_seconds",
        "Time the server took to produce its response (a streamed body, such as an image download, continues after), by route and method",
        requests.durations.clone(),
    );
    let mut text = String::new();
    encode(&mut text, &registry)?;
    Ok(text)
}
