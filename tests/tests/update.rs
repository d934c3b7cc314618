//! A fleet updated end to end by the real binaries: a healthy device commits the new
//! release, a device whose health check fails rolls back, and the server's status and
//! metrics say so.

use tests::images::write_image;
use tests::{Device, DeviceSpec, World};
use update_core::api::{Slot, UpdateEvent};

const IMAGE_SIZE: usize = 1 << 20;
const CLASS: &str = "cam";
const HARDWARE: &str = "board-a";

struct Released {
    world: World,
    v1_sha: String,
    v2_sha: String,
}

fn world_with_two_releases() -> Released {
    let world = World::start();
    let v1 = world.path("fw-1.0.0.img");
    let v2 = world.path("fw-1.1.0.img");
    let v1_sha = write_image(&v1, 1, IMAGE_SIZE);
    let v2_sha = write_image(&v2, 2, IMAGE_SIZE);
    world.release(&v1, "1.0.0", CLASS, &[HARDWARE]);
    world.release(&v2, "1.1.0", CLASS, &[HARDWARE]);
    world.publish();
    Released {
        world,
        v1_sha,
        v2_sha,
    }
}

fn device(world: &World, id: &str, health_check: Option<&[&str]>) -> Device {
    let mut spec = DeviceSpec::new(id, CLASS, HARDWARE, world.path("fw-1.0.0.img"), "1.0.0");
    spec.health_check = health_check.map(|c| c.iter().map(|s| s.to_string()).collect());
    Device::create(world, spec)
}

#[test]
fn healthy_device_installs_commits_and_reports_success() {
    let Released {
        world,
        v1_sha,
        v2_sha,
    } = world_with_two_releases();
    let dev = device(&world, "dev-ok", Some(&["true"]));

    let run = dev.run_until_idle();
    run.assert_ok("device update");
    assert_eq!(dev.booted_slot(), "B");
    assert_eq!(dev.slot_b_sha256(), v2_sha, "slot B holds exactly v1.1.0");
    assert_eq!(dev.slot_a_sha256(), v1_sha, "the old slot is untouched");
    let env = dev.boot_env();
    assert_eq!(env.get("boot_slot").map(String::as_str), Some("B"));
    assert_eq!(
        env.get("upgrade_available").map(String::as_str),
        Some("0"),
        "committed"
    );

    let status = world.status();
    let me = status
        .devices
        .iter()
        .find(|d| d.device_id == "dev-ok")
        .expect("device in status");
    assert_eq!(me.firmware_version, Some(semver::Version::new(1, 1, 0)));
    assert_eq!(me.boot_slot, Some(Slot::B));
    assert_eq!(me.last_event, Some(UpdateEvent::Success));
    assert_eq!(
        world.metric(r#"ota_update_outcomes_total{class="cam",release="1.1.0",outcome="success"}"#),
        Some(1.0)
    );
    assert_eq!(
        world.metric(r#"ota_update_attempts_total{class="cam",release="1.1.0"}"#),
        Some(1.0)
    );
    assert_eq!(
        world.metric(r#"ota_devices{class="cam",version="1.1.0"}"#),
        Some(1.0)
    );
    assert_eq!(
        world.metric(r#"ota_devices_on_baseline{class="cam"}"#),
        Some(1.0)
    );
    assert_eq!(
        world.metric(r#"ota_update_success_ratio{class="cam"}"#),
        Some(1.0)
    );

    // Powered on again, it has nothing to do: no second download, no second attempt.
    dev.run_until_idle().assert_ok("idle device");
    assert_eq!(dev.booted_slot(), "B");
    assert_eq!(
        world.metric(r#"ota_update_attempts_total{class="cam",release="1.1.0"}"#),
        Some(1.0)
    );
}

#[test]
fn failing_health_check_rolls_back_and_is_not_retried() {
    let Released { world, v1_sha, .. } = world_with_two_releases();
    let healthy = device(&world, "dev-good", None);
    let failing = device(
        &world,
        "dev-bad",
        Some(&["sh", "-c", "echo 'camera service failed' >&2; exit 1"]),
    );

    healthy.run_until_idle().assert_ok("healthy device");
    let run = failing.run_until_idle();
    run.assert_ok("failing device ends idle on its old slot");
    assert_eq!(failing.booted_slot(), "A", "rolled back to the old slot");
    assert_eq!(
        failing.slot_a_sha256(),
        v1_sha,
        "the old slot was never written"
    );
    let env = failing.boot_env();
    assert_eq!(env.get("boot_slot").map(String::as_str), Some("A"));
    assert_eq!(env.get("upgrade_available").map(String::as_str), Some("0"));

    let status = world.status();
    let me = status
        .devices
        .iter()
        .find(|d| d.device_id == "dev-bad")
        .expect("device in status");
    assert_eq!(me.firmware_version, Some(semver::Version::new(1, 0, 0)));
    assert_eq!(me.last_event, Some(UpdateEvent::RolledBack));
    assert!(
        me.last_reason.as_deref().is_some_and(|r| !r.is_empty()),
        "a rollback carries its reason: {me:?}"
    );
    assert_eq!(
        world.metric(
            r#"ota_update_outcomes_total{class="cam",release="1.1.0",outcome="rolled_back"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        world.metric(r#"ota_update_success_ratio{class="cam"}"#),
        Some(0.5)
    );
    assert_eq!(
        world.metric(r#"ota_devices{class="cam",version="1.0.0"}"#),
        Some(1.0)
    );
    assert_eq!(
        world.metric(r#"ota_devices_on_baseline{class="cam"}"#),
        Some(1.0)
    );

    // The failed release is not tried again on that device.
    failing
        .run_until_idle()
        .assert_ok("failing device, second power-on");
    assert_eq!(failing.booted_slot(), "A");
    assert_eq!(
        world.metric(r#"ota_update_attempts_total{class="cam",release="1.1.0"}"#),
        Some(2.0)
    );

    // Once the operator has fixed what failed and asks for it, the device tries again.
    failing.set_health_commands(&["true"]);
    failing
        .run_until_idle()
        .assert_ok("no retry without the operator");
    assert_eq!(failing.booted_slot(), "A");
    world
        .ota(&["device", "retry", "dev-bad", "--server", &world.server_url])
        .assert_ok("ota device retry");
    failing.run_until_idle().assert_ok("retried update");
    assert_eq!(failing.booted_slot(), "B");
    let status = world.status();
    let me = status
        .devices
        .iter()
        .find(|d| d.device_id == "dev-bad")
        .expect("device in status");
    assert_eq!(me.firmware_version, Some(semver::Version::new(1, 1, 0)));
    assert_eq!(me.last_event, Some(UpdateEvent::Success));
}

#[test]
fn a_release_that_cuts_the_device_off_the_server_is_rolled_back() {
    let Released { world, v1_sha, .. } = world_with_two_releases();
    let network = tests::peers::network_broken_on_trial(&world.server_url);
    let mut spec = DeviceSpec::new(
        "dev-offline",
        CLASS,
        HARDWARE,
        world.path("fw-1.0.0.img"),
        "1.0.0",
    );
    spec.health_check = Some(vec!["true".to_string()]);
    spec.reach_server = true;
    spec.health_timeout_secs = 3;
    spec.server_url = Some(network.url.clone());
    let dev = Device::create(&world, spec);

    dev.run_until_idle()
        .assert_ok("device ends idle on its old slot");
    assert_eq!(dev.booted_slot(), "A", "rolled back");
    assert_eq!(dev.slot_a_sha256(), v1_sha);
    let status = world.status();
    let me = status
        .devices
        .iter()
        .find(|d| d.device_id == "dev-offline")
        .expect("device in status");
    assert_eq!(me.last_event, Some(UpdateEvent::RolledBack));
    let reason = me.last_reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("could not reach the update server"),
        "{reason}"
    );
}
