//! A TUF repository built with update-core, published as the server serves it.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use update_core::firmware::{
    DeltaBase, Encoding, Firmware, ImageInfo, delta_target_name, zstd_target_name,
};
use update_core::hash::sha256_hex;
use update_core::keys::SigningKey;
use update_core::layout::{consistent_target_path, url_path, versioned_metadata_name};
use update_core::schema::{
    MetaFile, RoleType, Root, Snapshot, TargetFile, Targets, Timestamp, Unrecognized,
};
use update_core::sign::sign_metadata;
use update_delta::CreateOptions;

/// One firmware release to publish.
pub struct ReleaseSpec {
    pub name: String,
    pub version: semver::Version,
    pub class: String,
    pub hardware: Vec<String>,
    pub image: Vec<u8>,
}

impl ReleaseSpec {
    pub fn camera(version: &str, image: Vec<u8>) -> Self {
        ReleaseSpec {
            name: format!("camera-{version}.img"),
            version: version.parse().unwrap(),
            class: "camera".into(),
            hardware: vec!["cam-v2".into()],
            image,
        }
    }
}

/// A repository with one key per top-level role, published as the server serves it.
pub struct Repo {
    pub root_key: SigningKey,
    pub targets_key: SigningKey,
    pub snapshot_key: SigningKey,
    pub timestamp_key: SigningKey,
    pub root: Root,
    pub now: DateTime<Utc>,
    pub timestamp_expires: DateTime<Utc>,
    /// URL path (`/metadata/...`, `/targets/...`) to content.
    pub files: HashMap<String, Vec<u8>>,
}

impl Repo {
    pub fn new() -> Self {
        let now = update_core::schema::whole_seconds(Utc::now());
        let keys = [(); 4].map(|_| SigningKey::generate());
        let [root_key, targets_key, snapshot_key, timestamp_key] = keys;
        let mut root = Root::new(1, now + Duration::days(365));
        for (role, key) in [
            (RoleType::Root, &root_key),
            (RoleType::Targets, &targets_key),
            (RoleType::Snapshot, &snapshot_key),
            (RoleType::Timestamp, &timestamp_key),
        ] {
            root.add_role_key(role, key.public_key().clone()).unwrap();
        }
        let mut repo = Repo {
            root_key,
            targets_key,
            snapshot_key,
            timestamp_key,
            root,
            now,
            timestamp_expires: now + Duration::days(1),
            files: HashMap::new(),
        };
        let root_bytes = repo.root_bytes();
        repo.files
            .insert("/metadata/1.root.json".into(), root_bytes);
        repo
    }

    pub fn root_bytes(&self) -> Vec<u8> {
        sign_metadata(&self.root, &[&self.root_key])
            .unwrap()
            .to_bytes()
            .unwrap()
    }

    /// Publishes targets, snapshot and timestamp, all at `version`, listing `releases`.
    pub fn publish(&mut self, version: u64, releases: &[ReleaseSpec]) {
        self.publish_with_forms(version, releases, &[]);
    }

    /// [`Repo::publish`], also listing compressed and delta forms of the releases.
    pub fn publish_with_forms(&mut self, version: u64, releases: &[ReleaseSpec], forms: &[Form]) {
        let mut targets = Targets::new(version, self.now + Duration::days(30));
        let raw = releases.iter().map(|r| Form {
            name: r.name.clone(),
            bytes: r.image.clone(),
            firmware: r.firmware(),
        });
        for form in raw.chain(forms.iter().cloned()) {
            let sha256 = sha256_hex(&form.bytes);
            let length = form.bytes.len() as u64;
            let custom = form.firmware.to_custom().unwrap();
            targets.targets.insert(
                form.name.clone(),
                TargetFile::new(length, sha256.clone(), Some(custom)),
            );
            let path = consistent_target_path(&form.name, &sha256);
            self.files
                .insert(format!("/targets/{}", url_path(&path)), form.bytes.clone());
        }
        let targets_bytes = sign_metadata(&targets, &[&self.targets_key])
            .unwrap()
            .to_bytes()
            .unwrap();
        let meta = [(
            "targets.json".to_string(),
            MetaFile::describing(version, &targets_bytes),
        )]
        .into();
        let snapshot = Snapshot::new(version, self.now + Duration::days(7), meta);
        let snapshot_bytes = sign_metadata(&snapshot, &[&self.snapshot_key])
            .unwrap()
            .to_bytes()
            .unwrap();
        let timestamp = Timestamp::new(
            version,
            self.timestamp_expires,
            MetaFile::describing(version, &snapshot_bytes),
        );
        let timestamp_bytes = sign_metadata(&timestamp, &[&self.timestamp_key])
            .unwrap()
            .to_bytes()
            .unwrap();
        let metadata = |name: String| format!("/metadata/{name}");
        self.files.insert(
            metadata(versioned_metadata_name(version, "targets")),
            targets_bytes,
        );
        self.files.insert(
            metadata(versioned_metadata_name(version, "snapshot")),
            snapshot_bytes,
        );
        self.files
            .insert(metadata("timestamp.json".into()), timestamp_bytes);
    }

    /// URL path of a published release's image.
    pub fn target_path(release: &ReleaseSpec) -> String {
        Self::form_path(&release.name, &release.image)
    }

    /// URL path of a published target named `name` holding `bytes`.
    pub fn form_path(name: &str, bytes: &[u8]) -> String {
        let path = consistent_target_path(name, &sha256_hex(bytes));
        format!("/targets/{}", url_path(&path))
    }
}

/// A compressed or delta form of a release, as `ota release add` publishes them.
#[derive(Clone)]
pub struct Form {
    pub name: String,
    pub bytes: Vec<u8>,
    pub firmware: Firmware,
}

impl Form {
    pub fn path(&self) -> String {
        Repo::form_path(&self.name, &self.bytes)
    }
}

impl ReleaseSpec {
    /// The raw target's firmware fields.
    pub fn firmware(&self) -> Firmware {
        Firmware {
            version: self.version.clone(),
            class: self.class.clone(),
            hardware: self.hardware.clone(),
            image: ImageInfo {
                length: self.image.len() as u64,
                sha256: sha256_hex(&self.image),
            },
            encoding: Encoding::Raw,
            base: None,
            release: None,
            unrecognized: Unrecognized::new(),
        }
    }

    /// The compressed form: independent zstd frames of at most `frame` bytes of image.
    pub fn zstd_form(&self, frame: usize) -> Form {
        let mut bytes = Vec::new();
        for chunk in self.image.chunks(frame) {
            bytes.extend(zstd::bulk::compress(chunk, 3).unwrap());
        }
        Form {
            name: zstd_target_name(&self.name),
            bytes,
            firmware: Firmware {
                encoding: Encoding::Zstd,
                release: Some(self.name.clone()),
                ..self.firmware()
            },
        }
    }

    /// A delta from `base` (the image of version `base_version`) to this release.
    pub fn delta_form(&self, base_version: &str, base: &[u8]) -> Form {
        let mut bytes = Vec::new();
        update_delta::create(base, &self.image, &CreateOptions::default(), &mut bytes).unwrap();
        let base_sha256 = sha256_hex(base);
        Form {
            name: delta_target_name(&self.name, &base_sha256),
            bytes,
            firmware: Firmware {
                encoding: Encoding::Delta,
                base: Some(DeltaBase {
                    version: base_version.parse().unwrap(),
                    length: base.len() as u64,
                    sha256: base_sha256,
                }),
                release: Some(self.name.clone()),
                ..self.firmware()
            },
        }
    }
}

/// A deterministic image of `length` bytes.
pub fn image(length: usize, seed: u8) -> Vec<u8> {
    (0..length)
        .map(|i| (i as u32 * 31 + seed as u32) as u8)
        .collect()
}
