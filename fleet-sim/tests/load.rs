//! Devices seeded in bulk through the server's store are real devices to the running
//! server (their keys sign check-ins), and the load generator's check-ins go
//! to the devices of the file in turn, each signed with its own key, with its own body.

use std::time::Duration;

use fleet_sim::api::{ServerApi, build_client};
use fleet_sim::load::{self, Target};
use fleet_sim::seed;
use update_core::api::{FleetStatus, paths};

mod common;
use common::server_with_release;

const SEEDED: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_devices_check_in_under_load() {
    let fixture = server_with_release().await;
    let devices_file = fixture.work_dir.join("devices.txt");
    std::fs::create_dir_all(&fixture.work_dir).unwrap();
    let ids = (0..SEEDED).map(|i| format!("load-{i:06}"));
    let seeded = seed::seed(&fixture.data_dir, "camera", ids, &devices_file)
        .await
        .unwrap();
    assert_eq!(seeded, SEEDED);
    let devices = seed::read_devices_file(&devices_file).unwrap();
    assert_eq!(devices.len(), SEEDED);
    assert_eq!(devices[3].device_id, "load-000003");

    let version = "1.0.0".parse().unwrap();
    let target = Target::check_ins(&fixture.url, &devices, "cam-v2", &version).unwrap();
    let client = build_client(Duration::from_secs(30), None, None).unwrap();
    let result = load::run(client.clone(), target, 4, Duration::from_secs(1)).await;
    assert_eq!(result.errors, 0, "{}", result.line());
    assert!(result.requests > 0);
    assert!(result.percentile(50.0) <= result.percentile(99.0));
    assert!(result.percentile(99.0) <= result.max());

    // Devices are taken in turn, so exactly the first min(requests, SEEDED) checked in.
    let api = ServerApi::new(client, &fixture.url);
    let status: FleetStatus = api
        .admin_get(&fixture.admin_token, paths::ADMIN_STATUS, 4 * 1024 * 1024)
        .await
        .unwrap();
    let seen = status
        .devices
        .iter()
        .filter(|d| d.device_id.starts_with("load-") && d.last_seen.is_some())
        .count();
    assert_eq!(seen as u64, result.requests.min(SEEDED as u64));
    fixture.server.shutdown().await.unwrap();
}

#[test]
fn a_malformed_devices_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("devices.txt");
    std::fs::write(&file, "dev-1 camera not-a-token\n").unwrap();
    assert!(seed::read_devices_file(&file).is_err());
    std::fs::write(&file, "dev-1 camera\n").unwrap();
    assert!(seed::read_devices_file(&file).is_err());
}
