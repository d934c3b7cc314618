//! Staged rollouts over HTTP: wave assignment, pause and resume, a self-halting rollout
//! and its state across a server restart, and completion moving the baseline.

mod classes_common;
mod common;

use classes_common::{assigned, assigned_name, profile, put_profile};
use common::{Image, TestServer};
use reqwest::{Method, StatusCode};
use update_core::api::{Report, UpdateEvent, paths};
use update_core::classes::{ClassProfile, RolloutSpec, RolloutState, RolloutStatus};
use update_server::rollout::bucket::bucket;

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
        halt_confidence: None,
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
        halt_confidence: None,
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
        .admin_get(&format!("{}/camera", paths::ADMIN_CLASSES))
        .await;
    assert_eq!(stored.baseline.as_deref(), Some(v2.name.as_str()));
    let answer = assigned(&server, &token, "cam-1", "1.0.0").await;
    assert_eq!(assigned_name(&answer), Some(v2.name.as_str()));
    server.shutdown().await;
}
