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
) -> Option<Placement> {
    let running: semver::Version = "1.0.0".parse().unwrap();
    let device = Device {
        device_id,
        class: "camera",
        hardware_id: hardware,
        firmware_version: &running,
    };
    place(&catalogue(), class, device, now)
}

fn offered_name(class: &ClassState, hardware: &str, now: DateTime<Utc>) -> Option<String> {
    offered(class, "d1", hardware, now).map(|p| p.assignment.target_name)
}

#[test]
fn the_profile_hardware_list_narrows_who_gets_anything() {
    let mut class = ClassState::default();
    assert!(offered_name(&class, "cam-v3", at(12)).is_some());
    class.profile = Some(ClassProfile {
        class: "camera".into(),
        hardware: vec!["cam-v2".into()],
        ..ClassProfile::default()
    });
    assert_eq!(offered_name(&class, "cam-v3", at(12)), None);
    assert_eq!(
        offered_name(&class, "cam-v2", at(12)).as_deref(),
        Some("camera-2.0.0.img")
    );
}

/// A class with the window 22:00-04:00 UTC and one install place.
fn night_window_one_place() -> ClassState {
    ClassState {
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
    }
}

#[test]
fn outside_the_window_the_release_is_offered_with_a_hold() {
    let class = night_window_one_place();
    let noon = offered(&class, "d1", "cam-v2", at(12)).unwrap();
    assert_eq!(noon.assignment.target_name, "camera-2.0.0.img");
    assert!(
        noon.assignment
            .hold
            .as_deref()
            .unwrap()
            .contains("22:00-04:00"),
        "{noon:?}"
    );
    assert_eq!(
        noon.needs_install_place, None,
        "no place is taken while held"
    );
    // Inside the window (which wraps midnight) only the install cap remains.
    for hour in [23, 2] {
        let night = offered(&class, "d1", "cam-v2", at(hour)).unwrap();
        assert_eq!(night.assignment.hold, None);
        assert_eq!(night.needs_install_place, Some(1));
    }
}

#[test]
fn a_device_on_the_offered_release_is_never_held() {
    let class = night_window_one_place();
    let running: semver::Version = "2.0.0".parse().unwrap();
    let device = Device {
        device_id: "d1",
        class: "camera",
        hardware_id: "cam-v2",
        firmware_version: &running,
    };
    let placed = place(&catalogue(), &class, device, at(12)).unwrap();
    assert_eq!(placed.assignment.hold, None);
    assert_eq!(placed.needs_install_place, None);
}
