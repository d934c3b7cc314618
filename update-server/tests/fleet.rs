//! The device API and what the fleet looks like afterwards: check-in identity rules,
//! assignments, reports, status and metrics.

mod common;

use common::{Image, TestDevice, TestServer, check_in, metric};
use reqwest::{Method, StatusCode};
use update_core::api::{ApprovedRelease, CheckInResponse, FleetStatus, Report, UpdateEvent, paths};

fn report(device_id: &str, image: &Image, from: &str, event: UpdateEvent) -> Report {
    Report {
        device_id: device_id.into(),
        target_name: image.name.clone(),
        version: image.version.clone(),
        from_version: from.parse().unwrap(),
        event,
        reason: (event == UpdateEvent::RolledBack).then(|| "health check failed".into()),
        bytes_downloaded: image.bytes.len() as u64,
        payload: None,
    }
}

async fn assignment_of(
    server: &TestServer,
    token: &TestDevice,
    device: &str,
    hardware: &str,
) -> CheckInResponse {
    let response = server
        .device_post(
            token,
            paths::CHECKIN,
            &check_in(device, "camera", hardware, "1.0.0"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn device_credentials_act_only_for_their_own_device_and_class() {
    let server = TestServer::start().await;
    let token_a = server.enroll("dev-a", "camera").await;
    server.enroll("dev-b", "camera").await;

    let as_b = check_in("dev-b", "camera", "cam-v2", "1.0.0");
    let response = server.device_post(&token_a, paths::CHECKIN, &as_b).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let other_class = check_in("dev-a", "doorbell", "cam-v2", "1.0.0");
    let response = server
        .device_post(&token_a, paths::CHECKIN, &other_class)
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let error: update_core::api::ErrorBody = response.json().await.unwrap();
    assert!(error.error.contains("camera"), "{}", error.error);

    let image = Image::new("camera", "1.0.0", &["cam-v2"], 100);
    let response = server
        .device_post(
            &token_a,
            paths::REPORT,
            &report("dev-b", &image, "0.9.0", UpdateEvent::Downloading),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let response = server
        .http
        .post(server.url(paths::CHECKIN))
        .bearer_auth(&server.admin_token)
        .json(&as_b)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = server
        .admin(Method::POST, paths::ADMIN_DEVICES)
        .json(&update_core::api::DeviceEnrollment {
            device_id: "dev-a".into(),
            class: "camera".into(),
            public_key: TestDevice::new("dev-a").key.public_key_hex(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    server.shutdown().await;
}

#[tokio::test]
async fn check_in_assigns_the_approved_release_to_listed_hardware_only() {
    let server = TestServer::start().await;
    let token = server.enroll("dev-1", "camera").await;
    let response = assignment_of(&server, &token, "dev-1", "cam-v2").await;
    assert_eq!(response.assignment, None);
    assert_eq!(response.poll_interval_secs, 42);

    let old = Image::new("camera", "1.2.0", &["cam-v2"], 100);
    let new = Image::new("camera", "1.10.0", &["cam-v2", "cam-v3"], 100);
    let doorbell = Image::new("doorbell", "5.0.0", &["cam-v2"], 100);
    server.publish(1, &[&old, &new, &doorbell]).await;

    let response = assignment_of(&server, &token, "dev-1", "cam-v2").await;
    let assignment = response.assignment.unwrap();
    assert_eq!(
        (
            assignment.target_name.as_str(),
            assignment.version.to_string().as_str()
        ),
        (new.name.as_str(), "1.10.0")
    );
    assert_eq!(
        assignment_of(&server, &token, "dev-1", "cam-v9")
            .await
            .assignment,
        None
    );

    // A pin holds the class back; pinning another class's release is refused.
    let approve = |target: &str| {
        server
            .admin(
                Method::PUT,
                &format!("{}/camera/approved", paths::ADMIN_CLASSES),
            )
            .json(&ApprovedRelease {
                target_name: target.into(),
            })
            .send()
    };
    assert_eq!(approve(&old.name).await.unwrap().status(), StatusCode::OK);
    let response = assignment_of(&server, &token, "dev-1", "cam-v2").await;
    assert_eq!(response.assignment.unwrap().target_name, old.name);
    assert_eq!(
        approve(&doorbell.name).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        approve("nope.img").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    server.shutdown().await;
}

#[tokio::test]
async fn reports_show_in_metrics_and_status_and_are_idempotent() {
    let server = TestServer::start().await;
    let release = Image::new("camera", "1.1.0", &["cam-v2"], 1000);
    server.publish(1, &[&release]).await;
    let mut tokens = Vec::new();
    for device in ["dev-1", "dev-2", "dev-3"] {
        let token = server.enroll(device, "camera").await;
        assignment_of(&server, &token, device, "cam-v2").await;
        tokens.push(token);
    }
    let events = [
        (0, UpdateEvent::Downloading),
        (0, UpdateEvent::Downloading), // a retried report counts once
        (0, UpdateEvent::Installed),
        (0, UpdateEvent::Success),
        (0, UpdateEvent::Success),
        (1, UpdateEvent::Downloading),
        (1, UpdateEvent::RolledBack),
    ];
    for (index, event) in events {
        let device = format!("dev-{}", index + 1);
        let response = server
            .device_post(
                &tokens[index],
                paths::REPORT,
                &report(&device, &release, "1.0.0", event),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "{device} {event}"
        );
    }
    let mut unknown = report("dev-3", &release, "1.0.0", UpdateEvent::Downloading);
    unknown.target_name = "unknown.img".into();
    let response = server
        .device_post(&tokens[2], paths::REPORT, &unknown)
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let response = server.get(paths::METRICS).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let release_labels = [("class", "camera"), ("release", "1.1.0")];
    assert_eq!(
        metric(&text, "ota_update_attempts_total", &release_labels),
        Some(2.0),
        "{text}"
    );
    let outcome = |name| [("class", "camera"), ("release", "1.1.0"), ("outcome", name)];
    assert_eq!(
        metric(&text, "ota_update_outcomes_total", &outcome("success")),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, "ota_update_outcomes_total", &outcome("rolled_back")),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, "ota_update_outcomes_total", &outcome("failure")),
        None
    );
    assert_eq!(
        metric(&text, "ota_update_success_ratio", &[("class", "camera")]),
        Some(0.5)
    );
    let version = |v| [("class", "camera"), ("version", v)];
    assert_eq!(metric(&text, "ota_devices", &version("1.1.0")), Some(1.0));
    assert_eq!(metric(&text, "ota_devices", &version("1.0.0")), Some(2.0));
    assert_eq!(
        metric(&text, "ota_class_devices", &[("class", "camera")]),
        Some(3.0)
    );
    assert_eq!(
        metric(&text, "ota_devices_on_baseline", &[("class", "camera")]),
        Some(1.0)
    );
    assert!(text.contains("# HELP ota_update_attempts"), "{text}");
    assert!(
        text.contains("# TYPE ota_update_attempts counter"),
        "{text}"
    );
    assert!(text.contains("# TYPE ota_devices gauge"), "{text}");

    let response = server
        .admin(Method::GET, paths::ADMIN_STATUS)
        .send()
        .await
        .unwrap();
    let status: FleetStatus = response.json().await.unwrap();
    let camera = &status.classes[0];
    assert_eq!(
        (camera.class.as_str(), camera.devices, camera.on_approved),
        ("camera", 3, 1)
    );
    assert_eq!(camera.approved.as_ref().unwrap().target_name, release.name);
    assert_eq!(
        (status.outcomes.success, status.outcomes.rolled_back),
        (1, 1)
    );
    let dev2 = status
        .devices
        .iter()
        .find(|d| d.device_id == "dev-2")
        .unwrap();
    assert_eq!(dev2.last_event, Some(UpdateEvent::RolledBack));
    assert_eq!(dev2.last_reason.as_deref(), Some("health check failed"));

    // Metrics come from the database: a restarted server shows the same values.
    let server = server.restart().await;
    let text = server.get(paths::METRICS).await.text().await.unwrap();
    assert_eq!(
        metric(&text, "ota_update_attempts_total", &release_labels),
        Some(2.0)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_device_with_an_untrusted_clock_shows_in_status_and_metrics() {
    let server = TestServer::start().await;
    let token = server.enroll("dev-rtc-less", "camera").await;
    let mut body = check_in("dev-rtc-less", "camera", "cam-v2", "1.0.0");
    body.clock_untrusted = true;
    let response = server.device_post(&token, paths::CHECKIN, &body).await;
    assert_eq!(response.status(), StatusCode::OK);

    let text = server.get(paths::METRICS).await.text().await.unwrap();
    assert_eq!(
        metric(&text, "ota_devices_clock_untrusted", &[("class", "camera")]),
        Some(1.0)
    );
    let status: FleetStatus = server.admin_get(paths::ADMIN_STATUS).await;
    assert!(status.devices[0].clock_untrusted);

    // The next check-in with a good clock clears it.
    body.clock_untrusted = false;
    server.device_post(&token, paths::CHECKIN, &body).await;
    let text = server.get(paths::METRICS).await.text().await.unwrap();
    assert_eq!(
        metric(&text, "ota_devices_clock_untrusted", &[("class", "camera")]),
        Some(0.0)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_operator_retry_is_offered_once_until_the_device_starts_again() {
    let server = TestServer::start().await;
    let release = Image::new("camera", "1.1.0", &["cam-v2"], 1000);
    server.publish(1, &[&release]).await;
    let token = server.enroll("dev-1", "camera").await;
    assert!(
        !assignment_of(&server, &token, "dev-1", "cam-v2")
            .await
            .assignment
            .unwrap()
            .retry
    );

    let path = format!("{}/dev-1/{}", paths::ADMIN_DEVICES, paths::RETRY);
    let response = server.admin(Method::POST, &path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        assignment_of(&server, &token, "dev-1", "cam-v2")
            .await
            .assignment
            .unwrap()
            .retry
    );

    let started = report("dev-1", &release, "1.0.0", UpdateEvent::Downloading);
    server.device_post(&token, paths::REPORT, &started).await;
    assert!(
        !assignment_of(&server, &token, "dev-1", "cam-v2")
            .await
            .assignment
            .unwrap()
            .retry
    );

    let unknown = format!("{}/nobody/{}", paths::ADMIN_DEVICES, paths::RETRY);
    let response = server.admin(Method::POST, &unknown).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    server.shutdown().await;
}
