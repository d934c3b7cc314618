//! Validation of profiles and rollout specs, and maintenance windows.

use super::*;

fn profile() -> ClassProfile {
    ClassProfile {
        class: "camera".into(),
        hardware: vec!["cam-v2".into()],
        approved_paths: ApprovedPaths {
            networks: vec![
                "10.0.0.0/8".into(),
                "127.0.0.2/32".into(),
                "fd00::/8".into(),
            ],
            relays: vec!["relay-1".into()],
        },
        maintenance_window: Some(MaintenanceWindow {
            start: "22:00".into(),
            end: "04:00".into(),
        }),
        success_threshold: Some(0.95),
        ..ClassProfile::default()
    }
}

#[test]
fn profiles_validate_networks_windows_and_bounds() {
    assert_eq!(profile().validate(), Ok(()));
    let mut bad = profile();
    bad.approved_paths.networks.push("10.0.0.0/33".into());
    assert!(bad.validate().unwrap_err().contains("CIDR"));
    let mut bad = profile();
    bad.maintenance_window = Some(MaintenanceWindow {
        start: "24:00".into(),
        end: "01:00".into(),
    });
    assert!(bad.validate().is_err());
    let mut bad = profile();
    bad.hardware = vec!["x".into(); MAX_LIST + 1];
    assert!(bad.validate().is_err());
    let mut bad = profile();
    bad.poll_interval_secs = Some(u64::MAX);
    assert!(bad.validate().is_err());
    let mut bad = profile();
    bad.success_threshold = Some(1.5);
    assert!(bad.validate().is_err());
    let mut bad = profile();
    bad.baseline = Some("../etc".into());
    assert!(bad.validate().is_err());
}

#[test]
fn windows_wrap_midnight() {
    let window = profile().maintenance_window.unwrap();
    let at = |h, m| {
        chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
            .and_utc()
    };
    assert!(window.contains(at(23, 0)));
    assert!(window.contains(at(3, 59)));
    assert!(!window.contains(at(4, 0)));
    assert!(!window.contains(at(12, 0)));
}

#[test]
fn rollout_specs_need_increasing_waves_ending_at_100() {
    let spec = |waves: Vec<u8>| RolloutSpec {
        class: "camera".into(),
        target_name: "camera-2.0.0.img".into(),
        waves,
        soak_secs: 60,
        max_failure_rate: 0.05,
        min_finished: 5,
        halt_confidence: None,
    };
    assert_eq!(spec(vec![1, 10, 50, 100]).validate(), Ok(()));
    assert!(spec(vec![10, 10, 100]).validate().is_err());
    assert!(spec(vec![10, 50]).validate().is_err());
    assert!(spec(vec![]).validate().is_err());
    let parsed: RolloutSpec = serde_json::from_value(serde_json::json!({
        "class": "camera", "target_name": "t", "waves": [100],
        "soak_secs": 0, "max_failure_rate": 0.1
    }))
    .unwrap();
    assert_eq!(parsed.min_finished, 5);
}
