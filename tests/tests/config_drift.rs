//! Configuration drift end to end: `ota config add` signs a profile, `ota publish`
//! uploads it, devices measure their files against it at check-in, and the server's
//! status and `ota status` name the drifted device and file.

use tests::images::write_image;
use tests::{Device, DeviceSpec, World};

const CLASS: &str = "cam";
const HARDWARE: &str = "board-a";
const SSHD: &str = "/etc/ssh/sshd_config";
const SSHD_TEXT: &str = "PermitRootLogin no\nPasswordAuthentication no\n";

fn device_with_sshd(world: &World, id: &str, sshd: &str) -> Device {
    let spec = DeviceSpec::new(id, CLASS, HARDWARE, world.path("fw-1.0.0.img"), "1.0.0");
    let device = Device::create(world, spec);
    let file = device.config_root.join(SSHD.trim_start_matches('/'));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, sshd).unwrap();
    device
}

#[test]
fn a_device_with_an_edited_file_is_drifted_and_named() {
    let world = World::start();
    let image = world.path("fw-1.0.0.img");
    write_image(&image, 1, 64 * 1024);
    world.release(&image, "1.0.0", CLASS, &[HARDWARE]);
    let expected = world.path("sshd_config");
    std::fs::write(&expected, SSHD_TEXT).unwrap();
    world.add_config_profile(CLASS, 1, SSHD, &expected);
    assert!(world.targets().contains_key("config/cam-1.json"));
    world.publish();

    let clean = device_with_sshd(&world, "cam-clean", SSHD_TEXT);
    let edited = device_with_sshd(&world, "cam-edited", "PermitRootLogin yes\n");
    clean.run_until_idle().assert_ok("clean device");
    edited.run_until_idle().assert_ok("edited device");

    let status = world.status();
    let of = |id: &str| status.devices.iter().find(|d| d.device_id == id).unwrap();
    assert_eq!(of("cam-clean").config_version, Some(1));
    assert_eq!(of("cam-clean").config_drift, Some(vec![]));
    assert_eq!(of("cam-edited").config_drift, Some(vec![SSHD.to_string()]));
    assert_eq!(
        of("cam-edited").source_address.as_deref(),
        Some("127.0.0.1")
    );

    let shown = world.ota_admin(&["status"]);
    shown.assert_ok("ota status");
    let drift_section = shown.stdout.split("drifted:").nth(1).unwrap_or_default();
    assert!(
        drift_section.contains("cam-edited") && drift_section.contains(SSHD),
        "ota status names the drifted device and file:\n{}",
        shown.stdout
    );
    assert!(!drift_section.contains("cam-clean"), "{}", shown.stdout);
}
