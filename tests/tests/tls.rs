//! HTTPS end to end: the real `update-server` serves TLS only; the real `update-client`
//! trusting the test CA updates over it and `ota status` / `ota audit` read it; a device
//! trusting another CA and an `ota` trusting only the built-in roots are refused.

use std::process::Command;

use tests::images::write_image;
use tests::pki::write_test_pki;
use tests::process::{bin, run};
use tests::{Device, DeviceSpec, World};

const IMAGE_SIZE: usize = 64 * 1024;
const CLASS: &str = "cam";
const HARDWARE: &str = "board-a";

#[test]
fn a_device_and_ota_work_over_https_and_other_trust_is_refused() {
    let pki_dir = tempfile::tempdir().expect("pki dir");
    let pki = write_test_pki(pki_dir.path(), "server");
    let other = write_test_pki(pki_dir.path(), "other");
    let world = World::start_https(&pki);
    assert!(
        world.server_url.starts_with("https://127.0.0.1:"),
        "{}",
        world.server_url
    );

    let v1 = world.path("fw-1.0.0.img");
    let v2 = world.path("fw-1.1.0.img");
    write_image(&v1, 1, IMAGE_SIZE);
    let v2_sha = write_image(&v2, 2, IMAGE_SIZE);
    world.release(&v1, "1.0.0", CLASS, &[HARDWARE]);
    world.release(&v2, "1.1.0", CLASS, &[HARDWARE]);
    world.publish();

    let mut spec = DeviceSpec::new("tls-1", CLASS, HARDWARE, v1.clone(), "1.0.0");
    spec.health_check = Some(vec!["true".to_string()]);
    let device = Device::create(&world, spec);
    device
        .run_until_idle()
        .assert_ok("device update over HTTPS");
    assert_eq!(device.booted_slot(), "B");
    assert_eq!(device.slot_b_sha256(), v2_sha);

    let status = world.ota_admin(&["status"]);
    status.assert_ok("ota status over HTTPS");
    assert!(status.stdout.contains("tls-1"), "{}", status.stdout);
    let audit = world.ota_admin(&["audit", "--limit", "10"]);
    audit.assert_ok("ota audit");
    assert!(
        audit.stdout.contains("PUT /api/v1/admin/metadata/targets"),
        "{}",
        audit.stdout
    );

    device.set_ca_file(&other.ca_pem);
    let refused = device.run_until_idle();
    assert!(
        !refused.success(),
        "a device trusting another CA got through"
    );
    assert!(
        refused.stderr.contains("UnknownIssuer"),
        "no clear TLS error:\n{}",
        refused.stderr
    );

    let mut untrusting = Command::new(bin("ota"));
    untrusting
        .args(["status", "--server", &world.server_url])
        .env("OTA_ADMIN_TOKEN", &world.admin_token)
        .env_remove("OTA_CA_FILE");
    let refused = run(untrusting, std::time::Duration::from_secs(60));
    assert!(!refused.success(), "ota without the CA got through");
    assert!(
        refused.stderr.contains("UnknownIssuer"),
        "no clear TLS error:\n{}",
        refused.stderr
    );
}
