//! The `update-client` binary: `simulate` through a whole update, `status`, exit codes.

mod support;

use std::process::{Command, Output};

use support::{DeviceDir, DeviceOptions, ReleaseSpec, Repo, image, start_server};

const BIN: &str = env!("CARGO_BIN_EXE_update-client");

async fn client(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || Command::new(BIN).args(args).output().unwrap())
        .await
        .unwrap()
}

fn args(device: &DeviceDir, command: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        command.to_string(),
        "--config".to_string(),
        device.config_path.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

async fn assigned_device() -> (support::TestServer, DeviceDir) {
    let server = start_server().await;
    let mut repo = Repo::new();
    let release = ReleaseSpec::camera("1.1.0", image(150_000, 7));
    repo.publish(1, std::slice::from_ref(&release));
    server.state.serve_repo(&repo);
    server.state.assign(&release);
    let device = DeviceDir::new(&server.url, &repo.root_bytes(), DeviceOptions::default());
    (server, device)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_until_idle_installs_reboots_and_commits() {
    let (server, device) = assigned_device().await;
    let output = client(args(&device, "simulate", &["--until-idle"])).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        server.state.events(),
        ["downloading", "installed", "booted-new", "success"]
    );
    assert!(!device.exists("sim-boot/reboot-requested"));

    let output = client(args(&device, "status", &[])).await;
    assert_eq!(output.status.code(), Some(0));
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["booted_slot"], "B");
    assert_eq!(status["slots"]["B"]["version"], "1.1.0");
    assert_eq!(status["journal"]["phase"], "committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_stops_with_exit_3_past_the_boot_limit() {
    let (server, device) = assigned_device().await;
    let output = client(args(
        &device,
        "simulate",
        &["--until-idle", "--max-boots", "1"],
    ))
    .await;
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(server.state.events(), ["downloading", "installed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_until_idle_fails_with_exit_1_on_a_refused_update() {
    let server = start_server().await;
    let mut repo = Repo::new();
    let mut release = ReleaseSpec::camera("1.1.0", image(1000, 8));
    release.hardware = vec!["cam-v9".into()];
    repo.publish(1, std::slice::from_ref(&release));
    server.state.serve_repo(&repo);
    server.state.assign(&release);
    let device = DeviceDir::new(&server.url, &repo.root_bytes(), DeviceOptions::default());
    let output = client(args(&device, "run", &["--until-idle"])).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(server.state.events(), ["failure"]);
    let output = client(args(&device, "run", &["--until-idle"])).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "a known-failed release is idle"
    );
}

#[tokio::test]
async fn bad_config_exits_1_and_bad_usage_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("client.toml");
    std::fs::write(&config, "[device]\nid = 1\n").unwrap();
    let config = config.display().to_string();
    let output = client(vec!["run".into(), "--config".into(), config]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("client.toml"));
    let output = client(vec!["run".into(), "--bogus".into()]).await;
    assert_eq!(output.status.code(), Some(2));
}
