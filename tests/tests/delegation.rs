//! Per-class signing authority end to end (docs/delegations.md) with the real binaries:
//! `medical` is signed by a 2-of-3 role, `camera` by a 1-of-1 role. A medical release
//! signed by one key is not published; once a second engineer signs it with `ota sign`
//! it is, a medical device installs it and a camera device does not see it, and the
//! medical profile signed by the role drives drift detection.

use std::path::Path;

use tests::images::write_image;
use tests::{Device, DeviceSpec, World};

const PUMP_CONF: &str = "/etc/pump.conf";
const HARDWARE: &str = "board-a";

fn device(world: &World, id: &str, class: &str) -> Device {
    let mut spec = DeviceSpec::new(id, class, HARDWARE, world.path("factory.img"), "1.0.0");
    spec.health_check = Some(vec!["true".into()]);
    Device::create(world, spec)
}

#[test]
fn a_two_of_three_medical_release_installs_only_on_medical_devices() {
    let world = World::start();
    write_image(&world.path("factory.img"), 1, 64 * 1024);
    let medical_image = world.path("medical-1.1.0.img");
    let medical_sha = write_image(&medical_image, 2, 64 * 1024);
    let medical_keys = world.delegate_class("medical", 3, 2);
    let camera_keys = world.delegate_class("camera", 1, 1);
    let medical_key = |n: usize| -> &Path { &medical_keys[n] };

    // The camera team's key cannot sign a medical release.
    let wrong = world.release_signed_by(
        &medical_image,
        "1.1.0",
        "medical",
        HARDWARE,
        &[&camera_keys[0]],
    );
    assert!(!wrong.status.success(), "camera key accepted for medical");
    assert!(
        wrong.stderr.contains("not a key of role medical"),
        "{}",
        wrong.stderr
    );

    // One medical key: signed into the role, 1 of 2, and publish refuses the role.
    let one = world.release_signed_by(
        &medical_image,
        "1.1.0",
        "medical",
        HARDWARE,
        &[medical_key(0)],
    );
    one.assert_ok("medical release with one key");
    assert!(one.stdout.contains("signed 1 of 2"), "{}", one.stdout);
    let refused = world.try_publish();
    assert!(
        !refused.status.success(),
        "a role below threshold was published"
    );
    assert!(refused.stderr.contains("ota sign"), "{}", refused.stderr);
    assert_eq!(
        world.get("/metadata/medical.json").status(),
        reqwest::StatusCode::NOT_FOUND,
        "nothing of the role reached the server"
    );

    // A second engineer signs; now it publishes.
    world
        .sign_role("medical", medical_key(1))
        .assert_ok("ota sign");
    world.publish();

    let approved = world.path("pump.conf");
    std::fs::write(&approved, "max_rate=5\n").unwrap();
    world
        .config_profile_signed_by(
            "medical",
            1,
            PUMP_CONF,
            &approved,
            &[medical_key(0), medical_key(2)],
        )
        .assert_ok("medical profile");
    world.publish();

    let pump = device(&world, "pump-1", "medical");
    let conf = pump.config_root.join(PUMP_CONF.trim_start_matches('/'));
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    std::fs::write(&conf, "max_rate=50\n").unwrap();
    let camera = device(&world, "cam-1", "camera");
    pump.run_until_idle().assert_ok("medical device");
    camera.run_until_idle().assert_ok("camera device");

    assert_eq!(pump.booted_slot(), "B");
    assert_eq!(
        pump.slot_b_sha256(),
        medical_sha,
        "the medical device runs 1.1.0"
    );
    assert_eq!(
        camera.booted_slot(),
        "A",
        "the camera device saw no release"
    );

    let status = world.status();
    let of = |id: &str| status.devices.iter().find(|d| d.device_id == id).unwrap();
    assert_eq!(
        of("pump-1")
            .firmware_version
            .as_ref()
            .map(|v| v.to_string()),
        Some("1.1.0".to_string())
    );
    assert_eq!(of("pump-1").config_version, Some(1));
    assert_eq!(of("pump-1").config_drift, Some(vec![PUMP_CONF.to_string()]));
    assert_eq!(of("cam-1").config_version, None);
}
