//! Class profiles over HTTP (round trip, validation, the baseline as the class pin) and
//! the fleet facts that metrics read (profiles, each class's latest rollout).

mod classes_common;
mod common;

use classes_common::{assigned, assigned_name, profile, put_profile};
use common::{Image, TestServer};
use reqwest::{Method, StatusCode};
use update_core::api::{ApprovedRelease, ErrorBody, paths};
use update_core::classes::{
    ClassProfile, MaintenanceWindow, RolloutSpec, RolloutState, RolloutStatus,
};

#[tokio::test]
async fn profiles_round_trip_and_bad_input_is_rejected() {
    let server = TestServer::start().await;
    let v1 = Image::new("camera", "1.0.0", &["cam-v2"], 64);
    let v2 = Image::new("camera", "2.0.0", &["cam-v2"], 64);
    server.publish(1, &[&v1, &v2]).await;
    let token = server.enroll("cam-1", "camera").await;

    // A class pinned through `.../approved` reads as a profile holding just the baseline.
    let response = server
        .admin(
            Method::PUT,
            &format!("{}/camera/approved", paths::ADMIN_CLASSES),
        )
        .json(&ApprovedRelease {
            target_name: v2.name.clone(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let pinned: ClassProfile = server
        .admin_get(&format!("{}/camera", paths::ADMIN_CLASSES))
        .await;
    assert_eq!(pinned.baseline.as_deref(), Some(v2.name.as_str()));

    let wanted = profile(&v1);
    let response = put_profile(&server, &wanted).await;
    assert_eq!(response.status(), StatusCode::OK);
    let stored: ClassProfile = server
        .admin_get(&format!("{}/camera", paths::ADMIN_CLASSES))
        .await;
    assert_eq!(stored, wanted);
    let all: Vec<ClassProfile> = server.admin_get(paths::ADMIN_CLASSES).await;
    assert_eq!(all, vec![wanted.clone()]);

    // The baseline is the class pin: the older release is assigned, at the class's pace.
    let answer = assigned(&server, &token, "cam-1", "0.9.0").await;
    assert_eq!(assigned_name(&answer), Some(v1.name.as_str()));
    assert_eq!(answer.poll_interval_secs, 300);

    let mut bad = wanted.clone();
    bad.approved_paths.networks.push("10.0.0.0/99".into());
    let response = put_profile(&server, &bad).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: ErrorBody = response.json().await.unwrap();
    assert!(error.error.contains("CIDR"), "{}", error.error);

    let mut bad = wanted.clone();
    bad.maintenance_window = Some(MaintenanceWindow {
        start: "22:00".into(),
        end: "4am".into(),
    });
    assert_eq!(
        put_profile(&server, &bad).await.status(),
        StatusCode::BAD_REQUEST
    );

    let mut bad = wanted.clone();
    bad.baseline = Some("camera-9.9.9.img".into());
    assert_eq!(
        put_profile(&server, &bad).await.status(),
        StatusCode::NOT_FOUND
    );

    let response = server
        .admin(Method::PUT, &format!("{}/doorbell", paths::ADMIN_CLASSES))
        .json(&wanted)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "path and body disagree"
    );

    let response = server
        .admin(Method::GET, &format!("{}/doorbell", paths::ADMIN_CLASSES))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Unchanged by the rejected requests.
    let answer = assigned(&server, &token, "cam-1", "0.9.0").await;
    assert_eq!(assigned_name(&answer), Some(v1.name.as_str()));
    server.shutdown().await;
}

#[tokio::test]
async fn fleet_facts_carry_profiles_and_each_class_latest_rollout() {
    use update_server::status::FleetFacts;
    use update_server::store::{DeviceIdentity, Store};

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("server.db")).await.unwrap();
    for n in 0..10 {
        let device = DeviceIdentity {
            device_id: format!("door-{n}"),
            class: "doorbell".into(),
        };
        let key = update_core::device_auth::DeviceKey::generate().public_key_hex();
        store.enroll_devices(&[(device, key)]).await.unwrap();
    }
    let wanted = ClassProfile {
        class: "doorbell".into(),
        max_concurrent_installs: Some(2),
        ..ClassProfile::default()
    };
    store.put_profile(&wanted).await.unwrap();
    let now = chrono::Utc::now();
    let status = RolloutStatus {
        id: "r-00000000abcd".into(),
        spec: RolloutSpec {
            class: "doorbell".into(),
            target_name: "doorbell-2.0.0.img".into(),
            waves: vec![20, 100],
            soak_secs: 3600,
            max_failure_rate: 0.1,
            min_finished: 5,
            halt_confidence: None,
        },
        version: "2.0.0".parse().unwrap(),
        state: RolloutState::Running,
        wave: 0,
        wave_opened_at: now,
        created_at: now,
        reason: None,
        waves: Vec::new(),
    };
    store.insert_rollout(&status).await.unwrap();

    let facts = FleetFacts::load(&store).await.unwrap();
    assert_eq!(facts.profiles.get("doorbell"), Some(&wanted));
    let rollout = facts.rollout("doorbell").unwrap();
    assert_eq!(rollout.state, RolloutState::Running);
    assert_eq!(rollout.waves.len(), 2);
    assert_eq!(rollout.waves.iter().map(|w| w.devices).sum::<u64>(), 10);
    assert!(facts.classes().contains("doorbell"));
}
