//! Device identity over real HTTP: requests signed by device keys, replay refusal with
//! the sequence floor, revocation, operator and self-enrolment.

mod common;

use common::{TestDevice, TestServer, check_in};
use reqwest::{Method, StatusCode};
use update_core::api::{
    DeviceEnrollment, EnrollmentSecret, ErrorBody, Report, SelfEnrollment, UpdateEvent, paths,
};
use update_core::device_auth::{DeviceKey, SEQUENCE_FLOOR, sign_request};

fn success_report(device_id: &str) -> Report {
    Report {
        device_id: device_id.into(),
        target_name: "camera-2.0.0.img".into(),
        version: "2.0.0".parse().unwrap(),
        from_version: "1.0.0".parse().unwrap(),
        event: UpdateEvent::Success,
        reason: None,
        bytes_downloaded: 0,
        payload: None,
    }
}

/// A device whose key is not the one enrolled under its id (a relay, a thief).
fn impostor(device_id: &str) -> TestDevice {
    TestDevice::new(device_id)
}

async fn error_of(response: reqwest::Response) -> String {
    response.json::<ErrorBody>().await.unwrap().error
}

#[tokio::test]
async fn a_device_acts_only_as_itself_and_nobody_forges_its_reports() {
    let server = TestServer::start().await;
    let dev_a = server.enroll("dev-a", "camera").await;
    server.enroll("dev-b", "camera").await;

    // dev-a's own key under dev-b's id: the signature does not verify.
    let a_key = DeviceKey::from_pkcs8_pem(&dev_a.key.to_pkcs8_pem().unwrap()).unwrap();
    let a_as_b = TestDevice::with_key("dev-b", a_key);
    let body = check_in("dev-b", "camera", "cam-v2", "1.0.0");
    let response = server.device_post(&a_as_b, paths::CHECKIN, &body).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(response).await, "signature invalid");
    // Signed by dev-a but speaking for dev-b: 403.
    let response = server.device_post(&dev_a, paths::CHECKIN, &body).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = server
        .device_post(&dev_a, paths::REPORT, &success_report("dev-b"))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // A relay without dev-a's key forges a success: with its own key, without a
    // signature, or with dev-a's signature over a different body.
    let forged = success_report("dev-a");
    let response = server
        .device_post(&impostor("dev-a"), paths::REPORT, &forged)
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let unsigned = server.http.post(server.url(paths::REPORT)).json(&forged);
    assert_eq!(
        unsigned.send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let genuine = serde_json::to_vec(&check_in("dev-a", "camera", "cam-v2", "1.0.0")).unwrap();
    let mut swapped = server.http.post(server.url(paths::REPORT));
    for (name, value) in dev_a.sign(paths::REPORT, &genuine).pairs() {
        swapped = swapped.header(name, value);
    }
    let response = swapped.json(&forged).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // An unknown device id.
    let response = server
        .device_post(
            &impostor("dev-z"),
            paths::CHECKIN,
            &check_in("dev-z", "camera", "cam-v2", "1.0.0"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(response).await, "unknown key");
    server.shutdown().await;
}

#[tokio::test]
async fn a_replayed_check_in_is_refused_with_the_sequence_floor() {
    let server = TestServer::start().await;
    let device = server.enroll("dev-1", "camera").await;
    let body = serde_json::to_vec(&check_in("dev-1", "camera", "cam-v2", "1.0.0")).unwrap();
    let sequence = 1_000_000;
    let headers = sign_request(
        &device.key,
        "dev-1",
        sequence,
        "POST",
        paths::CHECKIN,
        &body,
    );
    let send = || {
        let mut request = server.http.post(server.url(paths::CHECKIN));
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        request.body(body.clone()).send()
    };
    assert_eq!(send().await.unwrap().status(), StatusCode::OK);
    let replay = send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    let floor = replay
        .headers()
        .get(SEQUENCE_FLOOR)
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(floor, sequence.to_string());
    // A lower sequence is stale too; the next one up is accepted.
    let lower = sign_request(
        &device.key,
        "dev-1",
        sequence - 1,
        "POST",
        paths::CHECKIN,
        &body,
    );
    let mut request = server.http.post(server.url(paths::CHECKIN));
    for (name, value) in lower.pairs() {
        request = request.header(name, value);
    }
    let response = request.body(body.clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key(SEQUENCE_FLOOR));
    let next = sign_request(
        &device.key,
        "dev-1",
        sequence + 1,
        "POST",
        paths::CHECKIN,
        &body,
    );
    let mut request = server.http.post(server.url(paths::CHECKIN));
    for (name, value) in next.pairs() {
        request = request.header(name, value);
    }
    assert_eq!(
        request.body(body).send().await.unwrap().status(),
        StatusCode::OK
    );
    server.shutdown().await;
}

#[tokio::test]
async fn revocation_takes_effect_at_the_next_request_and_only_a_new_key_returns() {
    let server = TestServer::start().await;
    let device = server.enroll("dev-1", "camera").await;
    let body = check_in("dev-1", "camera", "cam-v2", "1.0.0");
    let response = server.device_post(&device, paths::CHECKIN, &body).await;
    assert_eq!(response.status(), StatusCode::OK);

    let revoke = format!("{}/dev-1/{}", paths::ADMIN_DEVICES, paths::REVOKE);
    let response = server.admin(Method::POST, &revoke).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = server.device_post(&device, paths::CHECKIN, &body).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(!response.headers().contains_key(SEQUENCE_FLOOR));
    let unknown = format!("{}/dev-9/{}", paths::ADMIN_DEVICES, paths::REVOKE);
    let response = server.admin(Method::POST, &unknown).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let enrol = |public_key: String| {
        server
            .admin(Method::POST, paths::ADMIN_DEVICES)
            .json(&DeviceEnrollment {
                device_id: "dev-1".into(),
                class: "camera".into(),
                public_key,
            })
            .send()
    };
    // The revoked key never comes back; a new key replaces it.
    let response = enrol(device.key.public_key_hex()).await.unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let replacement = TestDevice::new("dev-1");
    let response = enrol(replacement.key.public_key_hex()).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = enrol(replacement.key.public_key_hex()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = enrol(TestDevice::new("dev-1").key.public_key_hex())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let response = server
        .device_post(&replacement, paths::CHECKIN, &body)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = server.device_post(&device, paths::CHECKIN, &body).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = enrol("not-hex".into()).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

/// A self-enrolment of `device_id` with `public_key` in the body, signed by `signer`.
fn self_enrolment(
    server: &TestServer,
    secret: &str,
    signer: &TestDevice,
    public_key: &str,
) -> reqwest::RequestBuilder {
    let body = SelfEnrollment {
        device_id: signer.id.clone(),
        class: "camera".into(),
        hardware_id: "cam-v2".into(),
        public_key: public_key.into(),
    };
    server
        .signed_post(signer, paths::ENROLL, &body)
        .bearer_auth(secret)
}

#[tokio::test]
async fn self_enrolment_needs_the_class_secret_and_the_key_it_registers() {
    let server = TestServer::start().await;
    let path = format!(
        "{}/camera/{}",
        paths::ADMIN_CLASSES,
        paths::ENROLLMENT_SECRET
    );
    let response = server.admin(Method::PUT, &path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let old: EnrollmentSecret = response.json().await.unwrap();
    let response = server.admin(Method::PUT, &path).send().await.unwrap();
    let secret: EnrollmentSecret = response.json().await.unwrap();
    assert_ne!(old.secret, secret.secret);

    let device = TestDevice::new("cam-7");
    let public_key = device.key.public_key_hex();
    // The replaced secret, a made-up one, and none at all.
    for wrong in [old.secret.as_str(), &"ab".repeat(32)] {
        let response = self_enrolment(&server, wrong, &device, &public_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{wrong}");
    }
    let body = serde_json::json!({"device_id": "cam-7", "class": "camera",
        "hardware_id": "cam-v2", "public_key": public_key});
    let response = server
        .signed_post(&device, paths::ENROLL, &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Proof of possession: signed by another key than the one registered.
    let other = TestDevice::new("cam-7");
    let response = self_enrolment(&server, &secret.secret, &other, &public_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = self_enrolment(&server, &secret.secret, &device, &public_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let enrolled: DeviceEnrollment = response.json().await.unwrap();
    assert_eq!(enrolled.public_key, public_key);
    let response = self_enrolment(&server, &secret.secret, &device, &public_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Taking over the id with another key.
    let takeover = other.key.public_key_hex();
    let response = self_enrolment(&server, &secret.secret, &other, &takeover)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);

    let check = check_in("cam-7", "camera", "cam-v2", "1.0.0");
    let response = server.device_post(&device, paths::CHECKIN, &check).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = server.device_post(&other, paths::CHECKIN, &check).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    server.shutdown().await;
}
