//! Maintenance windows and the install cap with the real binaries: outside its class's
//! window a device downloads and stages the release in its inactive slot but does not
//! switch; it switches, without downloading again, at the first check-in inside the
//! window. With a cap of one install place, a second device stages and waits until the
//! first one's update has finished.

use chrono::{Duration, Utc};
use tests::images::write_image;
use tests::{Device, DeviceSpec, World};
use update_core::api::UpdateEvent;

const CLASS: &str = "kiosk";
const HARDWARE: &str = "board-k";
const IMAGE_SIZE: usize = 256 * 1024;

/// A window of `hours` starting `from_now_hours` from now, as `ota class set --window`
/// takes it.
fn window(from_now_hours: i64, hours: i64) -> String {
    let start = Utc::now() + Duration::hours(from_now_hours);
    let end = start + Duration::hours(hours);
    format!("{}-{}", start.format("%H:%M"), end.format("%H:%M"))
}

/// A world with releases 1.0.0 and 2.0.0 of the class, 2.0.0 its baseline, and the class
/// profile options `profile` set as well.
fn world_with_release(profile: &[&str]) -> World {
    let world = World::start();
    let (v1, v2) = (world.path("fw-1.0.0.img"), world.path("fw-2.0.0.img"));
    write_image(&v1, 1, IMAGE_SIZE);
    write_image(&v2, 2, IMAGE_SIZE);
    world.release(&v1, "1.0.0", CLASS, &[HARDWARE]);
    world.release(&v2, "2.0.0", CLASS, &[HARDWARE]);
    world.publish();
    let mut args = vec!["class", "set", CLASS, "--baseline", "kiosk-2.0.0.img"];
    args.extend_from_slice(profile);
    world.ota_admin(&args).assert_ok("class set");
    world
}

fn device(world: &World, id: &str) -> Device {
    let mut spec = DeviceSpec::new(id, CLASS, HARDWARE, world.path("fw-1.0.0.img"), "1.0.0");
    spec.health_check = Some(vec!["true".into()]);
    Device::create(world, spec)
}

fn journal_phase(device: &Device) -> String {
    device
        .state_file("journal.json")
        .and_then(|j| j["phase"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn bytes_downloaded(device: &Device) -> u64 {
    device
        .state_file("journal.json")
        .and_then(|j| j["bytes_downloaded"].as_u64())
        .unwrap_or_default()
}

fn last_event(world: &World, id: &str) -> Option<UpdateEvent> {
    let status = world.status();
    status
        .devices
        .iter()
        .find(|d| d.device_id == id)
        .and_then(|d| d.last_event)
}

#[test]
fn outside_the_window_a_device_stages_and_switches_when_it_opens() {
    // The window opens in 3 hours: closed now.
    let world = world_with_release(&["--window", &window(3, 2)]);
    let dev = device(&world, "kiosk-1");

    dev.run_until_idle().assert_ok("held run");
    assert_eq!(journal_phase(&dev), "staged");
    assert_eq!(dev.booted_slot(), "A", "a held device does not switch");
    assert_eq!(
        dev.boot_env().get("boot_slot").map(String::as_str),
        Some("A")
    );
    let written = std::fs::read(world.path("fw-2.0.0.img")).unwrap();
    assert_eq!(dev.slot_b_sha256(), update_core::hash::sha256_hex(&written));
    assert_eq!(last_event(&world, "kiosk-1"), Some(UpdateEvent::Staged));
    let staged_bytes = bytes_downloaded(&dev);
    assert!(staged_bytes > 0, "the release was downloaded while held");

    // Held again at the next check-in: nothing is downloaded or switched.
    dev.run_until_idle().assert_ok("second held run");
    assert_eq!(journal_phase(&dev), "staged");
    assert_eq!(bytes_downloaded(&dev), staged_bytes);

    world
        .ota_admin(&["class", "set", CLASS, "--window", &window(-1, 2)])
        .assert_ok("class set (window open now)");
    dev.run_until_idle().assert_ok("run inside the window");
    assert_eq!(journal_phase(&dev), "committed");
    assert_eq!(dev.booted_slot(), "B");
    assert_eq!(
        bytes_downloaded(&dev),
        staged_bytes,
        "the staged image was switched to, not downloaded again"
    );
    assert_eq!(last_event(&world, "kiosk-1"), Some(UpdateEvent::Success));
}

#[test]
fn a_cap_of_one_install_place_holds_the_second_device_until_the_first_finishes() {
    let world = world_with_release(&["--max-concurrent-installs", "1"]);
    let (first, second) = (device(&world, "kiosk-a"), device(&world, "kiosk-b"));

    // The first device takes the place and stops mid-update: switched, not rebooted.
    let count_file = first.dir.join("crash-count");
    let cut = first.run_until_idle_with_env(&[
        ("OTA_CRASH_AT", "after-journal-installed"),
        ("OTA_CRASH_COUNT_FILE", count_file.to_str().unwrap()),
    ]);
    assert!(!cut.success(), "the first device was cut after its switch");
    let mid_update = last_event(&world, "kiosk-a");
    assert!(
        matches!(
            mid_update,
            Some(UpdateEvent::Downloading | UpdateEvent::Installed)
        ),
        "{mid_update:?}"
    );

    second
        .run_until_idle()
        .assert_ok("second device, place taken");
    assert_eq!(journal_phase(&second), "staged");
    assert_eq!(second.booted_slot(), "A");

    first.run_until_idle().assert_ok("first device finishes");
    assert_eq!(last_event(&world, "kiosk-a"), Some(UpdateEvent::Success));

    second
        .run_until_idle()
        .assert_ok("second device, place free");
    assert_eq!(journal_phase(&second), "committed");
    assert_eq!(second.booted_slot(), "B");
}
