//! A real update server on 127.0.0.1 with one published release and 50 simulated
//! devices, 10 % of updates failing and 6 % rolling back by injection: every device ends
//! idle, the outcomes are exactly the injected fates, every update travels as the zstd
//! form, and the server's fleet status counts what the simulator says it did.

use std::time::Duration;

use fleet_sim::api::{ServerApi, build_client};
use fleet_sim::device::FleetConfig;
use fleet_sim::fate::{Fate, FateRates};
use fleet_sim::fleet;
use fleet_sim::stats::{Counters, Phase};
use fleet_sim::update::Repository;
use update_core::api::{FleetStatus, PayloadKind, paths};

mod common;
use common::{Fixture, RELEASE, server_with_release};

const DEVICES: usize = 50;

fn config_of(fixture: &Fixture, rates: FateRates) -> FleetConfig {
    let client = build_client(Duration::from_secs(30), None, None).unwrap();
    FleetConfig {
        id_prefix: "sim-".into(),
        class: "camera".into(),
        hardware_id: "cam-v2".into(),
        from_version: "1.0.0".parse().unwrap(),
        apis: vec![ServerApi::new(client, &fixture.url)],
        repository: Repository::new(&fixture.url.parse().unwrap(), fixture.root_file.clone())
            .unwrap(),
        admin_token: fixture.admin_token.clone(),
        enroll: true,
        tokens_dir: Some(fixture.work_dir.join("tokens")),
        work_dir: fixture.work_dir.clone(),
        rates,
        config: None,
        poll_interval: Some(Duration::from_millis(50)),
        until_idle: true,
        deadline: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_devices_update_and_the_server_counts_what_they_did() {
    let fixture = server_with_release().await;
    let rates = FateRates {
        failure: 0.10,
        rollback: 0.06,
        seed: 11,
    };
    let config = config_of(&fixture, rates);
    let api = config.apis[0].clone();

    std::fs::create_dir_all(fixture.work_dir.join("tokens")).unwrap();
    let expected = |fate| {
        (0..DEVICES)
            .filter(|i| rates.fate(&config.device_id(*i), RELEASE) == fate)
            .count() as u64
    };
    let (successes, failures, rollbacks) = (
        expected(Fate::Success),
        expected(Fate::Failure),
        expected(Fate::RollBack),
    );
    assert!(failures > 0 && rollbacks > 0, "the seed injects both kinds");

    let run = fleet::run(config, DEVICES, 16, None).await.unwrap();

    assert!(run.all_clean(true), "{}", run.stats.summary(0.0));
    let (phases, versions) = run.stats.tallies();
    assert_eq!(phases.get(&Phase::Idle), Some(&(DEVICES as u64)));
    assert_eq!(versions.get("1.1.0").copied().unwrap_or(0), successes);
    let c = &run.stats.counters;
    assert_eq!(Counters::get(&c.enrolled), DEVICES as u64);
    assert_eq!(Counters::get(&c.updates_started), DEVICES as u64);
    assert_eq!(Counters::get(&c.successes), successes);
    assert_eq!(Counters::get(&c.failures), failures);
    assert_eq!(Counters::get(&c.rollbacks), rollbacks);
    // Every device took the compressed form: fewer bytes than the raw images.
    let bytes = Counters::get(&c.bytes_downloaded);
    assert!(bytes > 0 && bytes < DEVICES as u64 * 16 * 1024, "{bytes}");

    let status: FleetStatus = api
        .admin_get(&fixture.admin_token, paths::ADMIN_STATUS, 4 * 1024 * 1024)
        .await
        .unwrap();
    assert_eq!(status.outcomes.success, successes);
    assert_eq!(status.outcomes.failure, failures);
    assert_eq!(status.outcomes.rolled_back, rollbacks);
    let camera = status.classes.iter().find(|c| c.class == "camera").unwrap();
    assert_eq!(camera.devices, DEVICES as u64);
    assert_eq!(camera.on_approved, successes);
    assert_eq!(
        camera.versions.get("1.1.0").copied().unwrap_or(0),
        successes
    );
    assert_eq!(
        camera.versions.get("1.0.0").copied().unwrap_or(0),
        failures + rollbacks
    );
    let payloads = status.payloads_of("camera").unwrap();
    assert_eq!(payloads.updates(), DEVICES as u64);
    let zstd = payloads.kind(PayloadKind::Zstd).unwrap();
    assert_eq!(zstd.updates, DEVICES as u64);
    // Terminal reports carry the bytes: the server's sum is the simulator's.
    assert_eq!(payloads.bytes_downloaded(), bytes);

    // A second run reuses the saved keys (no enrolment); its devices start on 1.1.0,
    // so each is idle at its first check-in.
    let client = build_client(Duration::from_secs(30), None, None).unwrap();
    let again = FleetConfig {
        apis: vec![ServerApi::new(client, &fixture.url)],
        admin_token: String::new(),
        enroll: false,
        work_dir: fixture.work_dir.join("again"),
        from_version: "1.1.0".parse().unwrap(),
        ..config_of(&fixture, rates)
    };
    let rerun = fleet::run(again, DEVICES, 16, None).await.unwrap();
    assert!(rerun.all_clean(true), "{}", rerun.stats.summary(0.0));
    let c = &rerun.stats.counters;
    assert_eq!(Counters::get(&c.enrolled), 0);
    assert_eq!(Counters::get(&c.check_ins), DEVICES as u64);
    assert_eq!(Counters::get(&c.updates_started), 0);
    fixture.server.shutdown().await.unwrap();
}
