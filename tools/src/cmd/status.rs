//! `ota status`: the fleet as the server sees it, per class and per device.

use std::fmt::Write;

use update_core::api::{
    ClassPayloads, ClassStatus, DeviceStatus, FleetStatus, Outcomes, PayloadKind,
};

use super::ServerArgs;
use crate::display::{Table, format_bytes, printable, ratio, success_rate};

#[derive(Clone, Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub server: ServerArgs,
}

const MAX_REASON: usize = 80;
const MAX_NAME: usize = 64;

/// The status report as text.
pub fn format_status(report: &FleetStatus) -> String {
    let status = report;
    let mut out = String::new();
    for class in &status.classes {
        out.push_str(&format_class(class, report.payloads_of(&class.class)));
    }
    let _ = writeln!(out, "fleet outcomes: {}", format_outcomes(&status.outcomes));
    let _ = writeln!(
        out,
        "fleet success rate: {}",
        success_rate(&status.outcomes)
    );
    out.push('\n');
    out.push_str(&device_table(&status.devices).render());
    out.push_str(&drift_section(&status.devices));
    out
}

/// Most drifted files named per device; the rest are counted.
const MAX_DRIFTED_SHOWN: usize = 8;

/// `drifted:` and one line per device whose configuration differs from its class's
/// profile, naming the files (nothing when no device drifted).
pub fn drift_section(devices: &[DeviceStatus]) -> String {
    let mut out = String::new();
    for device in devices {
        let Some(paths) = device.config_drift.as_ref().filter(|p| !p.is_empty()) else {
            continue;
        };
        if out.is_empty() {
            out.push_str("\ndrifted:\n");
        }
        let mut named: Vec<String> = paths
            .iter()
            .take(MAX_DRIFTED_SHOWN)
            .map(|p| printable(p, MAX_REASON))
            .collect();
        if paths.len() > MAX_DRIFTED_SHOWN {
            named.push(format!("and {} more", paths.len() - MAX_DRIFTED_SHOWN));
        }
        let profile = device
            .config_version
            .map_or(String::new(), |v| format!(" (profile version {v})"));
        let _ = writeln!(
            out,
            "  {}{profile}: {}",
            printable(&device.device_id, MAX_NAME),
            named.join(", ")
        );
    }
    out
}

fn format_class(class: &ClassStatus, payloads: Option<&ClassPayloads>) -> String {
    let approved = match &class.approved {
        Some(release) => format!(
            "{} (version {})",
            printable(&release.target_name, MAX_NAME),
            release.version
        ),
        None => "none".to_string(),
    };
    let versions: Vec<String> = class
        .versions
        .iter()
        .map(|(version, count)| format!("{}: {count}", printable(version, MAX_NAME)))
        .collect();
    let mut out = String::new();
    let _ = writeln!(out, "class {}", printable(&class.class, MAX_NAME));
    let _ = writeln!(out, "  approved release: {approved}");
    let _ = writeln!(
        out,
        "  devices:          {} ({} on the approved release)",
        class.devices, class.on_approved
    );
    let _ = writeln!(out, "  versions:         {}", versions.join(", "));
    let _ = writeln!(
        out,
        "  outcomes:         {}",
        format_outcomes(&class.outcomes)
    );
    let _ = writeln!(out, "  success rate:     {}", success_rate(&class.outcomes));
    if let Some(payloads) = payloads {
        for line in payload_lines(payloads) {
            let _ = writeln!(out, "  {line}");
        }
    }
    out.push('\n');
    out
}

/// How the class's updates travelled and what that saved, e.g.
/// `updates by:       delta 18 (2.10 MiB), zstd 1 (20.3 MiB), raw 1 (32.0 MiB)` and
/// `downloaded:       54.4 MiB for finished updates; as raw images 640 MiB (91.5% saved)`.
pub fn payload_lines(payloads: &ClassPayloads) -> Vec<String> {
    let by_kind: Vec<String> = PayloadKind::ALL
        .into_iter()
        .map(|kind| {
            let (updates, bytes) = payloads
                .kind(kind)
                .map_or((0, 0), |t| (t.updates, t.bytes_downloaded));
            format!("{} {updates} ({})", kind.as_str(), format_bytes(bytes))
        })
        .collect();
    let mut lines = vec![format!("updates by:       {}", by_kind.join(", "))];
    lines.push(format!(
        "downloaded:       {} for finished updates; as raw images {} ({} saved)",
        format_bytes(payloads.bytes_downloaded()),
        format_bytes(payloads.full_equivalent_bytes),
        ratio(payloads.bytes_saved(), payloads.full_equivalent_bytes)
    ));
    if payloads.delta_fallbacks > 0 {
        lines.push(format!(
            "delta fallbacks:  {} (the delta failed; the full image was used)",
            payloads.delta_fallbacks
        ));
    }
    lines
}

fn format_outcomes(outcomes: &Outcomes) -> String {
    format!(
        "{} success, {} failure, {} rolled back",
        outcomes.success, outcomes.failure, outcomes.rolled_back
    )
}

fn device_table(devices: &[DeviceStatus]) -> Table {
    let mut table = Table::new(&[
        "DEVICE",
        "CLASS",
        "VERSION",
        "SLOT",
        "LAST EVENT",
        "LAST SEEN",
        "REASON",
    ]);
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_string());
    for device in devices {
        table.push(vec![
            printable(&device.device_id, MAX_NAME),
            printable(&device.class, MAX_NAME),
            or_dash(device.firmware_version.as_ref().map(ToString::to_string)),
            or_dash(device.boot_slot.map(|slot| slot.to_string())),
            or_dash(device.last_event.map(|event| event.to_string())),
            or_dash(
                device
                    .last_seen
                    .map(|seen| seen.format("%Y-%m-%d %H:%M:%S").to_string()),
            ),
            or_dash(
                device
                    .last_reason
                    .as_deref()
                    .map(|r| printable(r, MAX_REASON)),
            ),
        ]);
    }
    table
}

pub async fn run(args: &StatusArgs) -> anyhow::Result<()> {
    let status = args.server.client()?.status().await?;
    print!("{}", format_status(&status));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(id: &str, drift: Option<Vec<&str>>) -> DeviceStatus {
        DeviceStatus {
            device_id: id.into(),
            class: "camera".into(),
            firmware_version: None,
            boot_slot: None,
            last_event: None,
            last_reason: None,
            last_seen: None,
            clock_untrusted: false,
            source_address: None,
            relay: None,
            config_version: drift.as_ref().map(|_| 3),
            config_drift: drift.map(|paths| paths.into_iter().map(String::from).collect()),
        }
    }

    #[test]
    fn the_drift_section_names_drifted_devices_and_files_only() {
        let devices = [
            device("cam-clean", Some(vec![])),
            device("cam-unknown", None),
            device(
                "cam-edited",
                Some(vec!["/etc/ssh/sshd_config", "/etc/\x1b[2Jhosts"]),
            ),
        ];
        let text = drift_section(&devices);
        assert!(text.contains("drifted:"), "{text}");
        assert!(
            text.contains("cam-edited (profile version 3): /etc/ssh/sshd_config"),
            "{text}"
        );
        assert!(
            !text.contains("cam-clean") && !text.contains("cam-unknown"),
            "{text}"
        );
        assert!(
            !text.contains('\x1b'),
            "control characters are not printed: {text}"
        );
        assert_eq!(drift_section(&devices[..2]), "");
    }
}
