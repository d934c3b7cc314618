//! The TUF client workflow (specification section 5) over HTTP.
//!
//! `update_core::trust::TrustedMetadata` holds every verification rule; this module only
//! drives it: it decides what to fetch, with which byte limit, and what to keep on disk.
//! Order of one refresh, with the reference time taken once at its start:
//!
//! 1. Trusted root: `metadata_dir/root.json`, else the provisioned anchor (`trust.root`),
//!    which must be signed by a threshold of its own root keys.
//! 2. Root rotation: `N+1.root.json` until a 404 (at most [`MAX_ROOT_ROTATIONS`]), each
//!    verified against the previous root and persisted. If the timestamp or snapshot keys
//!    changed, the stored timestamp and snapshot are deleted (fast-forward recovery).
//! 3. Timestamp: the stored one (if it still verifies) guards against rollback; then
//!    `timestamp.json` is fetched. An equal version keeps the trusted one.
//! 4. Snapshot: the stored one is used if it verifies and is the version the timestamp
//!    names; otherwise `V.snapshot.json` is fetched, limited to the signed length.
//! 5. Targets: likewise, against the snapshot's entry for `targets.json`.
//!
//! Each fetched file is persisted only after it verified.

mod store;

use chrono::Utc;
use reqwest::Url;
use tracing::{debug, info};
use update_core::hash::StreamHasher;
use update_core::layout::{consistent_target_path, url_path, versioned_metadata_name};
use update_core::schema::{RoleKeys, RoleType, TargetFile};
use update_core::trust::TrustedMetadata;

pub use store::MetadataStore;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::fetch::{HttpClient, join_url};

/// Most root versions accepted in one refresh, so a hostile mirror cannot keep the device
/// fetching roots forever.
pub const MAX_ROOT_ROTATIONS: u32 = 32;

/// A TUF repository as seen by this device: where to fetch, what is stored locally.
#[derive(Debug, Clone)]
pub struct Repository {
    http: HttpClient,
    base: Url,
    store: MetadataStore,
    anchor: std::path::PathBuf,
    max_metadata_size: u64,
}

impl Repository {
    pub fn new(http: HttpClient, config: &Config) -> Self {
        Repository {
            http,
            base: config.server.repository_url().clone(),
            store: MetadataStore::new(&config.trust.metadata_dir, config.trust.max_metadata_size),
            anchor: config.trust.root.clone(),
            max_metadata_size: config.trust.max_metadata_size,
        }
    }

    /// Brings the trusted metadata up to date with the repository.
    pub async fn refresh(&self) -> Result<TrustedMetadata> {
        let mut trusted = self.load_trusted_root()?;
        self.update_root(&mut trusted).await?;
        self.update_timestamp(&mut trusted).await?;
        self.update_snapshot(&mut trusted).await?;
        self.update_targets(&mut trusted).await?;
        Ok(trusted)
    }

    fn load_trusted_root(&self) -> Result<TrustedMetadata> {
        let now = Utc::now();
        if let Some(bytes) = self.store.load("root")? {
            return Ok(TrustedMetadata::new(&bytes, now)?);
        }
        let bytes = crate::atomic::read_limited(&self.anchor, self.max_metadata_size)
            .map_err(Error::io(format!(
                "reading trust anchor {}",
                self.anchor.display()
            )))?
            .ok_or_else(|| Error::Io {
                context: format!("reading trust anchor {}", self.anchor.display()),
                source: std::io::ErrorKind::NotFound.into(),
            })?;
        Ok(TrustedMetadata::new(&bytes, now)?)
    }

    async fn update_root(&self, trusted: &mut TrustedMetadata) -> Result<()> {
        let keys_before = online_role_keys(trusted);
        for _ in 0..MAX_ROOT_ROTATIONS {
            let next = trusted.root().version + 1;
            let url = self.metadata_url(&versioned_metadata_name(next, "root"))?;
            let bytes = match self.http.get_bytes(&url, self.max_metadata_size).await {
                Ok(bytes) => bytes,
                Err(Error::NotFound { .. }) => break,
                Err(e) => return Err(e),
            };
            trusted.update_root(&bytes)?;
            self.store.store("root", &bytes)?;
            info!(version = next, "trusted a new root");
        }
        if online_role_keys(trusted) != keys_before {
            info!("timestamp or snapshot keys rotated: forgetting stored timestamp and snapshot");
            self.store.remove("timestamp")?;
            self.store.remove("snapshot")?;
        }
        Ok(())
    }

    async fn update_timestamp(&self, trusted: &mut TrustedMetadata) -> Result<()> {
        if let Some(local) = self.load_local("timestamp") {
            if let Err(e) = trusted.update_timestamp(&local) {
                debug!("stored timestamp not usable: {e}");
            }
        }
        let url = self.metadata_url("timestamp.json")?;
        let bytes = self.http.get_bytes(&url, self.max_metadata_size).await?;
        match trusted.update_timestamp(&bytes) {
            Ok(()) => self.store.store("timestamp", &bytes),
            Err(update_core::Error::EqualVersion { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn update_snapshot(&self, trusted: &mut TrustedMetadata) -> Result<()> {
        if let Some(local) = self.load_local("snapshot") {
            match trusted.update_snapshot(&local, true) {
                Ok(()) => return Ok(()),
                Err(e) => debug!("stored snapshot not usable: {e}"),
            }
        }
        let listed = trusted
            .timestamp()
            .and_then(|t| t.snapshot_meta())
            .cloned()
            .ok_or(update_core::Error::RoleNotLoaded(RoleType::Timestamp))?;
        let url = self.metadata_url(&self.metadata_name(trusted, listed.version, "snapshot"))?;
        let limit = listed.length.unwrap_or(self.max_metadata_size);
        let bytes = self.http.get_bytes(&url, limit).await?;
        trusted.update_snapshot(&bytes, false)?;
        self.store.store("snapshot", &bytes)
    }

    async fn update_targets(&self, trusted: &mut TrustedMetadata) -> Result<()> {
        if let Some(local) = self.load_local("targets") {
            match trusted.update_targets(&local) {
                Ok(()) => return Ok(()),
                Err(e) => debug!("stored targets not usable: {e}"),
            }
        }
        let listed = trusted
            .snapshot()
            .and_then(|s| s.role_meta("targets"))
            .cloned()
            .ok_or_else(|| update_core::Error::MissingMeta {
                role: RoleType::Snapshot.to_string(),
                what: "targets.json".into(),
            })?;
        let url = self.metadata_url(&self.metadata_name(trusted, listed.version, "targets"))?;
        let limit = listed.length.unwrap_or(self.max_metadata_size);
        let bytes = self.http.get_bytes(&url, limit).await?;
        trusted.update_targets(&bytes)?;
        self.store.store("targets", &bytes)
    }

    /// A stored file, or `None` when absent or unreadable (it is then fetched again).
    fn load_local(&self, role: &str) -> Option<Vec<u8>> {
        self.store.load(role).unwrap_or_else(|e| {
            debug!("stored {role} metadata not readable: {e}");
            None
        })
    }

    fn metadata_name(&self, trusted: &TrustedMetadata, version: u64, role: &str) -> String {
        if trusted.root().consistent_snapshot {
            versioned_metadata_name(version, role)
        } else {
            format!("{role}.json")
        }
    }

    fn metadata_url(&self, name: &str) -> Result<Url> {
        join_url(&self.base, &format!("/metadata/{}", url_path(name)))
    }

    /// Where the repository serves `target_name` (its consistent-snapshot path).
    pub fn target_url(
        &self,
        trusted: &TrustedMetadata,
        target_name: &str,
        target: &TargetFile,
    ) -> Result<Url> {
        let path = if trusted.root().consistent_snapshot {
            consistent_target_path(target_name, signed_sha256(target_name, target)?)
        } else {
            target_name.to_string()
        };
        join_url(&self.base, &format!("/targets/{}", url_path(&path)))
    }

    /// Streams a target into `sink`, at most its signed length, and checks its signed
    /// sha256. On any mismatch the sink has received unverified bytes: the caller must
    /// treat what it wrote as garbage. Returns the bytes received.
    pub async fn download_target<F>(
        &self,
        url: &Url,
        target_name: &str,
        target: &TargetFile,
        mut sink: F,
    ) -> Result<u64>
    where
        F: FnMut(&[u8]) -> Result<()>,
    {
        let expected_sha256 = signed_sha256(target_name, target)?;
        let mut hasher = StreamHasher::new();
        self.http
            .get_streaming(url, target.length, |chunk| {
                hasher.update(chunk);
                sink(chunk)
            })
            .await?;
        let (length, sha256) = hasher.finish();
        if length != target.length {
            return Err(Error::TargetMismatch {
                what: target_name.to_string(),
                reason: format!(
                    "received {length} bytes, signed length is {}",
                    target.length
                ),
            });
        }
        if !sha256.eq_ignore_ascii_case(expected_sha256) {
            return Err(Error::TargetMismatch {
                what: target_name.to_string(),
                reason: "sha256 differs from the signed hash".into(),
            });
        }
        Ok(length)
    }
}

/// The top-level targets entry named `target_name`, if the verified metadata lists it.
pub fn find_target<'a>(trusted: &'a TrustedMetadata, target_name: &str) -> Option<&'a TargetFile> {
    trusted.targets()?.targets.get(target_name)
}

/// A target's signed sha256, which every firmware target must carry.
pub fn signed_sha256<'a>(target_name: &str, target: &'a TargetFile) -> Result<&'a str> {
    let sha256 = target
        .sha256()
        .ok_or_else(|| update_core::Error::MissingHash {
            what: target_name.to_string(),
        })?;
    let well_formed = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(Error::Metadata(update_core::Error::InvalidMetadata(
            format!("target {target_name} has a malformed sha256"),
        )));
    }
    Ok(sha256)
}

fn online_role_keys(trusted: &TrustedMetadata) -> (RoleKeys, RoleKeys) {
    let root = trusted.root();
    (
        root.role(RoleType::Timestamp).clone(),
        root.role(RoleType::Snapshot).clone(),
    )
}
