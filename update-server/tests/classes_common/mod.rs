//! Helpers of the class profile and rollout tests: a camera profile, profile upload and
//! check-ins of a camera device.

#![allow(dead_code)] // each test file uses a different part of the helpers

use reqwest::{Method, StatusCode};
use update_core::api::{CheckInResponse, paths};
use update_core::classes::{ApprovedPaths, ClassProfile};

use super::common::{Image, TestDevice, TestServer, check_in};

pub fn profile(baseline: &Image) -> ClassProfile {
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

pub async fn put_profile(server: &TestServer, profile: &ClassProfile) -> reqwest::Response {
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

pub async fn assigned(
    server: &TestServer,
    token: &TestDevice,
    device: &str,
    running: &str,
) -> CheckInResponse {
    let body = check_in(device, "camera", "cam-v2", running);
    let response = server.device_post(token, paths::CHECKIN, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

pub fn assigned_name(response: &CheckInResponse) -> Option<&str> {
    response.assignment.as_ref().map(|a| a.target_name.as_str())
}
