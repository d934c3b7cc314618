//! Placement rules on a fixed catalogue: hardware, window, install cap.

use std::collections::BTreeMap;

use update_core::api::Release;
use update_core::classes::MaintenanceWindow;

use super::*;

fn catalogue() -> Catalogue {
    let release = |version: &str| Release {
        target_name: format!("camera-{version}.img"),
        version: version.parse().unwrap(),
        class: "camera".into(),
        hardware: vec!["cam-v2".into(), "cam-v3".into()],
        sha256: "00".repeat(32),
        length: 1,
    };
    Catalogue {
        releases: vec![release("1.0.0"), release("2.0.0")],
        pins: BTreeMap::from([("camera".to_string(), "camera-2.0.0.img".to_string())]),
    }
}

fn at(hour: u32) -> DateTime<Utc> {
    chrono::NaiveDate::from_ymd_opt(2026, 3, 1)
        .unwrap()
        .and_hms_opt(hour, 30, 0)
        .unwrap()
        .and_utc()
}

fn offered(
    class: &ClassState,
    device_id: &str,
    hardware: &str,
    now: DateTime<Utc>,
) -> Option<String> {
    let running: semver::Version = "1.0.0".parse().unwrap();
    let device = Device {
        device_id,
        class: "camera",
        hardware_id: hardware,
        firmware_version: &running,
    };
    place(&catalogue(), class, device, now).map(|a| a.target_name)
}

#[test]
fn the_profile_hardware_list_narrows_who_gets_anything() {
    let mut class = ClassState::default();
    assert!(offered(&class, "d1", "cam-v3", at(12)).is_some());
    class.profile = Some(ClassProfile {
        class: "camera".into(),
        hardware: vec!["cam-v2".into()],
        ..ClassProfile::default()
    });
    assert_eq!(offered(&class, "d1", "cam-v3", at(12)), None);
    assert_eq!(
        offered(&class, "d1", "cam-v2", at(12)).as_deref(),
        Some("camera-2.0.0.img")
    );
}

#[test]
fn new_updates_wait_for_the_window_and_a_free_install_slot() {
    let mut class = ClassState {
        profile: Some(ClassProfile {
            class: "camera".into(),
            maintenance_window: Some(MaintenanceWindow {
                start: "22:00".into(),
                end: "04:00".into(),
            }),
            max_concurrent_installs: Some(1),
            ..ClassProfile::default()
        }),
        ..ClassState::default()
    };
    assert_eq!(
        offered(&class, "d1", "cam-v2", at(12)),
        None,
        "outside the window"
    );
    assert!(offered(&class, "d1", "cam-v2", at(23)).is_some());
    class.installs_in_progress = vec!["d2".into()];
    assert_eq!(
        offered(&class, "d1", "cam-v2", at(23)),
        None,
        "no free slot"
    );
    // The installing device keeps its assignment, even outside the window.
    assert!(offered(&class, "d2", "cam-v2", at(12)).is_some());
}
