//! Faulty disks for the inactive slot: the simulated device runs in a private mount
//! namespace (`unshare --mount`) where the slot's directory is a small tmpfs — full, or
//! read-only — so the mount disappears with the process, whatever becomes of the test.
//! Mounting needs root (CI runs as root); without it the test stops with a clear message.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::device::Device;
use crate::process::{Finished, bin, run};

/// What is wrong with the slot's file system.
#[derive(Clone, Copy, Debug)]
pub enum SlotDisk {
    /// A tmpfs of this many bytes, the slot file empty on it.
    Full { bytes: u64 },
    /// A tmpfs mounted read-only, holding an empty slot file.
    ReadOnly,
}

/// Panics with an explanation unless this process may mount file systems.
pub fn require_root() {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    assert_eq!(
        uid, "0",
        "the disk-fault tests mount a tmpfs in a private mount namespace and need root \
         (CI runs them as root); run them with sudo"
    );
}

/// Runs `update-client simulate --until-idle` for `device` with `dir` (holding its slot
/// B, see [`Device::set_slot_b`]) replaced by a faulty tmpfs.
pub fn simulate_with_slot_disk(device: &Device, dir: &Path, disk: SlotDisk) -> Finished {
    require_root();
    let setup = match disk {
        SlotDisk::Full { bytes } => {
            format!("mount -t tmpfs -o size={bytes} ota-slot \"$1\" && : > \"$1/slot-b.img\"")
        }
        SlotDisk::ReadOnly => "mount -t tmpfs -o size=1m ota-slot \"$1\" && : > \"$1/slot-b.img\" \
             && mount -o remount,ro \"$1\""
            .to_string(),
    };
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!("{setup} && shift && exec \"$@\""))
        .arg("sh")
        .arg(dir)
        .arg(bin("update-client"))
        .args(["simulate", "--until-idle", "--config"])
        .arg(&device.config)
        .env("RUST_LOG", "info");
    run(command, Duration::from_secs(120))
}
