//! Online signing: new snapshot and timestamp versions, and the background task that
//! re-signs them before they go stale, so a healthy server never serves expired metadata.
//!
//! The timestamp is re-signed (same snapshot) once less than half its lifetime remains;
//! the snapshot likewise, with a timestamp naming it. Both are also re-signed when the
//! current root no longer accepts their signatures (the online keys were rotated).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;
use update_core::api::TargetsPublished;
use update_core::schema::{MetaFile, Metadata, RoleType, Root, Snapshot, Timestamp};
use update_core::trust::verify_with_root;

use super::{Repository, RepositoryError, expiry_after};
use crate::store::{DelegatedRecord, MetadataRecord};

/// Bounds on the refresher's sleep: short enough for lifetimes of a few seconds, long
/// enough not to spin; the upper bound also catches wall-clock jumps.
const MIN_WAIT: Duration = Duration::from_millis(50);
const MAX_WAIT: Duration = Duration::from_secs(30);
const RETRY_WAIT: Duration = Duration::from_secs(1);

/// Keeps the repository's online metadata fresh until `shutdown` changes.
pub async fn run_refresher(repository: Arc<Repository>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let wait = match repository.refresh().await {
            Ok(Some(until_due)) => until_due.clamp(MIN_WAIT, MAX_WAIT),
            Ok(None) => MAX_WAIT,
            Err(error) => {
                tracing::error!(%error, "cannot re-sign online metadata; will retry");
                RETRY_WAIT
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = repository.changed.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

impl Repository {
    /// Re-signs what is due; returns the time until the next re-signing is due, `None`
    /// while nothing is published.
    pub async fn refresh(&self) -> Result<Option<Duration>, RepositoryError> {
        let _change = self.change_lock.lock().await;
        let now = Utc::now();
        let (Some(mut snapshot), Some(mut timestamp)) = (
            self.store.latest_metadata(RoleType::Snapshot).await?,
            self.store.latest_metadata(RoleType::Timestamp).await?,
        ) else {
            return Ok(None);
        };
        let (mut snapshot_due, mut timestamp_due) = (
            now >= due_at(&snapshot, self.lifetimes.snapshot),
            now >= due_at(&timestamp, self.lifetimes.timestamp),
        );
        if self.check_signatures.swap(false, Ordering::AcqRel) {
            let root = self.current_root().await?;
            snapshot_due |= !self.accepted_by::<Snapshot>(&root, &snapshot).await?;
            timestamp_due |= !self.accepted_by::<Timestamp>(&root, &timestamp).await?;
        }
        let mut records = Vec::new();
        let mut snapshot_bytes = None;
        if snapshot_due {
            let targets = self
                .store
                .latest_metadata(RoleType::Targets)
                .await?
                .ok_or_else(|| RepositoryError::CorruptState {
                    what: "snapshot".into(),
                    reason: "no targets metadata is stored".into(),
                })?;
            let targets_bytes = self.read_metadata_bytes(&targets).await?;
            let (bytes, record) = self
                .sign_snapshot(targets.version, &targets_bytes, None, now)
                .await?;
            snapshot_bytes = Some(bytes);
            snapshot = record.clone();
            records.push(record);
        }
        if snapshot_due || timestamp_due {
            let bytes = match snapshot_bytes {
                Some(bytes) => bytes,
                None => self.read_metadata_bytes(&snapshot).await?,
            };
            timestamp = self.sign_timestamp(snapshot.version, &bytes, now).await?;
            records.push(timestamp.clone());
        }
        if !records.is_empty() {
            self.store.insert_metadata(&records).await?;
            tracing::info!(
                snapshot = snapshot.version,
                timestamp = timestamp.version,
                "re-signed online metadata"
            );
        }
        let next = due_at(&snapshot, self.lifetimes.snapshot)
            .min(due_at(&timestamp, self.lifetimes.timestamp));
        Ok(Some((next - now).to_std().unwrap_or(Duration::ZERO)))
    }

    /// Signs and stores (as a blob, not yet recorded) the next snapshot version, naming
    /// `targets_bytes` as targets version `targets_version`, every delegated role's
    /// newest published version, and `pending` (a role version being published).
    pub(super) async fn sign_snapshot(
        &self,
        targets_version: u64,
        targets_bytes: &[u8],
        pending: Option<&DelegatedRecord>,
        now: DateTime<Utc>,
    ) -> Result<(Vec<u8>, MetadataRecord), RepositoryError> {
        let version = self.next_version(RoleType::Snapshot).await?;
        let mut meta = BTreeMap::from([(
            "targets.json".to_string(),
            MetaFile::describing(targets_version, targets_bytes),
        )]);
        let roles = self.store.latest_delegated_roles().await?;
        for role in roles.iter().chain(pending) {
            let mut file = MetaFile::new(role.version);
            file.length = Some(role.length);
            file.hashes = Some(BTreeMap::from([(
                "sha256".to_string(),
                role.sha256.as_str().to_string(),
            )]));
            meta.insert(format!("{}.json", role.role_name), file);
        }
        let snapshot = Snapshot::new(version, expiry_after(now, self.lifetimes.snapshot), meta);
        self.sign_and_put(&snapshot, &self.keys.snapshot).await
    }

    /// A new snapshot naming `targets_version` (and `pending`, a delegated role about to
    /// be recorded) and the timestamp naming it: what every publish ends with.
    pub(super) async fn sign_snapshot_and_timestamp(
        &self,
        targets_version: u64,
        targets_bytes: &[u8],
        pending: Option<&DelegatedRecord>,
        now: DateTime<Utc>,
    ) -> Result<OnlineSignatures, RepositoryError> {
        let (snapshot_bytes, snapshot) = self
            .sign_snapshot(targets_version, targets_bytes, pending, now)
            .await?;
        let timestamp = self
            .sign_timestamp(snapshot.version, &snapshot_bytes, now)
            .await?;
        let published = TargetsPublished {
            targets_version,
            snapshot_version: snapshot.version,
            timestamp_version: timestamp.version,
        };
        Ok(OnlineSignatures {
            snapshot,
            timestamp,
            published,
        })
    }

    /// Signs and stores (as a blob, not yet recorded) the next timestamp version.
    pub(super) async fn sign_timestamp(
        &self,
        snapshot_version: u64,
        snapshot_bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<MetadataRecord, RepositoryError> {
        let version = self.next_version(RoleType::Timestamp).await?;
        let timestamp = Timestamp::new(
            version,
            expiry_after(now, self.lifetimes.timestamp),
            MetaFile::describing(snapshot_version, snapshot_bytes),
        );
        let (_, record) = self.sign_and_put(&timestamp, &self.keys.timestamp).await?;
        Ok(record)
    }

    async fn next_version(&self, role: RoleType) -> Result<u64, RepositoryError> {
        let current = self.store.latest_metadata(role).await?;
        Ok(current.map_or(1, |record| record.version.saturating_add(1)))
    }

    async fn accepted_by<T: Metadata>(
        &self,
        root: &Root,
        record: &MetadataRecord,
    ) -> Result<bool, RepositoryError> {
        let envelope = self.read_metadata(record).await?;
        Ok(verify_with_root::<T>(root, &envelope).is_ok())
    }
}

/// When a file signed to `expires` has less than half of `lifetime` left.
fn due_at(record: &MetadataRecord, lifetime: Duration) -> DateTime<Utc> {
    let half = TimeDelta::from_std(lifetime / 2).unwrap_or(TimeDelta::MAX);
    record
        .expires
        .checked_sub_signed(half)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The snapshot and timestamp a publish signed, and the versions it answers with.
pub(super) struct OnlineSignatures {
    pub snapshot: MetadataRecord,
    pub timestamp: MetadataRecord,
    pub published: TargetsPublished,
}
