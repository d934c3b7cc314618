//! A real Prometheus scrapes the server during a simulated staged rollout, and PromQL over
//! its HTTP API must report what the simulated devices actually did: the update success
//! rate, the share on the baseline, configuration drift (devices with an edited file) and
//! reachability through approved management paths (devices checking in from an address
//! outside the class's approved network). The shipped alert rules must fire when the
//! rollout halts itself, and every query of the shipped Grafana dashboard must be valid.

use std::time::Duration;

use tests::World;
use tests::images::{firmware_image, successor};
use tests::process::{Finished, bin, run};
use tests::prometheus::{self, Prometheus};
use tests::world::path_str;
use update_core::api::UpdateEvent;
use update_core::hash::sha256_hex;

const CLASS: &str = "cam";
const HARDWARE: &str = "cam-v2";
const APPROVED: &str = "127.0.0.2";
const UNAPPROVED: &str = "127.0.0.3";
const CONFIG_FILE: &str = "/etc/app.conf";
const CONFIG_TEXT: &str = "telnet = off\n";
/// Devices per group: on the approved network, on it with an edited file, off it.
const GROUP: usize = 12;
const SCRAPED: Duration = Duration::from_secs(30);
const SIMULATION_DEADLINE: Duration = Duration::from_secs(120);

/// Runs `ota-fleet-sim` for one group of simulated devices.
fn simulate(world: &World, prefix: &str, source: &str, extra: &[&str]) -> Finished {
    let tokens = world.path("tokens");
    let profile = world.path("profile.json");
    let mut command = std::process::Command::new(bin("ota-fleet-sim"));
    command.env_remove("OTA_ADMIN_TOKEN");
    command
        .args(["--server", &world.server_url, "--token", &world.admin_token])
        .args(["--devices", &GROUP.to_string(), "--class", CLASS])
        .args(["--hardware", HARDWARE, "--from-version", "1.0.0"])
        .args([
            "--id-prefix",
            prefix,
            "--enroll",
            "--tokens-dir",
            path_str(&tokens),
        ])
        .args(["--source-addresses", source, "--until-idle"])
        .args(["--config-profile", path_str(&profile)])
        .args(["--poll-interval", "50ms", "--progress", "1h"])
        .args(extra);
    run(command, SIMULATION_DEADLINE)
}

fn one_value(prometheus: &Prometheus, promql: &str, expected: f64) {
    let value = prometheus.wait_for(promql, SCRAPED, |v| (v - expected).abs() < 1e-9);
    assert!(
        (value - expected).abs() < 1e-9,
        "{promql}: {value} != {expected}"
    );
}

#[test]
fn prometheus_reports_the_four_numbers_and_the_halted_rollout() {
    assert!(
        prometheus::installed(),
        "Debian's prometheus is needed (apt-get install prometheus; .ci/run does)"
    );
    let world = World::start();
    let v1 = firmware_image(1, 64 * 1024);
    let v2 = successor(&v1, 2);
    std::fs::write(world.path("fw-1.0.0.img"), &v1).unwrap();
    std::fs::write(world.path("fw-1.1.0.img"), &v2).unwrap();
    world.release_with(
        &world.path("fw-1.0.0.img"),
        "1.0.0",
        CLASS,
        &[HARDWARE],
        &["--no-deltas"],
    );
    world.release_with(
        &world.path("fw-1.1.0.img"),
        "1.1.0",
        CLASS,
        &[HARDWARE],
        &["--no-deltas"],
    );

    // The approved configuration: one file, and the same profile for the simulator.
    let approved = world.path("app.conf");
    std::fs::write(&approved, CONFIG_TEXT).unwrap();
    world.add_config_profile(CLASS, 1, CONFIG_FILE, &approved);
    let profile = serde_json::json!({
        "class": CLASS, "version": 1,
        "files": [{"path": CONFIG_FILE, "sha256": sha256_hex(CONFIG_TEXT.as_bytes())}],
    });
    std::fs::write(world.path("profile.json"), profile.to_string()).unwrap();
    world.publish();

    let ota = |args: &[&str]| world.ota_admin(args);
    ota(&[
        "class",
        "set",
        CLASS,
        "--hardware",
        HARDWARE,
        "--baseline",
        "cam-1.0.0.img",
        "--approved-network",
        &format!("{APPROVED}/32"),
        "--success-threshold",
        "90%",
        // Reachable means seen within three poll intervals; the simulation polls faster.
        "--poll-interval",
        "1h",
    ])
    .assert_ok("ota class set");

    let metrics_target = world.server_url.trim_start_matches("http://").to_string();
    let prometheus = Prometheus::start(&world.path("prometheus"), &metrics_target);

    // Every device checks in once on the baseline: nothing to install yet.
    simulate(&world, "good-", APPROVED, &[]).assert_ok("approved devices");
    simulate(
        &world,
        "edited-",
        APPROVED,
        &["--config-drift-rate", "100%"],
    )
    .assert_ok("devices with an edited file");
    simulate(&world, "away-", UNAPPROVED, &[]).assert_ok("devices off the approved network");

    // A staged rollout of 1.1.0 whose first wave fails too often.
    ota(&[
        "rollout",
        "start",
        CLASS,
        "1.1.0",
        "--waves",
        "50,100",
        "--soak",
        "1h",
        "--max-failure-rate",
        "20%",
        "--min-finished",
        "4",
    ])
    .assert_ok("ota rollout start");
    // Every group polls again; about half the devices are in the first wave, and half
    // of their updates fail, so the wave crosses its 20 % failure threshold.
    let failing = ["--failure-rate", "50%", "--seed", "7"];
    simulate(&world, "good-", APPROVED, &failing).assert_ok("approved devices");
    let mut edited = vec!["--config-drift-rate", "100%"];
    edited.extend(failing);
    simulate(&world, "edited-", APPROVED, &edited).assert_ok("devices with an edited file");
    simulate(&world, "away-", UNAPPROVED, &failing).assert_ok("devices off the network");

    let status = world.status();
    let devices = status.devices.len() as f64;
    assert_eq!(devices, 3.0 * GROUP as f64);
    let class = status.classes.iter().find(|c| c.class == CLASS).unwrap();
    let finished = class.outcomes.finished() as f64;
    assert!(
        finished >= 4.0,
        "the first wave finished updates: {class:?}"
    );
    let ended = |event| {
        status
            .devices
            .iter()
            .filter(|d| d.last_event == Some(event))
            .count() as f64
    };
    let succeeded = ended(UpdateEvent::Success);
    assert_eq!(succeeded, class.outcomes.success as f64);
    let on_baseline = status
        .devices
        .iter()
        .filter(|d| {
            d.firmware_version
                .as_ref()
                .is_some_and(|v| v.to_string() == "1.0.0")
        })
        .count() as f64;
    assert_eq!(on_baseline, devices - succeeded);

    // The four numbers, as Prometheus scraped them.
    let selector = format!("{{class=\"{CLASS}\"}}");
    one_value(
        &prometheus,
        &format!("ota_update_success_ratio{selector}"),
        succeeded / finished,
    );
    one_value(
        &prometheus,
        &format!("ota_devices_on_baseline{selector} / ota_class_devices{selector}"),
        on_baseline / devices,
    );
    one_value(
        &prometheus,
        &format!("ota_devices_config_drifted{selector}"),
        GROUP as f64,
    );
    let path = |p: &str| format!("ota_devices_reachability{{class=\"{CLASS}\",path=\"{p}\"}}");
    one_value(&prometheus, &path("approved"), 2.0 * GROUP as f64);
    one_value(&prometheus, &path("unapproved"), GROUP as f64);
    one_value(&prometheus, &path("unreachable"), 0.0);
    // Each off-network device checked in at least twice (once per simulation).
    prometheus.wait_for(
        &format!("ota_checkins_unapproved_path_total{selector}"),
        SCRAPED,
        |count| count >= 2.0 * GROUP as f64,
    );
    one_value(
        &prometheus,
        &format!("ota_rollout_state{{class=\"{CLASS}\",state=\"halted\"}}"),
        1.0,
    );

    // The alerts an operator gets.
    let deadline = std::time::Instant::now() + SCRAPED;
    let mut firing = prometheus.firing_alerts();
    while !(firing.contains(&"OtaRolloutHalted".to_string())
        && firing.contains(&"OtaUnapprovedManagementPath".to_string()))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(500));
        firing = prometheus.firing_alerts();
    }
    assert!(
        firing.contains(&"OtaRolloutHalted".to_string()),
        "{firing:?}"
    );
    assert!(
        firing.contains(&"OtaUnapprovedManagementPath".to_string()),
        "{firing:?}"
    );

    // Every query of the shipped dashboard parses and, for the four numbers, has data.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            tests::process::workspace_root().join("ops/grafana/ota-fleet.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap().replace("$class", ".*");
            let answer = prometheus.query(&expr);
            let title = panel["title"].as_str().unwrap_or_default();
            if [
                "Update success rate",
                "Share on the approved baseline",
                "Configuration drift",
                "Reachability through approved management paths",
            ]
            .contains(&title)
            {
                assert!(!answer.is_empty(), "{title}: {expr} has no data");
            }
        }
    }
}

#[test]
fn shipped_alert_rules_pass_promtool() {
    let mut command = std::process::Command::new("promtool");
    command
        .args(["check", "rules"])
        .arg(prometheus::alert_rules());
    let checked = run(command, Duration::from_secs(60));
    checked.assert_ok("promtool check rules ops/prometheus/alerts.yml");
    assert!(
        checked.stdout.contains("SUCCESS: 5 rules found"),
        "{}",
        checked.stdout
    );
}
