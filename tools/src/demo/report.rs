//! What the demo shows at the end, and whether the fleet did what it should: every device
//! on the new release, except the one with the failing health check, which must have
//! rolled back to the old one; and, once devices choose among the release's forms, the
//! update travelling as the delta published for it.

use update_core::api::{DeviceStatus, FleetStatus, Outcomes, PayloadKind, UpdateEvent};

use super::fleet::{DeviceRun, SimulatedDevice};
use crate::display::{Table, format_bytes, printable, ratio, success_rate};

const MAX_REASON: usize = 60;

pub struct Expected<'a> {
    pub class: &'a str,
    pub new_version: &'a semver::Version,
    pub old_version: &'a semver::Version,
    /// The new release was published with a delta from the old one.
    pub delta_published: bool,
}

/// One row per device: id, final slot, version, last event and reason (from the
/// server), and the simulator's exit code.
pub fn device_table(
    devices: &[SimulatedDevice],
    runs: &[DeviceRun],
    status: &FleetStatus,
) -> Table {
    let mut table = Table::new(&["DEVICE", "SLOT", "VERSION", "LAST EVENT", "EXIT", "REASON"]);
    for (device, run) in devices.iter().zip(runs) {
        let seen = find(status, &device.id);
        let show = |value: Option<String>| value.unwrap_or_else(|| "-".to_string());
        table.push(vec![
            device.id.clone(),
            show(seen.and_then(|d| d.boot_slot).map(|s| s.to_string())),
            show(
                seen.and_then(|d| d.firmware_version.as_ref())
                    .map(ToString::to_string),
            ),
            show(seen.and_then(|d| d.last_event).map(|e| e.to_string())),
            exit_text(run),
            show(
                seen.and_then(|d| d.last_reason.as_deref())
                    .map(|r| printable(r, MAX_REASON)),
            ),
        ]);
    }
    table
}

/// `success rate: 95.0% (19 of 20); 1 rolled back` for the demo's class.
pub fn success_line(status: &FleetStatus, class: &str) -> String {
    let outcomes: Outcomes = status
        .classes
        .iter()
        .find(|c| c.class == class)
        .map_or(status.outcomes, |c| c.outcomes);
    let mut line = format!("success rate: {}", success_rate(&outcomes));
    if outcomes.rolled_back > 0 {
        line.push_str(&format!("; {} rolled back", outcomes.rolled_back));
    }
    if outcomes.failure > 0 {
        line.push_str(&format!("; {} failed", outcomes.failure));
    }
    line
}

/// What the devices downloaded against what raw images would have cost, from what the
/// devices reported to the server (not from the sizes the release was published with).
pub fn bytes_saved_line(status: &FleetStatus, class: &str) -> String {
    let Some(payloads) = status.payloads_of(class) else {
        return "bytes saved: the server reports no update traffic".to_string();
    };
    let by_kind: Vec<String> = PayloadKind::ALL
        .into_iter()
        .map(|kind| {
            let updates = payloads.kind(kind).map_or(0, |t| t.updates);
            format!("{} {updates}", kind.as_str())
        })
        .collect();
    format!(
        "bytes saved: devices downloaded {} for {} updates ({}); raw images would have been {}: {} saved ({})",
        format_bytes(payloads.bytes_downloaded()),
        payloads.updates(),
        by_kind.join(", "),
        format_bytes(payloads.full_equivalent_bytes),
        format_bytes(payloads.bytes_saved()),
        ratio(payloads.bytes_saved(), payloads.full_equivalent_bytes)
    )
}

/// The fleet metrics, without Prometheus comments.
pub fn metric_lines(metrics: &str) -> Vec<&str> {
    metrics
        .lines()
        // Histogram buckets would be most of the text; their _sum and _count stay.
        .filter(|line| line.starts_with("ota_") && !line.contains("_bucket{"))
        .collect()
}

/// Every way the fleet's end state differs from the expected one.
pub fn problems(
    devices: &[SimulatedDevice],
    runs: &[DeviceRun],
    report: &FleetStatus,
    expected: &Expected,
) -> Vec<String> {
    let status = report;
    let mut problems = delivery_problems(report, expected);
    for (device, run) in devices.iter().zip(runs) {
        let (version, event) = if device.failing_health_check {
            (expected.old_version, UpdateEvent::RolledBack)
        } else {
            (expected.new_version, UpdateEvent::Success)
        };
        let Some(seen) = find(status, &device.id) else {
            problems.push(format!("{}: unknown to the server", device.id));
            continue;
        };
        if seen.firmware_version.as_ref() != Some(version) || seen.last_event != Some(event) {
            problems.push(format!(
                "{}: expected version {version} after {event}, the server has version {} after {}",
                device.id,
                seen.firmware_version
                    .as_ref()
                    .map_or("-".to_string(), ToString::to_string),
                seen.last_event.map_or("-".to_string(), |e| e.to_string()),
            ));
        }
        if run.exit_code != Some(0) {
            problems.push(format!(
                "{}: update-client simulate {}",
                device.id,
                match (run.timed_out, run.exit_code) {
                    (true, _) => "timed out".to_string(),
                    (false, Some(code)) => format!("exited with status {code}"),
                    (false, None) => "was killed by a signal".to_string(),
                }
            ));
        }
        if seen.class != expected.class {
            problems.push(format!(
                "{}: in class {}",
                device.id,
                printable(&seen.class, 64)
            ));
        }
    }
    problems
}

/// Devices that choose among a release's forms (they report zstd or delta payloads) must
/// have taken the published delta: their slot holds its base. Devices that report no
/// payload download the raw image and are not held to it.
fn delivery_problems(report: &FleetStatus, expected: &Expected) -> Vec<String> {
    let Some(payloads) = report.payloads_of(expected.class) else {
        return Vec::new();
    };
    let updates = |kind| payloads.kind(kind).map_or(0, |t| t.updates);
    let choosing = updates(PayloadKind::Delta) + updates(PayloadKind::Zstd) > 0;
    let mut problems = Vec::new();
    if expected.delta_published && choosing && updates(PayloadKind::Zstd) > 0 {
        problems.push(format!(
            "{} of {} updates downloaded the zstd image, not the delta from {} published for them",
            updates(PayloadKind::Zstd),
            payloads.updates(),
            expected.old_version
        ));
    }
    if payloads.delta_fallbacks > 0 {
        problems.push(format!(
            "{} devices fell back from the delta to the full image",
            payloads.delta_fallbacks
        ));
    }
    problems
}

fn find<'a>(status: &'a FleetStatus, id: &str) -> Option<&'a DeviceStatus> {
    status.devices.iter().find(|d| d.device_id == id)
}

fn exit_text(run: &DeviceRun) -> String {
    match (run.timed_out, run.exit_code) {
        (true, _) => "timeout".to_string(),
        (false, Some(code)) => code.to_string(),
        (false, None) => "signal".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use update_core::api::{ClassPayloads, KindTotals, Slot};

    fn device(id: &str, failing: bool) -> SimulatedDevice {
        SimulatedDevice {
            id: id.to_string(),
            config: PathBuf::from("config.toml"),
            log: PathBuf::from("client.log"),
            failing_health_check: failing,
        }
    }

    fn seen(id: &str, version: &str, event: UpdateEvent) -> DeviceStatus {
        DeviceStatus {
            device_id: id.to_string(),
            class: "demo-camera".to_string(),
            firmware_version: Some(version.parse().unwrap()),
            boot_slot: Some(Slot::B),
            last_event: Some(event),
            last_reason: None,
            last_seen: None,
            clock_untrusted: false,
            source_address: None,
            relay: None,
            config_version: None,
            config_drift: None,
        }
    }

    #[test]
    fn only_the_expected_end_state_passes() {
        let (old, new) = ("1.0.0".parse().unwrap(), "1.1.0".parse().unwrap());
        let expected = Expected {
            class: "demo-camera",
            new_version: &new,
            old_version: &old,
            delta_published: true,
        };
        let devices = vec![device("a", false), device("b", true), device("c", false)];
        let ok = DeviceRun {
            exit_code: Some(0),
            timed_out: false,
        };
        let status = FleetStatus {
            classes: vec![],
            devices: vec![
                seen("a", "1.1.0", UpdateEvent::Success),
                seen("b", "1.0.0", UpdateEvent::RolledBack),
                seen("c", "1.0.0", UpdateEvent::Downloading),
            ],
            outcomes: Outcomes::default(),
            payloads: vec![],
        };
        let hung = DeviceRun {
            exit_code: None,
            timed_out: true,
        };
        let found = problems(&devices, &[ok, ok, hung], &status, &expected);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|p| p.starts_with("c: ")), "{found:?}");
        assert!(problems(&devices[..2], &[ok, ok], &status, &expected).is_empty());
    }

    #[test]
    fn success_line_and_metrics_read_as_documented() {
        let outcomes = Outcomes {
            success: 19,
            failure: 0,
            rolled_back: 1,
        };
        let status = FleetStatus {
            classes: vec![],
            devices: vec![],
            outcomes,
            payloads: vec![],
        };
        assert_eq!(
            success_line(&status, "demo-camera"),
            "success rate: 95.0% (19 of 20); 1 rolled back"
        );
        let metrics = "# HELP ota_devices x\nota_devices{class=\"c\"} 1\nother 2\n\
                       ota_install_duration_seconds_bucket{le=\"1.0\"} 0\n";
        assert_eq!(metric_lines(metrics), vec!["ota_devices{class=\"c\"} 1"]);
    }

    fn traffic(delta: u64, zstd: u64, raw: (u64, u64), fallbacks: u64) -> FleetStatus {
        let kind = |kind, updates, bytes_downloaded| KindTotals {
            kind,
            updates,
            bytes_downloaded,
        };
        FleetStatus {
            classes: vec![],
            devices: vec![],
            outcomes: Outcomes::default(),
            payloads: vec![ClassPayloads {
                class: "demo-camera".into(),
                kinds: vec![
                    kind(PayloadKind::Delta, delta, delta * 1000),
                    kind(PayloadKind::Zstd, zstd, zstd * 50_000),
                    kind(PayloadKind::Raw, raw.0, raw.1),
                ],
                full_equivalent_bytes: (delta + zstd + raw.0) * 100_000,
                delta_fallbacks: fallbacks,
            }],
        }
    }

    #[test]
    fn bytes_saved_come_from_what_devices_reported() {
        let line = bytes_saved_line(&traffic(19, 0, (1, 100_000), 0), "demo-camera");
        assert_eq!(
            line,
            "bytes saved: devices downloaded 116.2 KiB for 20 updates (delta 19, zstd 0, raw 1); \
             raw images would have been 1.91 MiB: 1.79 MiB saved (94.0%)"
        );
        // Devices that download raw images save nothing, and the line says so.
        let line = bytes_saved_line(&traffic(0, 0, (20, 2_000_000), 0), "demo-camera");
        assert!(line.ends_with(": 0 B saved (0.0%)"), "{line}");
        assert!(bytes_saved_line(&traffic(1, 0, (0, 0), 0), "other").contains("no update"));
    }

    #[test]
    fn choosing_devices_must_take_the_published_delta() {
        let (old, new) = ("1.0.0".parse().unwrap(), "1.1.0".parse().unwrap());
        let mut expected = Expected {
            class: "demo-camera",
            new_version: &new,
            old_version: &old,
            delta_published: true,
        };
        assert!(delivery_problems(&traffic(19, 0, (0, 0), 0), &expected).is_empty());
        // Devices that report no payload (raw) are not held to the delta.
        assert!(delivery_problems(&traffic(0, 0, (20, 2_000_000), 0), &expected).is_empty());
        assert_eq!(
            delivery_problems(&traffic(10, 10, (0, 0), 0), &expected).len(),
            1
        );
        assert_eq!(
            delivery_problems(&traffic(19, 0, (0, 0), 1), &expected).len(),
            1
        );
        expected.delta_published = false;
        assert!(delivery_problems(&traffic(0, 20, (0, 0), 0), &expected).is_empty());
    }
}
