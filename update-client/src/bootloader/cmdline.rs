//! Which slot the running system booted from, as the kernel command line tells it.
//!
//! The boot script of every real backend passes `ota.slot=A` or `ota.slot=B` to the
//! kernel (docs/uboot.md, docs/grub.md); the environment only says what the bootloader
//! *will* boot, which after a fallback is not what is running now.

use std::path::Path;

use update_core::api::Slot;

use crate::error::{Error, Result};

/// The kernel parameter carrying the booted slot.
pub const PARAMETER: &str = "ota.slot";
const MAX_CMDLINE: u64 = 64 * 1024;

/// Reads `ota.slot=` from a kernel command line file (normally `/proc/cmdline`).
pub fn booted_slot(path: &Path) -> Result<Slot> {
    let bytes = crate::atomic::read_limited(path, MAX_CMDLINE)
        .map_err(Error::io(format!("reading {}", path.display())))?
        .ok_or_else(|| Error::Bootloader(format!("{} does not exist", path.display())))?;
    let text = String::from_utf8_lossy(&bytes);
    parse(&text).ok_or_else(|| {
        Error::Bootloader(format!(
            "{} has no {PARAMETER}=A or {PARAMETER}=B: the boot script must pass it to the kernel",
            path.display()
        ))
    })
}

/// The last `ota.slot=` on the command line wins, as for any kernel parameter.
fn parse(cmdline: &str) -> Option<Slot> {
    cmdline
        .split_ascii_whitespace()
        .rev()
        .find_map(|word| word.strip_prefix(PARAMETER)?.strip_prefix('='))?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_slot_among_other_parameters() {
        assert_eq!(
            parse("console=ttyS0 root=/dev/mmcblk0p2 ota.slot=B quiet\n"),
            Some(Slot::B)
        );
        assert_eq!(parse("ota.slot=A ota.slot=B"), Some(Slot::B));
        assert_eq!(parse("ota.slots=A"), None);
        assert_eq!(parse("ota.slot=C"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn a_missing_parameter_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cmdline");
        std::fs::write(&path, "console=ttyS0\n").unwrap();
        assert!(
            booted_slot(&path)
                .unwrap_err()
                .to_string()
                .contains("ota.slot")
        );
    }
}
