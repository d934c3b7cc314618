//! The inactive slot cannot take the image: its disk is full, or read-only. The update
//! fails with a clear reason reported, the running slot and the bootloader are untouched,
//! and once the disk is fixed the same device updates normally.

use tests::disk::{SlotDisk, simulate_with_slot_disk};
use tests::images::write_image;
use tests::{Device, DeviceSpec, World};
use update_core::api::UpdateEvent;

const IMAGE_SIZE: usize = 1 << 20;
const CLASS: &str = "cam";
const HARDWARE: &str = "board-a";

/// A device whose slot B lives in its own directory (where the faulty disk goes).
struct Setup {
    world: World,
    dev: Device,
    old_sha256: String,
    new_sha256: String,
    slot_dir: std::path::PathBuf,
}

fn setup(id: &str) -> Setup {
    let world = World::start();
    let old = world.path("fw-1.0.0.img");
    let new = world.path("fw-1.1.0.img");
    let old_sha256 = write_image(&old, 1, IMAGE_SIZE);
    let new_sha256 = write_image(&new, 2, IMAGE_SIZE);
    world.release(&old, "1.0.0", CLASS, &[HARDWARE]);
    world.release(&new, "1.1.0", CLASS, &[HARDWARE]);
    world.publish();
    let dev = Device::create(&world, DeviceSpec::new(id, CLASS, HARDWARE, old, "1.0.0"));
    let slot_dir = dev.dir.join("slot-b-disk");
    std::fs::create_dir_all(&slot_dir).expect("slot directory");
    dev.set_slot_b(&slot_dir.join("slot-b.img"));
    Setup {
        world,
        dev,
        old_sha256,
        new_sha256,
        slot_dir,
    }
}

/// The update failed and said why; nothing the device boots was touched.
fn assert_failed_cleanly(setup: &Setup, run: &tests::process::Finished, reason_hint: &str) {
    assert_eq!(run.code(), Some(1), "a failed update:\n{}", run.stderr);
    let status = setup.world.status();
    let me = status
        .devices
        .iter()
        .find(|d| d.device_id == setup.dev.id)
        .expect("device in status");
    assert_eq!(me.last_event, Some(UpdateEvent::Failure));
    let reason = me.last_reason.clone().unwrap_or_default();
    assert!(reason.contains(reason_hint), "reason: {reason}");
    assert!(
        reason.contains("slot B"),
        "the reason names the slot: {reason}"
    );
    assert_eq!(me.firmware_version, Some(semver::Version::new(1, 0, 0)));
    assert_eq!(setup.dev.booted_slot(), "A");
    assert_eq!(setup.dev.slot_a_sha256(), setup.old_sha256);
    let env = setup.dev.boot_env();
    assert_eq!(env.get("boot_slot").map(String::as_str), Some("A"));
    assert_eq!(env.get("upgrade_available").map(String::as_str), Some("0"));
    let journal = setup.dev.state_file("journal.json").expect("journal");
    assert_eq!(journal["phase"], "failed");
    let records = setup.dev.state_file("slots.json").expect("slots.json");
    assert!(
        records["B"].is_null(),
        "no record for a slot that could not be written"
    );
    assert_eq!(records["A"]["sha256"], setup.old_sha256.as_str());
}

/// With the disk fixed (the tmpfs is gone with its namespace), the device updates.
fn assert_works_again(setup: &Setup) {
    setup
        .dev
        .run_until_idle()
        .assert_ok("update once the disk is fixed");
    assert_eq!(setup.dev.booted_slot(), "B");
    let slot_b = setup.slot_dir.join("slot-b.img");
    assert_eq!(tests::images::sha256_file(&slot_b), setup.new_sha256);
    let env = setup.dev.boot_env();
    assert_eq!(env.get("upgrade_available").map(String::as_str), Some("0"));
}

#[test]
fn a_full_slot_disk_fails_the_update_cleanly() {
    let setup = setup("dev-full");
    let run = simulate_with_slot_disk(
        &setup.dev,
        &setup.slot_dir,
        SlotDisk::Full { bytes: 256 * 1024 },
    );
    assert_failed_cleanly(&setup, &run, "No space left on device");
    assert_works_again(&setup);
}

#[test]
fn a_read_only_slot_disk_fails_the_update_cleanly() {
    let setup = setup("dev-read-only");
    let run = simulate_with_slot_disk(&setup.dev, &setup.slot_dir, SlotDisk::ReadOnly);
    assert_failed_cleanly(&setup, &run, "Read-only file system");
    assert_works_again(&setup);
}
