//! The TUF refresh and target download against a real HTTP server on 127.0.0.1.

mod support;

use std::sync::atomic::Ordering;

use support::{DeviceDir, DeviceOptions, ReleaseSpec, Repo, Served, image, start_server};
use update_client::Error;
use update_client::agent::updater_for;
use update_client::fetch::HttpClient;
use update_client::tuf::Updater;
use update_core::schema::{RoleType, SignedEnvelope, Timestamp};

fn repository(device: &DeviceDir) -> Updater {
    let config = device.config();
    updater_for(
        &HttpClient::new(config.server.timeout, &config.server.trust()).unwrap(),
        &config,
    )
    .unwrap()
}

fn stored_timestamp_version(device: &DeviceDir) -> u64 {
    let bytes = device.read("state/metadata/timestamp.json");
    let envelope = SignedEnvelope::from_slice(&bytes, "timestamp").unwrap();
    envelope.parse_unverified::<Timestamp>().unwrap().version
}

#[tokio::test]
async fn refresh_and_download_happy_path_reuses_stored_metadata() {
    let server = start_server().await;
    let mut repo = Repo::new();
    let release = ReleaseSpec::camera("1.1.0", image(300_000, 1));
    repo.publish(1, std::slice::from_ref(&release));
    server.state.serve_repo(&repo);
    let device = DeviceDir::new(&server.url, &repo.root_bytes(), DeviceOptions::default());
    let repository = repository(&device);

    let mut trusted = repository.refresh().await.unwrap().trusted;
    assert_eq!(trusted.targets().unwrap().version, 1);
    for file in ["timestamp.json", "snapshot.json", "targets.json"] {
        assert!(device.exists(&format!("state/metadata/{file}")), "{file}");
    }
    let target = repository
        .find_target(&mut trusted, &release.name)
        .await
        .unwrap()
        .unwrap();
    let target = &target;
    let url = repository
        .target_url(&trusted, &release.name, target)
        .unwrap();
    assert!(url.path().ends_with(&Repo::target_path(&release)));
    let mut received = Vec::new();
    let length = repository
        .download_target(&url, &release.name, target, |chunk| {
            received.extend_from_slice(chunk);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(length, 300_000);
    assert_eq!(received, release.image);

    server.state.requests.lock().unwrap().clear();
    let again = repository.refresh().await.unwrap().trusted;
    assert_eq!(again.targets().unwrap().version, 1);
    let requests = server.state.requests.lock().unwrap().clone();
    assert_eq!(
        requests,
        vec!["/metadata/2.root.json", "/metadata/timestamp.json"],
        "stored snapshot and targets are reused"
    );
}

#[tokio::test]
async fn metadata_signed_by_a_wrong_key_is_refused_and_storage_is_unchanged() {
    let server = start_server().await;
    let mut repo = Repo::new();
    repo.publish(1, &[ReleaseSpec::camera("1.1.0", image(1000, 2))]);
    server.state.serve_repo(&repo);
    let device = DeviceDir::new(&server.url, &repo.root_bytes(), DeviceOptions::default());
    let repository = repository(&device);
    repository.refresh().await.unwrap();
    let stored = device.read("state/metadata/timestamp.json");

    repo.timestamp_key = update_core::keys::SigningKey::generate();
    repo.publish(2, &[ReleaseSpec::camera("1.2.0", image(1000, 3))]);
    server.state.serve_repo(&repo);
    let err = repository.refresh().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Metadata(update_core::Error::ThresholdNotMet { .. })
        ),
        "{err}"
    );
    assert_eq!(device.read("state/metadata/timestamp.json"), stored);
    assert_eq!(stored_timestamp_version(&device), 1);
}

#[tokio::test]
async fn an_expired_timestamp_is_refused_and_not_stored() {
    let server = start_server().await;
    let mut repo = Repo::new();
    repo.timestamp_expires = repo.now - chrono::Duration::hours(1);
    repo.publish(1, &[ReleaseSpec::camera("1.1.0", image(1000, 4))]);
    server.state.serve_repo(&repo);
    let device = DeviceDir::new(&server.url, &repo.root_bytes(), DeviceOptions::default());
    let err = repository(&device).refresh().await.unwrap_err();
    assert!(
        matches!(err, Error::Metadata(update_core::Error::Expired { .. })),
        "{err}"
    );
    assert!(!device.exists("state/metadata/timestamp.json"));
}

#[tokio::test]
async fn root_rotation_is_followed_and_rotated_online_keys_reset_stored_metadata() {
    let server = start_server().await;
    let mut repo = Repo::new();
    repo.publish(1, &[ReleaseSpec::camera("1.1.0", image(1000, 5))]);
    server.state.serve_repo(&repo);
    let device = DeviceDir::new(&server.url, &repo.root_bytes(), DeviceOptions::default());
    let repository = repository(&device);
    repository.refresh().await.unwrap();

    // Version 2 of root replaces the snapshot key and the repository starts its versions
    // again at 1: a device that kept its old timestamp (same version, other snapshot
    // hash) would refuse the new snapshot.
    let new_key = update_core::keys::SigningKey::generate();
    repo.root.version = 2;
    repo.root.role_mut(RoleType::Snapshot).keyids.clear();
    repo.root
        .add_role_key(RoleType::Snapshot, new_key.public_key().clone())
        .unwrap();
    repo.files
        .insert("/metadata/2.root.json".into(), repo.root_bytes());
    repo.snapshot_key = new_key;
    repo.publish(1, &[ReleaseSpec::camera("1.1.0", image(1000, 55))]);
    server.state.serve_repo(&repo);

    let trusted = repository.refresh().await.unwrap().trusted;
    assert_eq!(trusted.root().version, 2);
    assert_eq!(device.read("state/metadata/root.json"), repo.root_bytes());
    assert_eq!(stored_timestamp_version(&device), 1);
    assert_eq!(
        device.read("state/metadata/snapshot.json"),
        repo.files["/metadata/1.snapshot.json"]
    );
}

#[tokio::test]
async fn endless_target_data_is_cut_off_at_the_signed_length() {
    let server = start_server().await;
    let mut repo = Repo::new();
    let release = ReleaseSpec::camera("1.1.0", image(100_000, 6));
    repo.publish(1, std::slice::from_ref(&release));
    server.state.serve_repo(&repo);
    server
        .state
        .files
        .lock()
        .unwrap()
        .insert(Repo::target_path(&release), Served::Endless);
    let device = DeviceDir::new(&server.url, &repo.root_bytes(), DeviceOptions::default());
    let repository = repository(&device);
    let mut trusted = repository.refresh().await.unwrap().trusted;
    let target = repository
        .find_target(&mut trusted, &release.name)
        .await
        .unwrap()
        .unwrap();
    let target = &target;
    let url = repository
        .target_url(&trusted, &release.name, target)
        .unwrap();
    let mut accepted = 0u64;
    let err = repository
        .download_target(&url, &release.name, target, |chunk| {
            accepted += chunk.len() as u64;
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit: 100_000, .. }),
        "{err}"
    );
    assert!(accepted <= 100_000, "sink got {accepted} bytes");
    let produced = server.state.endless_bytes.load(Ordering::SeqCst);
    assert!(
        produced < 100_000 + 16 * 1024 * 1024,
        "server produced {produced}"
    );
}

#[tokio::test]
async fn endless_metadata_is_cut_off_at_the_metadata_limit() {
    let server = start_server().await;
    let repo = Repo::new();
    server.state.serve_repo(&repo);
    server
        .state
        .files
        .lock()
        .unwrap()
        .insert("/metadata/timestamp.json".into(), Served::Endless);
    let device = DeviceDir::new(&server.url, &repo.root_bytes(), DeviceOptions::default());
    let err = repository(&device).refresh().await.unwrap_err();
    // A timestamp is small: its limit is python-tuf's 16 KiB even under a larger cap.
    assert!(matches!(err, Error::TooLarge { limit: 16384, .. }), "{err}");
}
