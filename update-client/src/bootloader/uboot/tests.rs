//! The backend's boot-counting writes: each call is one write of exactly its variables.

use std::fs;

use super::*;
use crate::config::RedundantFlags;

struct Device {
    _dir: tempfile::TempDir,
    cmdline: PathBuf,
    bootloader: UbootBootloader,
}

fn device(initial: &[(&str, &str)]) -> Device {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("env.img");
    let mut variables = Variables::new();
    for (name, value) in initial {
        variables.set(name, value).unwrap();
    }
    let copy = EnvCopy {
        flag: Some(1),
        variables,
    }
    .encode(0x4000)
    .unwrap();
    fs::write(&env, [copy.clone(), copy].concat()).unwrap();
    let config = dir.path().join("fw_env.config");
    fs::write(&config, "env.img 0x0 0x4000\nenv.img 0x4000 0x4000\n").unwrap();
    let cmdline = dir.path().join("cmdline");
    fs::write(&cmdline, "console=ttyS0 ota.slot=A\n").unwrap();
    let config = UbootConfig {
        env_config: config,
        redundant_flags: RedundantFlags::Counter,
        cmdline: cmdline.clone(),
        boot_limit: 3,
    };
    Device {
        bootloader: UbootBootloader::from_config(&config).unwrap(),
        cmdline,
        _dir: dir,
    }
}

fn variables(device: &Device) -> Vec<(String, String)> {
    device
        .bootloader
        .environment
        .read()
        .unwrap()
        .iter()
        .map(|(n, v)| {
            (
                String::from_utf8(n.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn try_mark_good_and_roll_back_write_the_bootcount_convention() {
    let mut device = device(&[("ota_slot", "A"), ("bootcmd", "run ota_boot")]);
    assert_eq!(device.bootloader.booted_slot().unwrap(), Slot::A);
    assert_eq!(device.bootloader.primary_slot().unwrap(), Slot::A);

    device.bootloader.try_slot_once(Slot::B).unwrap();
    assert_eq!(device.bootloader.primary_slot().unwrap(), Slot::B);
    assert_eq!(
        variables(&device),
        pairs(&[
            ("bootcmd", "run ota_boot"),
            ("bootcount", "0"),
            ("bootlimit", "3"),
            ("ota_slot", "B"),
            ("upgrade_available", "1"),
        ])
    );

    // U-Boot booted B and counted one boot.
    device
        .bootloader
        .environment
        .update(|v| v.set(BOOTCOUNT, "1"))
        .unwrap();
    fs::write(&device.cmdline, "ota.slot=B").unwrap();
    device.bootloader.mark_good().unwrap();
    assert_eq!(
        variables(&device),
        pairs(&[
            ("bootcmd", "run ota_boot"),
            ("bootcount", "0"),
            ("bootlimit", "3"),
            ("ota_slot", "B"),
            ("upgrade_available", "0"),
        ])
    );

    device.bootloader.try_slot_once(Slot::A).unwrap();
    device.bootloader.roll_back_to(Slot::B).unwrap();
    assert_eq!(device.bootloader.primary_slot().unwrap(), Slot::B);
    assert_eq!(
        variables(&device)[3..],
        pairs(&[("ota_slot", "B"), ("upgrade_available", "0")])[..]
    );
}

#[test]
fn mark_good_commits_the_slot_that_booted_after_a_fallback() {
    let mut device = device(&[("ota_slot", "B"), ("upgrade_available", "1")]);
    fs::write(&device.cmdline, "ota.slot=A").unwrap();
    device.bootloader.mark_good().unwrap();
    assert_eq!(device.bootloader.primary_slot().unwrap(), Slot::A);
}

#[test]
fn a_missing_or_strange_ota_slot_is_a_clear_error() {
    for (initial, expected) in [
        (&[][..], "not set"),
        (&[("ota_slot", "b")][..], "neither A nor B"),
        (&[("ota_slot", "C")][..], "neither A nor B"),
    ] {
        let device = device(initial);
        let error = device.bootloader.primary_slot().unwrap_err().to_string();
        assert!(
            error.contains("ota_slot") && error.contains(expected),
            "{error}"
        );
    }
}
