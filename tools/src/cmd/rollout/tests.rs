//! Command-line parsing of `ota class` and `ota rollout`, and the rollout table.

use clap::Parser;
use update_core::classes::{RolloutState, WaveStatus};

use super::*;
use crate::cmd::class::{ClassCommand, merge};

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    #[command(subcommand)]
    Class(ClassCommand),
    #[command(subcommand)]
    Rollout(RolloutCommand),
}

const SERVER: [&str; 4] = [
    "--server",
    "http://127.0.0.1:1",
    "--token",
    "0123456789abcdef0123456789abcdef",
];

fn parse(args: &[&str]) -> Result<Command, clap::Error> {
    let all = std::iter::once("ota")
        .chain(args.iter().copied())
        .chain(SERVER);
    Cli::try_parse_from(all).map(|cli| cli.command)
}

#[test]
fn rollout_start_reads_waves_durations_and_percentages() {
    let Command::Rollout(RolloutCommand::Start(args)) = parse(&[
        "rollout",
        "start",
        "camera",
        "2.0.0",
        "--waves",
        "1,10,50,100",
        "--soak",
        "30m",
        "--max-failure-rate",
        "5%",
    ])
    .unwrap() else {
        panic!("not a rollout start");
    };
    let spec = super::spec(&args).unwrap();
    assert_eq!(spec.target_name, "camera-2.0.0.img");
    assert_eq!(spec.waves, vec![1, 10, 50, 100]);
    assert_eq!(spec.soak_secs, 1800);
    assert!((spec.max_failure_rate - 0.05).abs() < 1e-9);
    assert_eq!(spec.min_finished, 5);

    for bad in [
        vec![
            "--waves",
            "1,x,100",
            "--soak",
            "1m",
            "--max-failure-rate",
            "5%",
        ],
        vec![
            "--waves",
            "1,100",
            "--soak",
            "soon",
            "--max-failure-rate",
            "5%",
        ],
        vec![
            "--waves",
            "1,100",
            "--soak",
            "1m",
            "--max-failure-rate",
            "150%",
        ],
    ] {
        let mut args = vec!["rollout", "start", "camera", "camera-2.0.0.img"];
        args.extend(bad);
        assert!(parse(&args).is_err(), "{args:?}");
    }
    let Command::Rollout(RolloutCommand::Start(args)) = parse(&[
        "rollout",
        "start",
        "camera",
        "custom.img",
        "--waves",
        "50,10,100",
        "--soak",
        "0s",
        "--max-failure-rate",
        "0.1",
    ])
    .unwrap() else {
        panic!("not a rollout start");
    };
    assert!(super::spec(&args).unwrap_err().contains("increasing"));
}

#[test]
fn class_set_changes_only_the_given_fields() {
    let Command::Class(ClassCommand::Set(args)) = parse(&[
        "class",
        "set",
        "camera",
        "--hardware",
        "cam-v2",
        "--hardware",
        "cam-v3",
        "--poll-interval",
        "5m",
        "--window",
        "22:00-04:00",
        "--success-threshold",
        "95%",
        "--approved-network",
        "10.0.0.0/8",
    ])
    .unwrap() else {
        panic!("not a class set");
    };
    let existing = update_core::classes::ClassProfile {
        class: "camera".into(),
        baseline: Some("camera-1.0.0.img".into()),
        max_concurrent_installs: Some(3),
        ..Default::default()
    };
    let profile = merge(Some(existing), &args);
    assert_eq!(profile.hardware, ["cam-v2", "cam-v3"]);
    assert_eq!(profile.baseline.as_deref(), Some("camera-1.0.0.img"));
    assert_eq!(profile.poll_interval_secs, Some(300));
    assert_eq!(profile.max_concurrent_installs, Some(3));
    assert_eq!(profile.approved_paths.networks, ["10.0.0.0/8"]);
    assert_eq!(profile.maintenance_window.unwrap().end, "04:00");
    assert!(parse(&["class", "set", "camera", "--window", "22:00"]).is_err());
}

#[test]
fn the_status_table_shows_each_wave_and_the_halt_reason() {
    let status = RolloutStatus {
        id: "r-0123456789ab".into(),
        spec: RolloutSpec {
            class: "camera".into(),
            target_name: "camera-2.0.0.img".into(),
            waves: vec![10, 100],
            soak_secs: 600,
            max_failure_rate: 0.05,
            min_finished: 5,
            halt_confidence: None,
        },
        version: "2.0.0".parse().unwrap(),
        state: RolloutState::Halted,
        wave: 0,
        wave_opened_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        created_at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
        reason: Some("wave 1 (10%): 3 of 5 finished updates failed".into()),
        waves: vec![
            WaveStatus {
                percent: 10,
                devices: 7,
                finished: 5,
                success: 2,
                failure: 1,
                rolled_back: 2,
            },
            WaveStatus {
                percent: 100,
                devices: 33,
                ..WaveStatus::default()
            },
        ],
    };
    let text = format_rollout(&status);
    assert!(text.contains("halted (wave 1 of 2"), "{text}");
    assert!(text.contains("3 of 5 finished"), "{text}");
    let wave_1 = text.lines().find(|l| l.starts_with("1 ")).unwrap();
    let cells: Vec<&str> = wave_1.split_whitespace().collect();
    assert_eq!(
        cells,
        ["1", "10%", "7", "5", "60.0%", "<-", "open"],
        "{text}"
    );
    assert!(is_rollout_id("r-0123456789ab") && !is_rollout_id("camera"));
}
