//! The fixture of the simulator's tests: a real update server on 127.0.0.1 in a temporary
//! directory, publishing one 16 KiB release for camera / cam-v2, raw and zstd.
#![allow(dead_code)] // each test file uses a different part of the fixture

use std::time::Duration;

use chrono::Utc;
use update_core::api::paths;
use update_core::firmware::{Encoding, Firmware, ImageInfo, zstd_target_name};
use update_core::hash::sha256_hex;
use update_core::keys::SigningKey;
use update_core::schema::{RoleType, Root, TargetFile, Targets, Unrecognized};
use update_core::sign::sign_metadata;
use update_server::{Server, ServerConfig, create_admin_token};

pub const RELEASE: &str = "camera-1.1.0.img";

pub struct Fixture {
    _dir: tempfile::TempDir,
    pub server: Server,
    pub url: String,
    pub admin_token: String,
    pub root_file: std::path::PathBuf,
    pub work_dir: std::path::PathBuf,
    pub data_dir: std::path::PathBuf,
}

/// A server whose repository publishes `RELEASE` (16 KiB) for camera / cam-v2, and
/// its zstd form.
pub async fn server_with_release() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let [root_key, targets_key, snapshot_key, timestamp_key] =
        std::array::from_fn(|_| SigningKey::generate());
    let mut root = Root::new(1, Utc::now() + chrono::Duration::days(365));
    for (role, key) in [
        (RoleType::Root, &root_key),
        (RoleType::Targets, &targets_key),
        (RoleType::Snapshot, &snapshot_key),
        (RoleType::Timestamp, &timestamp_key),
    ] {
        root.add_role_key(role, key.public_key().clone()).unwrap();
    }
    let root_file = dir.path().join("root.json");
    let root_bytes = sign_metadata(&root, &[&root_key])
        .unwrap()
        .to_bytes()
        .unwrap();
    std::fs::write(&root_file, root_bytes).unwrap();
    let pem = |name: &str, key: &SigningKey| {
        let path = dir.path().join(name);
        std::fs::write(&path, key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
        path
    };
    let config = ServerConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        root: Some(root_file.clone()),
        snapshot_key: pem("snapshot.pem", &snapshot_key),
        timestamp_key: pem("timestamp.pem", &timestamp_key),
        timestamp_lifetime: Duration::from_secs(3600),
        snapshot_lifetime: Duration::from_secs(7200),
        poll_interval: Duration::from_secs(42),
        max_image_size: 1024 * 1024,
        relays: Vec::new(),
        tls: None,
        allow_plain_http: false,
    };
    let admin_token = create_admin_token(&config.data_dir, "tests").await.unwrap();
    let data_dir = config.data_dir.clone();
    let server = Server::start(config).await.unwrap();
    let url = format!("http://{}", server.local_addr());

    let image: Vec<u8> = sha256_hex(b"camera 1.1.0")
        .bytes()
        .cycle()
        .take(16 * 1024)
        .collect();
    let sha256 = sha256_hex(&image);
    let http = reqwest::Client::new();
    let uploaded = http
        .put(format!("{url}{}/{sha256}", paths::ADMIN_IMAGES))
        .bearer_auth(&admin_token)
        .body(image.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), reqwest::StatusCode::CREATED);
    let firmware = Firmware {
        version: "1.1.0".parse().unwrap(),
        class: "camera".into(),
        hardware: vec!["cam-v2".into()],
        image: ImageInfo {
            length: image.len() as u64,
            sha256: sha256.clone(),
        },
        encoding: Encoding::Raw,
        base: None,
        release: None,
        unrecognized: Unrecognized::new(),
    };
    // Its zstd form too, which the simulated devices prefer.
    let compressed = zstd::encode_all(&image[..], 3).unwrap();
    let compressed_sha256 = sha256_hex(&compressed);
    let uploaded = http
        .put(format!("{url}{}/{compressed_sha256}", paths::ADMIN_IMAGES))
        .bearer_auth(&admin_token)
        .body(compressed.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), reqwest::StatusCode::CREATED);
    let zstd_firmware = Firmware {
        encoding: Encoding::Zstd,
        release: Some(RELEASE.into()),
        ..firmware.clone()
    };
    let mut targets = Targets::new(1, Utc::now() + chrono::Duration::days(30));
    targets.targets.insert(
        RELEASE.into(),
        TargetFile::new(
            image.len() as u64,
            sha256,
            Some(firmware.to_custom().unwrap()),
        ),
    );
    targets.targets.insert(
        zstd_target_name(RELEASE),
        TargetFile::new(
            compressed.len() as u64,
            compressed_sha256,
            Some(zstd_firmware.to_custom().unwrap()),
        ),
    );
    let signed = sign_metadata(&targets, &[&targets_key])
        .unwrap()
        .to_bytes()
        .unwrap();
    let published = http
        .put(format!("{url}{}", paths::ADMIN_TARGETS))
        .bearer_auth(&admin_token)
        .body(signed)
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), reqwest::StatusCode::OK);
    let work_dir = dir.path().join("sim");
    Fixture {
        _dir: dir,
        server,
        url,
        admin_token,
        root_file,
        work_dir,
        data_dir,
    }
}
