//! The GRUB backend on real files: a whole update cycle with the grub.cfg model playing
//! GRUB between the agent's calls, in-place writes, and refusals that leave the file as
//! it was.

use std::fs;
use std::os::unix::fs::MetadataExt;

use super::*;
use crate::config::BootloaderConfig;

struct Device {
    _dir: tempfile::TempDir,
    config: GrubConfig,
}

impl Device {
    fn new(boot_limit: u32) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let config = GrubConfig {
            grubenv: dir.path().join("grubenv"),
            cmdline: dir.path().join("cmdline"),
            boot_limit,
        };
        fs::write(&config.grubenv, GrubEnv::default().encode().unwrap()).unwrap();
        fs::write(&config.cmdline, "root=/dev/sda2 ota.slot=A quiet\n").unwrap();
        Device { _dir: dir, config }
    }

    fn bootloader(&self) -> GrubBootloader {
        GrubBootloader::new(&self.config).unwrap()
    }

    /// What GRUB does at power-on (the model of grub.cfg), then the kernel command line.
    fn power_on(&self) -> Slot {
        let mut env = GrubEnv::parse(&fs::read(&self.config.grubenv).unwrap()).unwrap();
        let mut state = AbState::read(&env).unwrap();
        let boot = state.power_on().expect("a slot to boot");
        state.write(&mut env).unwrap();
        fs::write(&self.config.grubenv, env.encode().unwrap()).unwrap();
        fs::write(&self.config.cmdline, format!("ota.slot={}\n", boot.slot)).unwrap();
        boot.slot
    }

    fn bytes(&self) -> Vec<u8> {
        fs::read(&self.config.grubenv).unwrap()
    }
}

#[test]
fn an_update_that_is_committed_on_its_second_try() {
    let device = Device::new(2);
    let mut boot = device.bootloader();
    assert_eq!(boot.booted_slot().unwrap(), Slot::A);
    assert_eq!(boot.primary_slot().unwrap(), Slot::A);
    boot.try_slot_once(Slot::B).unwrap();
    assert_eq!(boot.primary_slot().unwrap(), Slot::B);
    assert_eq!(device.power_on(), Slot::B);
    assert_eq!(device.power_on(), Slot::B, "second try");
    assert_eq!(boot.booted_slot().unwrap(), Slot::B);
    boot.mark_good().unwrap();
    let state = boot.state().unwrap();
    assert_eq!((state.first, state.b), (Slot::B, SlotState::COMMITTED));
    for _ in 0..4 {
        assert_eq!(device.power_on(), Slot::B);
    }
    assert_eq!(boot.state().unwrap(), state, "committed: nothing counted");
}

#[test]
fn an_exhausted_trial_is_not_primary_and_rolling_back_disables_it() {
    let device = Device::new(1);
    let mut boot = device.bootloader();
    boot.try_slot_once(Slot::B).unwrap();
    assert_eq!(device.power_on(), Slot::B);
    // The new slot dies before the agent runs: GRUB falls back by itself.
    assert_eq!(device.power_on(), Slot::A);
    assert_eq!(boot.primary_slot().unwrap(), Slot::A);
    boot.roll_back_to(Slot::A).unwrap();
    let state = boot.state().unwrap();
    assert_eq!((state.first, state.a), (Slot::A, SlotState::COMMITTED));
    assert!(!state.b.ok);
    assert_eq!(device.power_on(), Slot::A);
}

#[test]
fn writes_keep_the_file_and_the_other_variables_in_place() {
    let device = Device::new(1);
    let mut env = GrubEnv::default();
    env.set("saved_entry", "gnulinux-advanced").unwrap();
    fs::write(&device.config.grubenv, env.encode().unwrap()).unwrap();
    let inode = fs::metadata(&device.config.grubenv).unwrap().ino();
    let mut boot = device.bootloader();
    boot.try_slot_once(Slot::B).unwrap();
    boot.roll_back_to(Slot::A).unwrap();
    assert_eq!(fs::metadata(&device.config.grubenv).unwrap().ino(), inode);
    let bytes = device.bytes();
    assert_eq!(bytes.len(), env::BLOCK_SIZE);
    let after = GrubEnv::parse(&bytes).unwrap();
    assert_eq!(
        after.variables().next(),
        Some(("saved_entry", "gnulinux-advanced"))
    );
}

#[test]
fn a_change_that_does_not_fit_is_refused_and_the_file_is_unchanged() {
    let device = Device::new(1);
    let mut env = GrubEnv::default();
    env.set("filler", &"x".repeat(880)).unwrap();
    fs::write(&device.config.grubenv, env.encode().unwrap()).unwrap();
    let before = device.bytes();
    let error = device
        .bootloader()
        .try_slot_once(Slot::B)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("not written") && error.contains("1024"),
        "{error}"
    );
    assert_eq!(device.bytes(), before);
}

#[test]
fn bad_files_and_values_are_clear_errors_and_change_nothing() {
    let device = Device::new(1);
    let path = device.config.grubenv.clone();
    let mut boot = device.bootloader();
    let error = |boot: &mut GrubBootloader| boot.roll_back_to(Slot::A).unwrap_err().to_string();

    fs::remove_file(&path).unwrap();
    assert!(error(&mut boot).contains("grub-editenv"));
    assert!(!path.exists(), "a missing environment is not created");

    fs::write(&path, vec![b'#'; 1000]).unwrap();
    assert!(error(&mut boot).contains("exactly 1024"));
    assert_eq!(fs::read(&path).unwrap(), vec![b'#'; 1000]);

    let mut env = GrubEnv::default();
    env.set("A_TRY", "7").unwrap();
    let block = env.encode().unwrap();
    fs::write(&path, &block).unwrap();
    assert!(error(&mut boot).contains("A_TRY=\"7\""));
    assert!(boot.primary_slot().is_err());
    assert_eq!(fs::read(&path).unwrap(), block);
}

#[test]
fn a_trial_without_a_committed_slot_to_fall_back_to_is_refused() {
    let device = Device::new(1);
    let mut boot = device.bootloader();
    boot.try_slot_once(Slot::B).unwrap();
    device.power_on();
    let before = device.bytes();
    let error = boot.try_slot_once(Slot::A).unwrap_err().to_string();
    assert!(error.contains("refusing to try slot A"), "{error}");
    assert_eq!(device.bytes(), before);
}

#[test]
fn boot_limits_grub_cannot_count_are_refused() {
    let mut device = Device::new(3);
    assert!(GrubBootloader::new(&device.config).is_ok());
    for bad in [0, 4] {
        device.config.boot_limit = bad;
        let error = GrubBootloader::new(&device.config).unwrap_err().to_string();
        assert!(error.contains("boot_limit"), "{error}");
        let config = BootloaderConfig::Grub(device.config.clone());
        assert!(crate::bootloader::from_config(&config).is_err());
    }
    device.config.boot_limit = 2;
    let config = BootloaderConfig::Grub(device.config.clone());
    let boot = crate::bootloader::from_config(&config).unwrap();
    assert_eq!(boot.primary_slot().unwrap(), Slot::A);
}
