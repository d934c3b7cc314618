//! The agent's run loop against the in-test server: install, trial, commit, roll-back,
//! refusals and the report outbox (interrupted installs: `interrupted.rs`). Reboots are simulated with the
//! simulated bootloader's power-on step, exactly as `update-client simulate` does.

mod support;

use support::{DeviceDir, DeviceOptions, FACTORY_IMAGE, ReleaseSpec, Repo, image, start_server};
use update_client::agent::{Agent, RunExit};
use update_client::bootloader::SimulatedBootloader;
use update_client::config::BootloaderConfig;
use update_core::api::Slot;
use update_core::hash::sha256_hex;

async fn run(device: &DeviceDir) -> RunExit {
    Agent::new(device.config())
        .unwrap()
        .run(true)
        .await
        .unwrap()
}

fn bootloader(device: &DeviceDir) -> SimulatedBootloader {
    let config = device.config();
    let BootloaderConfig::Simulated(simulated) = &config.bootloader else {
        panic!("the test device uses the simulated bootloader")
    };
    SimulatedBootloader::new(&simulated.dir, simulated.boot_limit)
}

/// The simulated reboot: the agent must have asked for it.
fn reboot(device: &DeviceDir) -> Slot {
    let marker = device.path("sim-boot/reboot-requested");
    assert!(marker.exists(), "the agent did not run the reboot command");
    std::fs::remove_file(marker).unwrap();
    bootloader(device).power_on().unwrap().booted
}

struct Setup {
    server: support::TestServer,
    device: DeviceDir,
    release: ReleaseSpec,
}

async fn setup(options: DeviceOptions<'_>, assigned_version: &str) -> Setup {
    let server = start_server().await;
    let mut repo = Repo::new();
    let release = ReleaseSpec::camera(assigned_version, image(200_000, 9));
    repo.publish(1, std::slice::from_ref(&release));
    server.state.serve_repo(&repo);
    server.state.assign(&release);
    let device = DeviceDir::new(&server.url, &repo.root_bytes(), options);
    bootloader(&device).power_on().unwrap();
    Setup {
        server,
        device,
        release,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_is_installed_tried_and_committed() {
    let Setup {
        server,
        device,
        release,
    } = setup(DeviceOptions::default(), "1.1.0").await;

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert_eq!(server.state.events(), ["downloading", "installed"]);
    assert_eq!(device.read("slot-b.img"), release.image);
    assert_eq!(device.read("slot-a.img"), FACTORY_IMAGE);
    let checkin = server.state.checkins.lock().unwrap()[0].clone();
    assert_eq!(checkin.firmware_version, semver::Version::new(1, 0, 0));
    assert_eq!(checkin.image_sha256, sha256_hex(FACTORY_IMAGE));
    assert_eq!(checkin.boot_slot, Slot::A);

    assert_eq!(reboot(&device), Slot::B);
    assert_eq!(run(&device).await, RunExit::Idle);
    assert_eq!(
        server.state.events(),
        ["downloading", "installed", "booted-new", "success"]
    );
    let reports = server.state.reports.lock().unwrap().clone();
    let success = reports.last().unwrap();
    assert_eq!(success.from_version, semver::Version::new(1, 0, 0));
    assert_eq!(success.version, semver::Version::new(1, 1, 0));
    assert_eq!(success.bytes_downloaded, 200_000);
    let last_checkin = server
        .state
        .checkins
        .lock()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(last_checkin.firmware_version, semver::Version::new(1, 1, 0));
    assert_eq!(last_checkin.image_sha256, sha256_hex(&release.image));
    assert_eq!(last_checkin.pending_update, None);

    let status = device.status();
    assert_eq!(status["booted_slot"], "B");
    assert_eq!(status["primary_slot"], "B");
    assert_eq!(status["journal"]["phase"], "committed");
    assert_eq!(status["slots"]["B"]["version"], "1.1.0");
    assert!(!bootloader(&device).env().unwrap().upgrade_available);
    // Committed: further boots stay on the new slot and nothing more happens.
    bootloader(&device).power_on().unwrap();
    assert_eq!(run(&device).await, RunExit::Idle);
    assert_eq!(server.state.events().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_slot_is_rolled_back_and_not_retried() {
    let options = DeviceOptions {
        health_check: Some("test \"$OTA_BOOT_SLOT\" = A"),
        ..DeviceOptions::default()
    };
    let Setup { server, device, .. } = setup(options, "1.1.0").await;

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert_eq!(reboot(&device), Slot::B);
    assert_eq!(
        run(&device).await,
        RunExit::Rebooting,
        "rolls back by rebooting"
    );
    assert_eq!(device.status()["journal"]["phase"], "rolling-back");
    assert_eq!(reboot(&device), Slot::A);
    assert_eq!(
        run(&device).await,
        RunExit::Idle,
        "the failed release is not retried"
    );
    assert_eq!(
        server.state.events(),
        ["downloading", "installed", "booted-new", "rolled-back"]
    );
    let reports = server.state.reports.lock().unwrap().clone();
    assert!(
        reports[3]
            .reason
            .as_deref()
            .unwrap()
            .contains("health check failed")
    );
    let status = device.status();
    assert_eq!(status["journal"]["phase"], "rolled-back");
    assert_eq!(
        status["failed_releases"][0]["target_name"],
        "camera-1.1.0.img"
    );
    assert_eq!(device.read("slot-a.img"), FACTORY_IMAGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootloader_falls_back_when_the_new_slot_never_commits() {
    let Setup { server, device, .. } = setup(DeviceOptions::default(), "1.1.0").await;
    assert_eq!(run(&device).await, RunExit::Rebooting);
    // The new slot boots but dies before the agent runs; the next power-on falls back.
    assert_eq!(reboot(&device), Slot::B);
    let second = bootloader(&device).power_on().unwrap();
    assert!(second.fell_back);
    assert_eq!(second.booted, Slot::A);
    assert_eq!(run(&device).await, RunExit::Idle);
    assert_eq!(
        server.state.events(),
        ["downloading", "installed", "rolled-back"]
    );
    let reports = server.state.reports.lock().unwrap().clone();
    assert!(reports[2].reason.as_deref().unwrap().contains("fell back"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_target_is_refused_and_the_device_is_untouched() {
    let Setup {
        server,
        device,
        release,
    } = setup(DeviceOptions::default(), "1.1.0").await;
    let mut tampered = release.image.clone();
    tampered[1234] ^= 0x01;
    server.state.files.lock().unwrap().insert(
        Repo::target_path(&release),
        support::Served::Bytes(tampered),
    );

    assert_eq!(run(&device).await, RunExit::UpdateFailed);
    assert_eq!(server.state.events(), ["downloading", "failure"]);
    let reports = server.state.reports.lock().unwrap().clone();
    assert!(reports[1].reason.as_deref().unwrap().contains("sha256"));
    assert_eq!(reports[1].bytes_downloaded, 200_000);
    assert_eq!(device.read("slot-a.img"), FACTORY_IMAGE);
    assert!(!device.exists("sim-boot/reboot-requested"));
    let status = device.status();
    assert_eq!(status["primary_slot"], "A");
    assert_eq!(status["journal"]["phase"], "failed");
    assert!(status["slots"]["B"].is_null(), "a dirty slot has no record");
    assert!(status["failed_releases"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_release_is_refused_once_and_remembered() {
    let options = DeviceOptions {
        version: "2.0.0",
        ..DeviceOptions::default()
    };
    let Setup { server, device, .. } = setup(options, "1.1.0").await;
    assert_eq!(run(&device).await, RunExit::UpdateFailed);
    assert_eq!(server.state.events(), ["failure"]);
    let reports = server.state.reports.lock().unwrap().clone();
    assert!(reports[0].reason.as_deref().unwrap().contains("not newer"));
    assert_eq!(run(&device).await, RunExit::Idle);
    assert_eq!(server.state.events(), ["failure"], "no second attempt");
    assert!(!device.exists("slot-b.img"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_that_cannot_be_sent_wait_in_the_outbox() {
    let Setup { server, device, .. } = setup(DeviceOptions::default(), "1.1.0").await;
    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert_eq!(reboot(&device), Slot::B);
    // The server goes away: the trial's reports are queued, and delivered in order once
    // a server answers again.
    let mut config = std::fs::read_to_string(&device.config_path).unwrap();
    config = config.replace(&server.url, "http://127.0.0.1:9");
    std::fs::write(&device.config_path, &config).unwrap();
    assert!(
        Agent::new(device.config())
            .unwrap()
            .run(true)
            .await
            .is_err()
    );
    assert_eq!(device.status()["queued_reports"], 2);
    assert_eq!(device.status()["journal"]["phase"], "committed");

    config = config.replace("http://127.0.0.1:9", &server.url);
    std::fs::write(&device.config_path, &config).unwrap();
    assert_eq!(run(&device).await, RunExit::Idle);
    assert_eq!(
        server.state.events(),
        ["downloading", "installed", "booted-new", "success"]
    );
    assert_eq!(device.status()["queued_reports"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequence_behind_the_servers_is_raised_above_its_floor() {
    let Setup { server, device, .. } = setup(DeviceOptions::default(), "1.1.0").await;
    *server.state.assignment.lock().unwrap() = None;
    // As after a reboot with the clock far behind the last run's.
    let floor = u64::MAX / 4;
    *server.state.last_sequence.lock().unwrap() = floor;
    assert_eq!(run(&device).await, RunExit::Idle);
    assert_eq!(server.state.checkins.lock().unwrap().len(), 1);
    assert_eq!(*server.state.last_sequence.lock().unwrap(), floor + 1);
}
