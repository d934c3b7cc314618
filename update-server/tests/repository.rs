//! The published TUF repository: what a client fetches verifies, targets support Range,
//! online metadata is re-signed before it expires, and the online keys must be in root.

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::{Image, Keys, TestServer, write_config};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use update_core::layout::{consistent_target_path, url_path, versioned_metadata_name};
use update_core::schema::{SignedEnvelope, Timestamp};
use update_core::trust::TrustedMetadata;
use update_server::{Server, StartError};

/// A full client refresh over HTTP (TUF specification section 5), as a device does it.
async fn refresh(server: &TestServer) -> TrustedMetadata {
    let first = server.get_bytes("/metadata/1.root.json").await.unwrap();
    let mut trusted = TrustedMetadata::new(&first, Utc::now()).unwrap();
    let mut version = 1;
    while let Some(next) = server
        .get_bytes(&format!(
            "/metadata/{}",
            versioned_metadata_name(version + 1, "root")
        ))
        .await
    {
        trusted.update_root(&next).unwrap();
        version += 1;
    }
    let timestamp = server.get_bytes("/metadata/timestamp.json").await.unwrap();
    trusted.update_timestamp(&timestamp).unwrap();
    let snapshot_version = trusted
        .timestamp()
        .unwrap()
        .snapshot_meta()
        .unwrap()
        .version;
    let snapshot = server
        .get_bytes(&format!(
            "/metadata/{}",
            versioned_metadata_name(snapshot_version, "snapshot")
        ))
        .await
        .unwrap();
    trusted.update_snapshot(&snapshot, false).unwrap();
    let targets_version = trusted
        .snapshot()
        .unwrap()
        .role_meta("targets")
        .unwrap()
        .version;
    let targets = server
        .get_bytes(&format!(
            "/metadata/{}",
            versioned_metadata_name(targets_version, "targets")
        ))
        .await
        .unwrap();
    trusted.update_targets(&targets).unwrap();
    trusted
}

fn target_url(image: &Image) -> String {
    format!(
        "/targets/{}",
        url_path(&consistent_target_path(&image.name, &image.sha256()))
    )
}

#[tokio::test]
async fn a_published_repository_passes_a_full_client_refresh() {
    let server = TestServer::start().await;
    assert_eq!(
        server.get("/metadata/timestamp.json").await.status(),
        StatusCode::NOT_FOUND
    );
    let image = Image::new("camera", "1.0.0", &["cam-v2"], 70_000);
    server.publish(1, &[&image]).await;

    let trusted = refresh(&server).await;
    let target = &trusted.targets().unwrap().targets[&image.name];
    assert_eq!(target.sha256(), Some(image.sha256().as_str()));

    let response = server.get(&target_url(&image)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/octet-stream");
    assert!(
        response.headers()[CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(response.bytes().await.unwrap(), image.bytes);

    let response = server.get("/metadata/timestamp.json").await;
    assert_eq!(response.headers()[CACHE_CONTROL], "no-cache");
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let response = server.get("/metadata/1.snapshot.json").await;
    assert!(
        response.headers()[CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    for missing in [
        "/metadata/9.targets.json",
        "/metadata/1.timestamp.json",
        "/metadata/x.json",
    ] {
        assert_eq!(
            server.get(missing).await.status(),
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn targets_are_served_with_range_requests_and_only_as_published() {
    let server = TestServer::start().await;
    let image = Image::new("camera", "1.0.0", &["cam-v2"], 100_000);
    server.publish(1, &[&image]).await;

    let response = server
        .http
        .get(server.url(&target_url(&image)))
        .header(RANGE, "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.headers()[CONTENT_RANGE], "bytes 1000-1999/100000");
    assert_eq!(response.bytes().await.unwrap(), image.bytes[1000..2000]);

    let response = server
        .http
        .get(server.url(&target_url(&image)))
        .header(RANGE, "bytes=200000-")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // An uploaded image that no targets version lists is not served, nor a wrong name.
    let unlisted = Image::new("camera", "2.0.0", &["cam-v2"], 1000);
    assert_eq!(
        server.upload_image(&unlisted).await.status(),
        StatusCode::CREATED
    );
    let renamed = format!("/targets/{}.other.img", image.sha256());
    for path in [
        target_url(&unlisted),
        renamed,
        "/targets/fw.img".to_string(),
    ] {
        assert_eq!(
            server.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn timestamp_is_re_signed_before_it_expires() {
    let server = TestServer::start_with(|config| {
        config.timestamp_lifetime = Duration::from_secs(6);
    })
    .await;
    let image = Image::new("camera", "1.0.0", &["cam-v2"], 1000);
    server.publish(1, &[&image]).await;
    let first = server.get_bytes("/metadata/timestamp.json").await.unwrap();
    let first: Timestamp = SignedEnvelope::from_slice(&first, "t")
        .unwrap()
        .parse_unverified()
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    let newer = loop {
        let bytes = server.get_bytes("/metadata/timestamp.json").await.unwrap();
        let timestamp: Timestamp = SignedEnvelope::from_slice(&bytes, "t")
            .unwrap()
            .parse_unverified()
            .unwrap();
        if timestamp.version > first.version {
            break timestamp;
        }
        assert!(Instant::now() < deadline, "timestamp was never re-signed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(newer.snapshot_meta(), first.snapshot_meta());
    assert!(newer.expires > Utc::now());
    // Still a valid timestamp for a client, signed and unexpired.
    refresh(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn state_survives_a_restart_without_root() {
    let server = TestServer::start().await;
    let image = Image::new("camera", "1.0.0", &["cam-v2"], 1000);
    server.publish(1, &[&image]).await;
    let mut server = server.restart().await;
    server.config.root = None;
    let server = server.restart().await;
    refresh(&server).await;
    let next = Image::new("camera", "1.1.0", &["cam-v2"], 1000);
    server.publish(2, &[&image, &next]).await;
    let trusted = refresh(&server).await;
    assert_eq!(trusted.targets().unwrap().version, 2);
    server.shutdown().await;
}

#[tokio::test]
async fn server_refuses_to_start_with_an_online_key_not_in_root() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::generate();
    let mut config = write_config(dir.path(), &keys, &keys.root());
    let stranger = Keys::generate();
    let path = dir.path().join("stranger.pem");
    std::fs::write(&path, stranger.timestamp.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    config.timestamp_key = path;
    let error = Server::start(config.clone()).await.unwrap_err();
    assert!(matches!(error, StartError::Repository(_)), "{error}");
    assert!(error.to_string().contains("timestamp key"), "{error}");

    config.timestamp_key = dir.path().join("timestamp.pem");
    config.root = None;
    let fresh = tempfile::tempdir().unwrap();
    config.data_dir = fresh.path().join("data");
    let error = Server::start(config).await.unwrap_err();
    assert!(error.to_string().contains("--root"), "{error}");
}
