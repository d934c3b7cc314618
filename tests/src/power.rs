//! What must hold on a simulated device at every instant, power cut or not, for an
//! update of slot B from the image in slot A; and a one-line summary of the device's
//! state for the power-cut table.

use std::fs::File;
use std::path::Path;

use update_core::hash::hash_reader_prefix;

use crate::device::Device;
use crate::images::sha256_file;

/// The images of the update under test.
pub struct Update<'a> {
    /// sha256 of the factory image in slot A (committed, running).
    pub old_sha256: &'a str,
    /// sha256 of the release written to slot B.
    pub new_sha256: &'a str,
}

/// Checks the invariants; returns a summary of the state, or what is violated.
///
/// - Slot A (the running slot at the start) was never written.
/// - Every slot `slots.json` records holds what it records.
/// - The bootloader selects a committed slot (A, or B holding the release), or B on a
///   bounded trial (`bootcount <= bootlimit`) holding the verified release, A as fallback.
pub fn check(device: &Device, update: &Update<'_>) -> Result<String, String> {
    if device.slot_a_sha256() != update.old_sha256 {
        return Err("the running slot A was written".into());
    }
    let records = device.state_file("slots.json");
    for slot in ["A", "B"] {
        let record = records.as_ref().map(|r| &r[slot]).filter(|r| !r.is_null());
        if let Some(record) = record {
            let path = if slot == "A" {
                &device.slot_a
            } else {
                &device.slot_b
            };
            let length = record["length"].as_u64().ok_or("slots.json: no length")?;
            let sha256 = record["sha256"].as_str().ok_or("slots.json: no sha256")?;
            if prefix_sha256(path, length)? != sha256 {
                return Err(format!("slot {slot} does not hold what slots.json records"));
            }
        }
    }
    let env = device.boot_env();
    let number = |name: &str| -> Result<u32, String> {
        env.get(name)
            .and_then(|v| v.parse().ok())
            .ok_or(format!("bootloader env: no {name}"))
    };
    let boot_slot = env.get("boot_slot").map(String::as_str).unwrap_or("?");
    let on_trial = number("upgrade_available")? == 1;
    let recorded_b = records
        .as_ref()
        .and_then(|r| r["B"]["sha256"].as_str().map(str::to_string));
    let b_holds_release = recorded_b.as_deref() == Some(update.new_sha256)
        && sha256_file(&device.slot_b) == update.new_sha256;
    let selection = match (boot_slot, on_trial) {
        ("A", false) => "A committed".to_string(),
        ("B", false) if b_holds_release => "B committed".to_string(),
        ("B", true) if b_holds_release => {
            let (count, limit) = (number("bootcount")?, number("bootlimit")?);
            if count > limit {
                return Err(format!("B on trial past its limit ({count}/{limit})"));
            }
            format!("B trial {count}/{limit}")
        }
        (slot, trial) => {
            return Err(format!(
                "the bootloader selects slot {slot} (trial: {trial}) that holds no verified release"
            ));
        }
    };
    Ok(format!(
        "{} | {selection} | B {}",
        journal_summary(device),
        if recorded_b.is_some() {
            "recorded"
        } else {
            "unrecorded"
        }
    ))
}

/// The journal's phase, and the synced prefix while installing.
pub fn journal_summary(device: &Device) -> String {
    let Some(journal) = device.state_file("journal.json") else {
        return "no journal".into();
    };
    let phase = journal["phase"].as_str().unwrap_or("?").to_string();
    match journal["written"]["length"].as_u64() {
        Some(written) => format!("{phase} ({} KiB synced)", written / 1024),
        None => phase,
    }
}

fn prefix_sha256(path: &Path, length: u64) -> Result<String, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (read, sha256) =
        hash_reader_prefix(file, length).map_err(|e| format!("{}: {e}", path.display()))?;
    if read != length {
        return Err(format!("{} is shorter than recorded", path.display()));
    }
    Ok(sha256)
}
