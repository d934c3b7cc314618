//! Configuration drift and management paths over real HTTP: where a check-in came from
//! (directly or through a configured relay), and drift computed by the server from the
//! device's digests against the published profile.

mod common;

use std::net::IpAddr;

use chrono::Utc;
use common::{TestDevice, TestServer, check_in};
use reqwest::{Method, StatusCode};
use update_core::api::{ConfigState, DeviceStatus, FileDigest, FleetStatus, paths};
use update_core::config_profile::{ConfigProfile, ProfileFile, profile_target_name};
use update_core::hash::sha256_hex;
use update_core::schema::{TargetFile, Targets};
use update_core::sign::sign_metadata;
use update_server::relays::RelayConfig;

const SSHD: &str = "/etc/ssh/sshd_config";
const HOSTS: &str = "/etc/hosts";

fn digest(text: &str) -> String {
    sha256_hex(text.as_bytes())
}

/// Uploads and publishes profile version 3 of `camera` (two files) as targets version 1.
async fn publish_profile(server: &TestServer) {
    let profile = ConfigProfile {
        class: "camera".into(),
        version: 3,
        files: vec![
            ProfileFile {
                path: HOSTS.into(),
                sha256: digest("hosts"),
            },
            ProfileFile {
                path: SSHD.into(),
                sha256: digest("sshd"),
            },
        ],
    };
    let bytes = profile.to_bytes().unwrap();
    let sha256 = sha256_hex(&bytes);
    let uploaded = server
        .admin(Method::PUT, &format!("{}/{sha256}", paths::ADMIN_IMAGES))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let mut targets = Targets::new(1, Utc::now() + chrono::Duration::days(30));
    let custom = serde_json::json!({"config_profile": {"class": "camera", "version": 3}});
    targets.targets.insert(
        profile_target_name("camera", 3),
        TargetFile::new(bytes.len() as u64, sha256, Some(custom)),
    );
    let signed = sign_metadata(&targets, &[&server.keys.targets]).unwrap();
    let response = server.put_targets(signed.to_bytes().unwrap()).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );
}

fn config(hosts: Option<&str>, sshd: Option<&str>, claimed: &[&str]) -> ConfigState {
    ConfigState {
        profile: profile_target_name("camera", 3),
        version: 3,
        files: vec![
            FileDigest {
                path: HOSTS.into(),
                sha256: hosts.map(digest),
            },
            FileDigest {
                path: SSHD.into(),
                sha256: sshd.map(digest),
            },
        ],
        drifted: claimed.iter().map(|p| p.to_string()).collect(),
    }
}

async fn device_status(server: &TestServer, device_id: &str) -> DeviceStatus {
    let status: FleetStatus = server.admin_get(paths::ADMIN_STATUS).await;
    status
        .devices
        .into_iter()
        .find(|d| d.device_id == device_id)
        .unwrap()
}

/// Posts a check-in from the loopback source address `from`, with `forwarded` as
/// X-Forwarded-For if given.
async fn check_in_from(
    server: &TestServer,
    from: &str,
    forwarded: Option<&str>,
    device: &TestDevice,
    device_id: &str,
) -> StatusCode {
    let http = reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    let body = serde_json::to_vec(&check_in(device_id, "camera", "cam-v1", "1.0.0")).unwrap();
    let mut request = http.post(server.url(paths::CHECKIN));
    for (name, value) in device.sign(paths::CHECKIN, &body).pairs() {
        request = request.header(name, value);
    }
    let mut request = request.body(body);
    if let Some(forwarded) = forwarded {
        request = request.header("x-forwarded-for", forwarded);
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn the_source_address_is_the_peer_unless_a_relay_forwards_it() {
    let server = TestServer::start_with(|config| {
        config.relays = vec![RelayConfig {
            name: "site-gw-1".into(),
            addresses: vec!["127.0.0.5/32".into()],
        }];
    })
    .await;
    let token = server.enroll("cam-1", "camera").await;

    assert_eq!(
        check_in_from(&server, "127.0.0.1", None, &token, "cam-1").await,
        StatusCode::OK
    );
    let status = device_status(&server, "cam-1").await;
    assert_eq!(status.source_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(status.relay, None);

    let through_relay = check_in_from(&server, "127.0.0.5", Some("127.0.0.9"), &token, "cam-1");
    assert_eq!(through_relay.await, StatusCode::OK);
    let status = device_status(&server, "cam-1").await;
    assert_eq!(status.source_address.as_deref(), Some("127.0.0.9"));
    assert_eq!(status.relay.as_deref(), Some("site-gw-1"));

    // The same header from a peer that is no relay is ignored.
    let spoofed = check_in_from(&server, "127.0.0.7", Some("127.0.0.9"), &token, "cam-1");
    assert_eq!(spoofed.await, StatusCode::OK);
    let status = device_status(&server, "cam-1").await;
    assert_eq!(status.source_address.as_deref(), Some("127.0.0.7"));
    assert_eq!(status.relay, None);
    server.shutdown().await;
}

#[tokio::test]
async fn the_server_computes_drift_from_digests_and_ignores_the_devices_own_list() {
    let server = TestServer::start().await;
    publish_profile(&server).await;
    let token = server.enroll("cam-1", "camera").await;
    let mut body = check_in("cam-1", "camera", "cam-v1", "1.0.0");

    // Nothing reported while the class has a profile: config unknown, not drifted.
    let response = server.device_post(&token, paths::CHECKIN, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let status = device_status(&server, "cam-1").await;
    assert_eq!((status.config_version, status.config_drift), (None, None));

    body.config = Some(config(Some("hosts"), Some("sshd"), &[]));
    let response = server.device_post(&token, paths::CHECKIN, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let status = device_status(&server, "cam-1").await;
    assert_eq!(status.config_version, Some(3));
    assert_eq!(status.config_drift, Some(vec![]));

    // An edited sshd_config and a missing hosts file; the device claims no drift.
    body.config = Some(config(None, Some("sshd edited"), &[]));
    let response = server.device_post(&token, paths::CHECKIN, &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let status = device_status(&server, "cam-1").await;
    assert_eq!(
        status.config_drift,
        Some(vec![HOSTS.to_string(), SSHD.to_string()])
    );
    server.shutdown().await;
}

#[tokio::test]
async fn oversize_malformed_and_foreign_configs_are_refused() {
    let server = TestServer::start().await;
    publish_profile(&server).await;
    let token = server.enroll("cam-1", "camera").await;
    let mut body = check_in("cam-1", "camera", "cam-v1", "1.0.0");
    let mut refused = Vec::new();

    let mut oversize = config(Some("hosts"), Some("sshd"), &[]);
    oversize.files = (0..257)
        .map(|i| FileDigest {
            path: format!("/etc/f{i}"),
            sha256: None,
        })
        .collect();
    refused.push(("too many files", oversize));
    let mut bad_path = config(Some("hosts"), Some("sshd"), &[]);
    bad_path.files[0].path = "/etc/../shadow".into();
    refused.push(("dot-dot path", bad_path));
    let mut bad_digest = config(Some("hosts"), Some("sshd"), &[]);
    bad_digest.files[0].sha256 = Some("XYZ".into());
    refused.push(("bad digest", bad_digest));
    let mut other_class = config(Some("hosts"), Some("sshd"), &[]);
    other_class.profile = profile_target_name("router", 3);
    refused.push(("another class's profile", other_class));
    let mut unpublished = config(Some("hosts"), Some("sshd"), &[]);
    unpublished.version = 4;
    unpublished.profile = profile_target_name("camera", 4);
    refused.push(("unpublished version", unpublished));

    for (what, config) in refused {
        body.config = Some(config);
        let response = server.device_post(&token, paths::CHECKIN, &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        let error: update_core::api::ErrorBody = response.json().await.unwrap();
        assert!(error.error.contains("config"), "{what}: {}", error.error);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_profile_whose_file_names_another_class_is_not_published() {
    let server = TestServer::start().await;
    let profile = ConfigProfile {
        class: "router".into(),
        version: 3,
        files: vec![ProfileFile {
            path: SSHD.into(),
            sha256: digest("sshd"),
        }],
    };
    let bytes = profile.to_bytes().unwrap();
    let sha256 = sha256_hex(&bytes);
    let uploaded = server
        .admin(Method::PUT, &format!("{}/{sha256}", paths::ADMIN_IMAGES))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::CREATED);
    let mut targets = Targets::new(1, Utc::now() + chrono::Duration::days(30));
    let custom = serde_json::json!({"config_profile": {"class": "camera", "version": 3}});
    targets.targets.insert(
        profile_target_name("camera", 3),
        TargetFile::new(bytes.len() as u64, sha256, Some(custom)),
    );
    let signed = sign_metadata(&targets, &[&server.keys.targets]).unwrap();
    let response = server.put_targets(signed.to_bytes().unwrap()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: update_core::api::ErrorBody = response.json().await.unwrap();
    assert!(
        error.error.contains("another") || error.error.contains("router"),
        "{}",
        error.error
    );
    server.shutdown().await;
}
