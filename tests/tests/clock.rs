//! A device without a battery-backed clock boots in 1970. Its TUF time floor keeps it
//! from accepting metadata that expired since its last successful refresh (a freeze
//! attack its clock alone could not detect), and it tells the server its clock is
//! untrusted.

use chrono::{Duration, Utc};
use tests::images::{sha256_file, write_image};
use tests::peers::{copy_repository, mirror};
use tests::{Device, DeviceSpec, World};
use update_core::api::UpdateEvent;
use update_core::keys::SigningKey;
use update_core::schema::{MetaFile, Timestamp, whole_seconds};
use update_core::sign::sign_metadata;

const SIZE: usize = 256 * 1024;

#[test]
fn a_clock_reset_to_1970_cannot_be_fed_expired_metadata_and_is_reported() {
    let world = World::start();
    let images: Vec<_> = (0..3)
        .map(|i| world.path(&format!("fw-1.{i}.0.img")))
        .collect();
    for (seed, path) in images.iter().enumerate() {
        write_image(path, seed as u64 + 10, SIZE);
    }
    world.release(&images[0], "1.0.0", "cam", &["board-a"]);
    world.release(&images[1], "1.1.0", "cam", &["board-a"]);
    world.publish();
    let dev = Device::create(
        &world,
        DeviceSpec::new("dev-rtc", "cam", "board-a", images[0].clone(), "1.0.0"),
    );
    dev.run_until_idle()
        .assert_ok("genuine update with a good clock");
    assert!(
        dev.metadata_dir.join("time-floor").exists(),
        "a successful refresh records the time floor"
    );

    // 1.2.0 is published; a compromised server (holding the online timestamp key) serves
    // a timestamp that expired an hour ago, which a 1970 clock would find fresh.
    world.release(&images[2], "1.2.0", "cam", &["board-a"]);
    world.publish();
    let copy = copy_repository(&world.server_url, &world.path("mirror"));
    let snapshot = std::fs::read(copy.metadata("snapshot.json")).expect("snapshot");
    let current: Timestamp = copy
        .read_envelope("timestamp.json")
        .parse_unverified()
        .expect("timestamp");
    let stale = Timestamp::new(
        current.version + 1,
        whole_seconds(Utc::now() - Duration::hours(1)),
        MetaFile::describing(copy.snapshot_version, &snapshot),
    );
    let pem = std::fs::read_to_string(world.keys.join("timestamp.pem")).expect("timestamp key");
    let key = SigningKey::from_pkcs8_pem(&pem).expect("timestamp key parses");
    copy.write_envelope(
        "timestamp.json",
        &sign_metadata(&stale, &[&key]).expect("sign"),
    );
    let mirror = mirror(&copy.dir);
    dev.set_repository_url(&mirror.url);
    let trusted_before = dev.trusted_metadata();

    let run = dev.run_until_idle_with_clock("1970-01-02 00:00:00");
    assert!(
        !run.success(),
        "expired metadata must be refused:\n{}",
        run.stderr
    );
    assert_eq!(
        dev.slot_b_sha256(),
        sha256_file(&images[1]),
        "still on 1.1.0"
    );
    assert_eq!(dev.trusted_metadata(), trusted_before, "nothing stored");
    let status = world.status();
    let me = status
        .devices
        .iter()
        .find(|d| d.device_id == "dev-rtc")
        .expect("device in status");
    assert!(me.clock_untrusted, "the device reported its clock: {me:?}");
    assert_eq!(me.last_event, Some(UpdateEvent::Failure));
    assert!(
        me.last_reason
            .as_deref()
            .unwrap_or_default()
            .contains("expired"),
        "{me:?}"
    );
    assert_eq!(
        world.metric(r#"ota_devices_clock_untrusted{class="cam"}"#),
        Some(1.0)
    );

    // With the genuine repository and its clock back, the device updates and is trusted.
    dev.set_repository_url(&world.server_url);
    dev.run_until_idle()
        .assert_ok("update after the clock is back");
    assert_eq!(
        dev.slot_a_sha256(),
        sha256_file(&images[2]),
        "1.2.0 went to slot A"
    );
    let status = world.status();
    let me = status
        .devices
        .iter()
        .find(|d| d.device_id == "dev-rtc")
        .expect("device in status");
    assert!(!me.clock_untrusted);
    assert_eq!(me.last_event, Some(UpdateEvent::Success));
}
