//! Shared fixture of the server's integration tests: a real server on 127.0.0.1:0 in a
//! temporary data directory, the offline keys to sign its metadata, and HTTP helpers.
#![allow(dead_code)] // each test file uses a different part of the fixture

pub mod pki;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use tempfile::TempDir;
use update_core::api::{CheckIn, DeviceEnrollment, Slot, paths};
use update_core::device_auth::{DeviceKey, SignatureHeaders, sign_request};
use update_core::firmware::{Encoding, Firmware, ImageInfo};
use update_core::hash::sha256_hex;
use update_core::keys::SigningKey;
use update_core::schema::{RoleType, Root, TargetFile, Targets, Unrecognized};
use update_core::sign::sign_metadata;
use update_server::{Server, ServerConfig, create_admin_token};

pub struct Keys {
    pub root: SigningKey,
    pub targets: SigningKey,
    pub snapshot: SigningKey,
    pub timestamp: SigningKey,
}

impl Keys {
    pub fn generate() -> Keys {
        Keys {
            root: SigningKey::generate(),
            targets: SigningKey::generate(),
            snapshot: SigningKey::generate(),
            timestamp: SigningKey::generate(),
        }
    }

    /// Root version 1 authorising one key per role.
    pub fn root(&self) -> Root {
        let mut root = Root::new(1, Utc::now() + chrono::Duration::days(365));
        for (role, key) in [
            (RoleType::Root, &self.root),
            (RoleType::Targets, &self.targets),
            (RoleType::Snapshot, &self.snapshot),
            (RoleType::Timestamp, &self.timestamp),
        ] {
            root.add_role_key(role, key.public_key().clone()).unwrap();
        }
        root
    }
}

/// A firmware image to publish.
pub struct Image {
    pub name: String,
    pub bytes: Vec<u8>,
    pub class: String,
    pub version: semver::Version,
    pub hardware: Vec<String>,
}

impl Image {
    pub fn new(class: &str, version: &str, hardware: &[&str], size: usize) -> Image {
        let seed = sha256_hex(format!("{class}-{version}").as_bytes());
        let bytes = seed.bytes().cycle().take(size).collect();
        Image {
            name: format!("{class}-{version}.img"),
            bytes,
            class: class.into(),
            version: version.parse().unwrap(),
            hardware: hardware.iter().map(|h| h.to_string()).collect(),
        }
    }

    pub fn sha256(&self) -> String {
        sha256_hex(&self.bytes)
    }

    pub fn target_file(&self) -> TargetFile {
        let firmware = Firmware {
            version: self.version.clone(),
            class: self.class.clone(),
            hardware: self.hardware.clone(),
            image: ImageInfo {
                length: self.bytes.len() as u64,
                sha256: self.sha256(),
            },
            encoding: Encoding::Raw,
            base: None,
            release: None,
            unrecognized: Unrecognized::new(),
        };
        TargetFile::new(
            self.bytes.len() as u64,
            self.sha256(),
            Some(firmware.to_custom().unwrap()),
        )
    }
}

/// Signed targets.json bytes listing `images`.
pub fn signed_targets(version: u64, images: &[&Image], key: &SigningKey) -> Vec<u8> {
    let mut targets = Targets::new(version, Utc::now() + chrono::Duration::days(30));
    for image in images {
        targets
            .targets
            .insert(image.name.clone(), image.target_file());
    }
    sign_metadata(&targets, &[key]).unwrap().to_bytes().unwrap()
}

/// Writes the root and online keys into `dir` and returns a config serving from it.
pub fn write_config(dir: &Path, keys: &Keys, root: &Root) -> ServerConfig {
    let root_path = dir.join("root.json");
    let root_bytes = sign_metadata(root, &[&keys.root])
        .unwrap()
        .to_bytes()
        .unwrap();
    std::fs::write(&root_path, root_bytes).unwrap();
    let key_file = |name: &str, key: &SigningKey| -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, key.to_pkcs8_pem().unwrap().as_bytes()).unwrap();
        path
    };
    ServerConfig {
        data_dir: dir.join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        root: Some(root_path),
        snapshot_key: key_file("snapshot.pem", &keys.snapshot),
        timestamp_key: key_file("timestamp.pem", &keys.timestamp),
        timestamp_lifetime: Duration::from_secs(3600),
        snapshot_lifetime: Duration::from_secs(7200),
        poll_interval: Duration::from_secs(42),
        max_image_size: 1024 * 1024,
        relays: Vec::new(),
        tls: None,
        allow_plain_http: false,
    }
}

pub struct TestServer {
    pub dir: TempDir,
    pub keys: Keys,
    pub root: Root,
    pub config: ServerConfig,
    pub server: Server,
    pub url: String,
    pub admin_token: String,
    pub http: reqwest::Client,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after `adjust` changed its default test config.
    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::generate();
        let root = keys.root();
        let mut config = write_config(dir.path(), &keys, &root);
        adjust(&mut config);
        let admin_token = create_admin_token(&config.data_dir, "tests").await.unwrap();
        let server = Server::start(config.clone()).await.unwrap();
        let url = server.url();
        TestServer {
            dir,
            keys,
            root,
            config,
            server,
            url,
            admin_token,
            http: reqwest::Client::new(),
        }
    }

    /// Stops the server and starts a new one on the same data directory.
    pub async fn restart(mut self) -> TestServer {
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..self.config.clone()
        };
        let old = std::mem::replace(&mut self.server, Server::start(config).await.unwrap());
        old.shutdown().await.unwrap();
        self.url = self.server.url();
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.admin_token)
    }

    /// An admin GET that must succeed, its JSON body read as `T`.
    pub async fn admin_get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let response = self.admin(Method::GET, path).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_bytes(&self, path: &str) -> Option<Vec<u8>> {
        let response = self.get(path).await;
        if response.status() == StatusCode::NOT_FOUND {
            return None;
        }
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        Some(response.bytes().await.unwrap().to_vec())
    }

    pub async fn upload_image(&self, image: &Image) -> Response {
        self.admin(
            Method::PUT,
            &format!("{}/{}", paths::ADMIN_IMAGES, image.sha256()),
        )
        .body(image.bytes.clone())
        .send()
        .await
        .unwrap()
    }

    pub async fn put_targets(&self, bytes: Vec<u8>) -> Response {
        self.admin(Method::PUT, paths::ADMIN_TARGETS)
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    /// Uploads the images and publishes them as targets `version`; asserts success.
    pub async fn publish(&self, version: u64, images: &[&Image]) {
        for image in images {
            let status = self.upload_image(image).await.status();
            assert_eq!(status, StatusCode::CREATED, "upload {}", image.name);
        }
        let response = self
            .put_targets(signed_targets(version, images, &self.keys.targets))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{:?}",
            response.text().await
        );
    }

    /// Enrols a device with a new key of its own; the handle signs its requests.
    pub async fn enroll(&self, device_id: &str, class: &str) -> TestDevice {
        let device = TestDevice::new(device_id);
        let response = self
            .admin(Method::POST, paths::ADMIN_DEVICES)
            .json(&DeviceEnrollment {
                device_id: device_id.into(),
                class: class.into(),
                public_key: device.key.public_key_hex(),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        device
    }

    /// A POST of `body` signed by `device`, not yet sent.
    pub fn signed_post<T: serde::Serialize>(
        &self,
        device: &TestDevice,
        path: &str,
        body: &T,
    ) -> RequestBuilder {
        let bytes = serde_json::to_vec(body).unwrap();
        let mut request = self.http.post(self.url(path));
        for (name, value) in device.sign(path, &bytes).pairs() {
            request = request.header(name, value);
        }
        request
            .header("content-type", "application/json")
            .body(bytes)
    }

    pub async fn device_post<T: serde::Serialize>(
        &self,
        device: &TestDevice,
        path: &str,
        body: &T,
    ) -> Response {
        self.signed_post(device, path, body).send().await.unwrap()
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await.unwrap();
    }
}

/// What a device running `version` on `hardware_id` says at check-in.
pub fn check_in(device_id: &str, class: &str, hardware_id: &str, version: &str) -> CheckIn {
    CheckIn {
        device_id: device_id.into(),
        class: class.into(),
        hardware_id: hardware_id.into(),
        firmware_version: version.parse().unwrap(),
        image_sha256: sha256_hex(version.as_bytes()),
        boot_slot: Slot::A,
        pending_update: None,
        clock_untrusted: false,
        config: None,
    }
}

/// The value of the sample `name{labels}` in Prometheus text, labels in encoding order.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let rendered: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}=\"{value}\""))
        .collect();
    let series = if labels.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{}}}", rendered.join(","))
    };
    text.lines().find_map(|line| {
        let (head, value) = line.rsplit_once(' ')?;
        (head == series).then(|| value.parse().ok()).flatten()
    })
}

/// A device's key pair and request sequence, as the client keeps them.
pub struct TestDevice {
    pub id: String,
    pub key: DeviceKey,
    sequence: std::sync::atomic::AtomicU64,
}

impl TestDevice {
    pub fn new(device_id: &str) -> TestDevice {
        TestDevice::with_key(device_id, DeviceKey::generate())
    }

    pub fn with_key(device_id: &str, key: DeviceKey) -> TestDevice {
        TestDevice {
            id: device_id.into(),
            key,
            sequence: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// Signs a POST to `path` with the next sequence number.
    pub fn sign(&self, path: &str, body: &[u8]) -> SignatureHeaders {
        let sequence = self
            .sequence
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        sign_request(&self.key, &self.id, sequence, "POST", path, body)
    }
}
