//! The TUF client workflow (specification section 5) over HTTP, shared by the device
//! agent and the `tuf-client` conformance CLI.
//!
//! `update_core::trust::TrustedMetadata` holds every verification rule; this module only
//! drives it: what to fetch, with which byte limit, what to keep on disk. One refresh, with
//! one reference time (the local clock, never earlier than the time floor, see [`clock`]):
//!
//! 1. Trusted root: `DIR/root.json`, else the provisioned anchor, which must be signed by
//!    a threshold of its own root keys.
//! 2. Root rotation: `N+1.root.json` until a 404/403 (at most [`Limits::max_root_rotations`]),
//!    each verified by the old and the new root keys and stored. If the timestamp or
//!    snapshot keys changed, the stored timestamp and snapshot are deleted (fast-forward
//!    attack recovery, 5.3.11).
//! 3. Timestamp: the stored one (if it still verifies) guards against rollback, then
//!    `timestamp.json` is fetched; an equal version keeps the stored one.
//! 4. Snapshot: the stored one is used if it verifies and is the version the timestamp
//!    names, else `V.snapshot.json` (or `snapshot.json` without consistent snapshots) is
//!    fetched, at most its signed length.
//! 5. Targets, and delegated targets roles when a target is looked up ([`search`]): the
//!    stored file if it verifies against the snapshot and its delegator, else fetched.
//!
//! A file is stored only after it verified; nothing less trusted ever replaces it.

pub mod clock;
mod download;
mod search;
mod store;

use std::path::{Path, PathBuf};

use chrono::Utc;
use reqwest::Url;
use tracing::{debug, info};
use update_core::layout::{quote_name, versioned_metadata_name};
use update_core::schema::{RoleKeys, RoleType};
use update_core::trust::{ROOT_DELEGATOR, TOP_LEVEL_TARGETS, TrustedMetadata};

pub use clock::{ReferenceTime, TimeFloor};
pub use download::{Kept, TargetSink, is_cached, signed_sha256};
pub use store::MetadataStore;

use crate::error::{Error, Result};
use crate::fetch::{HttpClient, join_url};

/// Byte limits for metadata whose length is not signed, and bounds on the work a
/// repository can ask for. Defaults are python-tuf's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub root: u64,
    pub timestamp: u64,
    pub snapshot: u64,
    pub targets: u64,
    pub max_root_rotations: u64,
    pub max_delegations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            root: 512_000,
            timestamp: 16_384,
            snapshot: 2_000_000,
            targets: 5_000_000,
            max_root_rotations: 256,
            max_delegations: 32,
        }
    }
}

/// A TUF repository (metadata and targets base URLs) and this client's trusted copy.
#[derive(Debug, Clone)]
pub struct Updater {
    http: HttpClient,
    metadata_url: Url,
    targets_url: Url,
    store: MetadataStore,
    floor: TimeFloor,
    anchor: Option<PathBuf>,
    limits: Limits,
}

/// The outcome of a refresh: the verified top-level metadata and the time it was
/// verified at.
#[derive(Debug)]
pub struct Refreshed {
    pub trusted: TrustedMetadata,
    pub reference: ReferenceTime,
}

impl Updater {
    /// `anchor` is the root trusted when `metadata_dir` holds none yet.
    pub fn new(
        http: HttpClient,
        metadata_url: Url,
        targets_url: Url,
        metadata_dir: &Path,
        anchor: Option<PathBuf>,
        limits: Limits,
    ) -> Self {
        Updater {
            http,
            metadata_url,
            targets_url,
            store: MetadataStore::new(metadata_dir),
            floor: TimeFloor::new(metadata_dir),
            anchor,
            limits,
        }
    }

    pub fn store(&self) -> &MetadataStore {
        &self.store
    }

    /// Brings the trusted top-level metadata up to date with the repository.
    pub async fn refresh(&self) -> Result<Refreshed> {
        let reference = self.floor.reference_time(Utc::now());
        let mut trusted = self.load_trusted_root(reference)?;
        self.update_root(&mut trusted).await?;
        self.update_timestamp(&mut trusted).await?;
        self.update_snapshot(&mut trusted).await?;
        self.load_targets(&mut trusted, TOP_LEVEL_TARGETS, ROOT_DELEGATOR)
            .await?;
        self.floor.advance(reference.time)?;
        Ok(Refreshed { trusted, reference })
    }

    fn load_trusted_root(&self, reference: ReferenceTime) -> Result<TrustedMetadata> {
        let bytes = match self.store.load(RoleType::Root.as_str(), self.limits.root)? {
            Some(bytes) => bytes,
            None => {
                let anchor = self.anchor.as_deref().ok_or_else(|| Error::Io {
                    context: format!("no trusted root.json in {}", self.store.dir().display()),
                    source: std::io::ErrorKind::NotFound.into(),
                })?;
                crate::atomic::read_limited(anchor, self.limits.root)
                    .map_err(Error::io(format!(
                        "reading trust anchor {}",
                        anchor.display()
                    )))?
                    .ok_or_else(|| Error::Io {
                        context: format!("reading trust anchor {}", anchor.display()),
                        source: std::io::ErrorKind::NotFound.into(),
                    })?
            }
        };
        Ok(TrustedMetadata::new(&bytes, reference.time)?)
    }

    async fn update_root(&self, trusted: &mut TrustedMetadata) -> Result<()> {
        let keys_before = online_role_keys(trusted);
        let first = trusted.root().version + 1;
        for next in first..first.saturating_add(self.limits.max_root_rotations) {
            let url = self.metadata_url(RoleType::Root.as_str(), Some(next))?;
            let bytes = match self.http.get_bytes(&url, self.limits.root).await {
                Ok(bytes) => bytes,
                Err(Error::NotFound { .. }) | Err(Error::HttpStatus { status: 403, .. }) => break,
                Err(e) => return Err(e),
            };
            trusted.update_root(&bytes)?;
            self.store.store(RoleType::Root.as_str(), &bytes)?;
            info!(version = next, "trusted a new root");
        }
        if online_role_keys(trusted) != keys_before {
            info!("timestamp or snapshot keys rotated: forgetting stored timestamp and snapshot");
            self.store.remove(RoleType::Timestamp.as_str())?;
            self.store.remove(RoleType::Snapshot.as_str())?;
        }
        Ok(())
    }

    async fn update_timestamp(&self, trusted: &mut TrustedMetadata) -> Result<()> {
        let role = RoleType::Timestamp.as_str();
        if let Some(local) = self.load_local(role, self.limits.timestamp) {
            if let Err(e) = trusted.update_timestamp(&local) {
                debug!("stored timestamp not usable as final: {e}");
            }
        }
        let bytes = self
            .http
            .get_bytes(&self.metadata_url(role, None)?, self.limits.timestamp)
            .await?;
        match trusted.update_timestamp(&bytes) {
            Ok(()) => self.store.store(role, &bytes),
            Err(update_core::Error::EqualVersion { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn update_snapshot(&self, trusted: &mut TrustedMetadata) -> Result<()> {
        let role = RoleType::Snapshot.as_str();
        if let Some(local) = self.load_local(role, self.limits.snapshot) {
            match trusted.update_snapshot(&local, true) {
                Ok(()) => {
                    debug!("stored snapshot is current: not downloading it");
                    return Ok(());
                }
                Err(e) => debug!("stored snapshot not usable as final: {e}"),
            }
        }
        let listed = trusted
            .timestamp()
            .and_then(|t| t.snapshot_meta())
            .cloned()
            .ok_or(update_core::Error::RoleNotLoaded(RoleType::Timestamp))?;
        let url = self.metadata_url(role, self.consistent(trusted).then_some(listed.version))?;
        let bytes = self
            .http
            .get_bytes(&url, listed.length.unwrap_or(self.limits.snapshot))
            .await?;
        trusted.update_snapshot(&bytes, false)?;
        self.store.store(role, &bytes)
    }

    /// Makes `role` (as delegated by `delegator`) trusted: already verified through this
    /// delegator, else the stored copy if it verifies, else fetched.
    async fn load_targets(
        &self,
        trusted: &mut TrustedMetadata,
        role: &str,
        delegator: &str,
    ) -> Result<()> {
        if trusted.targets_role(role, delegator).is_some() {
            return Ok(());
        }
        let listed = trusted.snapshot().and_then(|s| s.role_meta(role)).cloned();
        let limit = listed
            .as_ref()
            .and_then(|m| m.length)
            .unwrap_or(self.limits.targets);
        if let Some(local) = self.load_local(role, limit) {
            match trusted.update_delegated_targets(&local, role, delegator) {
                Ok(()) => {
                    debug!(role, "stored metadata is current: not downloading it");
                    return Ok(());
                }
                Err(e) => debug!(role, "stored metadata not usable: {e}"),
            }
        }
        let listed = listed.ok_or_else(|| update_core::Error::MissingMeta {
            role: RoleType::Snapshot.to_string(),
            what: format!("{role}.json"),
        })?;
        let url = self.metadata_url(role, self.consistent(trusted).then_some(listed.version))?;
        let bytes = self.http.get_bytes(&url, limit).await?;
        trusted.update_delegated_targets(&bytes, role, delegator)?;
        self.store.store(role, &bytes)
    }

    /// A stored file, or `None` when absent or unreadable (it is then fetched again).
    fn load_local(&self, role: &str, limit: u64) -> Option<Vec<u8>> {
        self.store.load(role, limit).unwrap_or_else(|e| {
            debug!("stored {role} metadata not readable: {e}");
            None
        })
    }

    fn consistent(&self, trusted: &TrustedMetadata) -> bool {
        trusted.root().consistent_snapshot
    }

    /// `BASE/V.ROLE.json` (or `BASE/ROLE.json`), the role name URL-quoted.
    fn metadata_url(&self, role: &str, version: Option<u64>) -> Result<Url> {
        let role = quote_name(role);
        let name = match version {
            Some(version) => versioned_metadata_name(version, &role),
            None => format!("{role}.json"),
        };
        join_url(&self.metadata_url, &format!("/{name}"))
    }
}

fn online_role_keys(trusted: &TrustedMetadata) -> (RoleKeys, RoleKeys) {
    let root = trusted.root();
    (
        root.role(RoleType::Timestamp).clone(),
        root.role(RoleType::Snapshot).clone(),
    )
}
