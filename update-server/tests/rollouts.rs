//! Class profiles and staged rollouts over HTTP: profile round trip and validation,
//! wave assignment, pause and resume, a self-halting rollout, and its state across a
//! server restart.

mod common;

use common::{Image, TestServer, check_in};
use reqwest::{Method, StatusCode};
use update_core::api::{CheckInResponse, ErrorBody, Report, UpdateEvent, paths};
use update_core::classes::{
    ApprovedPaths, ClassProfile, MaintenanceWindow, RolloutSpec, RolloutState, RolloutStatus,
};
use update_server::rollout::bucket::bucket;

fn profile(baseline: &Image) -> ClassProfile {
    ClassProfile {
        class: "camera".into(),
        hardware: vec!["cam-v2".into()],
        baseline: Some(baseline.name.clone()),
        poll_interval_secs: Some(300),
        approved_paths: ApprovedPaths {
            networks: vec!["10.0.0.0/8".into(), "127.0.0.2/32".into()],
            relays: vec!["relay-1".into()],
        },
        maintenance_window: None,
        max_concurrent_installs: Some(100),
        success_threshold: Some(0.95),
    }
}

async fn put_profile(server: &TestServer, profile: &ClassProfile) -> reqwest::Response {
    server
        .admin(
            Method::PUT,
            &format!("{}/{}", paths::ADMIN_CLASSES, profile.class),
        )
        .json(profile)
        .send()
        .await
        .unwrap()
}

async fn assigned(
    server: &TestServer,
    token: &str,
    device: &str,
    running: &str,
) -> CheckInResponse {
    let body = check_in(device, "camera", "cam-v2", running);
    let response = server.device_post(token, paths::CHECKIN, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn assigned_name(response: &CheckInResponse) -> Option<&str> {
    response.assignment.as_ref().map(|a| a.target_name.as_str())
}

async fn rollout(server: &TestServer, id: &str, action: Option<&str>) -> RolloutStatus {
    let response = match action {
        Some(action) => server.admin(
            Method::POST,
            &format!("{}/{id}/{action}", paths::ADMIN_ROLLOUTS),
        ),
        None => server.admin(Method::GET, &format!("{}/{id}", paths::ADMIN_ROLLOUTS)),
    }
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{action:?}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn profiles_round_trip_and_bad_input_is_rejected() {
    let server = TestServer::start().await;
    let v1 = Image::new("camera", "1.0.0", &["cam-v2"], 64);
    let v2 = Image::new("camera", "2.0.0", &["cam-v2"], 64);
    server.publish(1, &[&v1, &v2]).await;
    let token = server.enroll("cam-1", "camera").await;

    let wanted = profile(&v1);
    let response = put_profile(&server, &wanted).await;
    assert_eq!(response.status(), StatusCode::OK);
    let stored: ClassProfile = server
        .admin(Method::GET, &format!("{}/camera", paths::ADMIN_CLASSES))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored, wanted);
    let all: Vec<ClassProfile> = server
        .admin(Method::GET, paths::ADMIN_CLASSES)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
async fn a_rollout_assigns_by_wave_halts_on_failures_and_survives_a_restart() {
    let server = TestServer::start().await;
    let v1 = Image::new("camera", "1.0.0", &["cam-v2"], 64);
    let v2 = Image::new("camera", "2.0.0", &["cam-v2"], 64);
    server.publish(1, &[&v1, &v2]).await;
    let mut tokens = Vec::new();
    for n in 0..40 {
        let id = format!("cam-{n:02}");
        let token = server.enroll(&id, "camera").await;
        tokens.push((id, token));
    }
    let spec = RolloutSpec {
        class: "camera".into(),
        target_name: v2.name.clone(),
        waves: vec![50, 100],
        soak_secs: 3600,
        max_failure_rate: 0.2,
        min_finished: 3,
    };
    let start = || {
        server
            .admin(Method::POST, paths::ADMIN_ROLLOUTS)
            .json(&spec)
            .send()
    };
    // Without a baseline every device's baseline would be the newest release: refused.
    assert_eq!(start().await.unwrap().status(), StatusCode::CONFLICT);
    assert_eq!(
        put_profile(&server, &profile(&v1)).await.status(),
        StatusCode::OK
    );
    let response = start().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let started: RolloutStatus = response.json().await.unwrap();
    assert_eq!(started.state, RolloutState::Running);
    assert_eq!(started.waves.iter().map(|w| w.devices).sum::<u64>(), 40);
    assert_eq!(
        start().await.unwrap().status(),
        StatusCode::CONFLICT,
        "one at a time"
    );

    let (first_wave, later): (Vec<_>, Vec<_>) = tokens
        .iter()
        .partition(|(id, _)| bucket(&started.id, id) < 50);
    assert!(
        first_wave.len() >= 4,
        "{} devices in wave 1",
        first_wave.len()
    );
    assert_eq!(started.waves[0].devices, first_wave.len() as u64);
    for (id, token) in &first_wave {
        let answer = assigned(&server, token, id, "1.0.0").await;
        assert_eq!(assigned_name(&answer), Some(v2.name.as_str()), "{id}");
    }
    for (id, token) in &later {
        let answer = assigned(&server, token, id, "0.9.0").await;
        assert_eq!(assigned_name(&answer), Some(v1.name.as_str()), "{id}");
    }

    // Paused: a device of the open wave that has not started gets the baseline.
    let (fresh_id, fresh_token) = &first_wave[first_wave.len() - 1];
    assert_eq!(
        rollout(&server, &started.id, Some("pause")).await.state,
        RolloutState::Paused
    );
    let answer = assigned(&server, fresh_token, fresh_id, "1.0.0").await;
    assert_eq!(assigned_name(&answer), Some(v1.name.as_str()));
    assert_eq!(
        rollout(&server, &started.id, Some("resume")).await.state,
        RolloutState::Running
    );

    let fail = |device_id: &str| Report {
        device_id: device_id.into(),
        target_name: v2.name.clone(),
        version: v2.version.clone(),
        from_version: v1.version.clone(),
        event: UpdateEvent::RolledBack,
        reason: Some("health check failed".into()),
        bytes_downloaded: 64,
        payload: None,
    };
    let (id, token) = &first_wave[0];
    let response = server.device_post(token, paths::REPORT, &fail(id)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let status = rollout(&server, &started.id, None).await;
    assert_eq!(
        status.state,
        RolloutState::Running,
        "1 of 1 is below min_finished"
    );
    for (id, token) in &first_wave[1..3] {
        let response = server.device_post(token, paths::REPORT, &fail(id)).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    let halted = rollout(&server, &started.id, None).await;
    assert_eq!(halted.state, RolloutState::Halted);
    let reason = halted.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("wave 1") && reason.contains("3 of 3"),
        "{reason}"
    );
    assert_eq!(halted.waves[0].rolled_back, 3);

    // Halted: nobody new gets the release; the baseline stayed where it was.
    let answer = assigned(&server, fresh_token, fresh_id, "1.0.0").await;
    assert_eq!(assigned_name(&answer), Some(v1.name.as_str()));

    let server = server.restart().await;
    let after = rollout(&server, &started.id, None).await;
    assert_eq!(after.state, RolloutState::Halted);
    assert_eq!(after.reason, halted.reason);
    assert_eq!(after.waves, halted.waves);
    let answer = assigned(&server, fresh_token, fresh_id, "1.0.0").await;
    assert_eq!(assigned_name(&answer), Some(v1.name.as_str()));

    let listed: Vec<RolloutStatus> = server
        .admin(
            Method::GET,
            &format!("{}?class=camera", paths::ADMIN_ROLLOUTS),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let response = server
        .admin(
            Method::POST,
            &format!("{}/{}/resume", paths::ADMIN_ROLLOUTS, started.id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CONFLICT,
        "a halt is not resumed"
    );
    assert_eq!(
        rollout(&server, &started.id, Some("abort")).await.state,
        RolloutState::Aborted
    );
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
        store
            .enroll_device(&device, &format!("{n:064}"))
            .await
            .unwrap();
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

#[tokio::test]
async fn a_rollout_without_soak_completes_and_moves_the_baseline() {
    let server = TestServer::start().await;
    let v1 = Image::new("camera", "1.0.0", &["cam-v2"], 64);
    let v2 = Image::new("camera", "2.0.0", &["cam-v2"], 64);
    server.publish(1, &[&v1, &v2]).await;
    let token = server.enroll("cam-1", "camera").await;
    assert_eq!(
        put_profile(&server, &profile(&v1)).await.status(),
        StatusCode::OK
    );
    let spec = RolloutSpec {
        class: "camera".into(),
        target_name: v2.name.clone(),
        waves: vec![10, 100],
        soak_secs: 0,
        max_failure_rate: 0.0,
        min_finished: 1,
    };
    let response = server
        .admin(Method::POST, paths::ADMIN_ROLLOUTS)
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let status: RolloutStatus = response.json().await.unwrap();
    // No soak and no failures: every wave opens at once and the rollout completes.
    assert_eq!(status.state, RolloutState::Completed);
    assert_eq!(status.wave, 1);
    let stored: ClassProfile = server
        .admin(Method::GET, &format!("{}/camera", paths::ADMIN_CLASSES))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored.baseline.as_deref(), Some(v2.name.as_str()));
    let answer = assigned(&server, &token, "cam-1", "1.0.0").await;
    assert_eq!(assigned_name(&answer), Some(v2.name.as_str()));
    server.shutdown().await;
}
