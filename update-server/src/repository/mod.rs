//! The published TUF repository: its trusted root, the uploads that change it (a new
//! root, a new targets version) and the online snapshot and timestamp signing that keeps
//! it fresh.
//!
//! Every change runs under one lock and re-reads the current state from the store, so
//! publishes are serialised and the store stays the only source of truth.

mod delegated;
mod keys;
mod publish;
mod refresh;
mod root;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{Mutex, Notify};
use update_core::keys::SigningKey;
use update_core::schema::{Metadata, RoleType, Root, SignedEnvelope};
use update_core::sign::sign_metadata;
use update_core::trust::verify_self_signed_root;

use crate::store::blobs::{BlobError, BlobId, BlobStore};
use crate::store::{MetadataRecord, Store, StoreError};

pub use keys::{KeyFileError, OnlineKeys};
pub use refresh::run_refresher;

/// Largest metadata file accepted or read back (root and targets uploads included).
pub const MAX_METADATA_SIZE: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    #[error("{what} rejected: {source}")]
    Rejected {
        what: &'static str,
        #[source]
        source: update_core::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{role} version {version} is not newer than the current version {current}")]
    NotNewer {
        role: RoleType,
        version: u64,
        current: u64,
    },
    #[error(
        "image of target {target:?} (sha256 {sha256}, {length} bytes) is not uploaded; \
         PUT it to /api/v1/admin/images/{sha256} first"
    )]
    MissingImage {
        target: String,
        sha256: String,
        length: u64,
    },
    #[error("{role} version {version} is not newer than the current version {current}")]
    RoleNotNewer {
        role: String,
        version: u64,
        current: u64,
    },
    #[error("the current targets.json does not delegate to role {0:?}")]
    NotDelegated(String),
    #[error("no targets.json is published yet: publish one that delegates first")]
    NoTargets,
    #[error("{0}")]
    OnlineKeyNotAuthorised(String),
    #[error(
        "no trusted root is stored yet: pass --root FILE (the initial root.json) on the first start"
    )]
    NoRoot,
    #[error("cannot sign {role} metadata: {source}")]
    Signing {
        role: RoleType,
        #[source]
        source: update_core::Error,
    },
    #[error("stored {what} is unusable: {reason}")]
    CorruptState { what: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// How long freshly signed online metadata stays valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetimes {
    pub timestamp: Duration,
    pub snapshot: Duration,
}

#[derive(Debug)]
pub struct Repository {
    store: Store,
    blobs: BlobStore,
    keys: OnlineKeys,
    lifetimes: Lifetimes,
    change_lock: Mutex<()>,
    /// Wakes the refresher after a change, whose new expiry times it must learn.
    changed: Notify,
    /// Set when the root changed (or on start): the refresher then checks that the current
    /// root still accepts the online metadata's signatures.
    check_signatures: AtomicBool,
}

impl Repository {
    /// Opens the repository: the stored root, or on the first start `initial_root` (which
    /// must be signed by a threshold of its own root keys). Refuses online keys that the
    /// current root does not authorise for their roles.
    pub async fn open(
        store: Store,
        blobs: BlobStore,
        keys: OnlineKeys,
        lifetimes: Lifetimes,
        initial_root: Option<Vec<u8>>,
    ) -> Result<Repository, RepositoryError> {
        let repository = Repository {
            store,
            blobs,
            keys,
            lifetimes,
            change_lock: Mutex::new(()),
            changed: Notify::new(),
            check_signatures: AtomicBool::new(true),
        };
        match (
            repository.store.latest_metadata(RoleType::Root).await?,
            initial_root,
        ) {
            (None, None) => return Err(RepositoryError::NoRoot),
            (None, Some(bytes)) => repository.trust_initial_root(&bytes).await?,
            (Some(stored), Some(bytes)) if BlobId::of_bytes(&bytes) != stored.sha256 => {
                tracing::warn!(
                    stored_version = stored.version,
                    "ignoring --root: a root is already stored; rotate roots with PUT /api/v1/admin/metadata/root"
                );
            }
            (Some(_), _) => {}
        }
        let root = repository.current_root().await?;
        keys::check_authorised(&repository.keys, &root)?;
        Ok(repository)
    }

    async fn trust_initial_root(&self, bytes: &[u8]) -> Result<(), RepositoryError> {
        let rejected = |source| RepositoryError::Rejected {
            what: "initial root.json",
            source,
        };
        let envelope = SignedEnvelope::from_slice(bytes, "root.json").map_err(rejected)?;
        let root = verify_self_signed_root(&envelope).map_err(rejected)?;
        let record = self.put_metadata(&*root, bytes).await?;
        self.store.insert_metadata(&[record]).await?;
        tracing::info!(version = root.version, "trusting the initial root");
        Ok(())
    }

    /// The newest stored root, checked again against its own signatures.
    async fn current_root(&self) -> Result<Root, RepositoryError> {
        let record = self
            .store
            .latest_metadata(RoleType::Root)
            .await?
            .ok_or(RepositoryError::NoRoot)?;
        let envelope = self.read_metadata(&record).await?;
        let root =
            verify_self_signed_root(&envelope).map_err(|e| RepositoryError::CorruptState {
                what: format!("root version {}", record.version),
                reason: e.to_string(),
            })?;
        Ok(root.into_inner())
    }

    async fn read_metadata_bytes(
        &self,
        record: &MetadataRecord,
    ) -> Result<Vec<u8>, RepositoryError> {
        Ok(self
            .blobs
            .read_small(&record.sha256, MAX_METADATA_SIZE)
            .await?)
    }

    async fn read_metadata(
        &self,
        record: &MetadataRecord,
    ) -> Result<SignedEnvelope, RepositoryError> {
        let bytes = self.read_metadata_bytes(record).await?;
        SignedEnvelope::from_slice(&bytes, &format!("stored {}", record.role)).map_err(|e| {
            RepositoryError::CorruptState {
                what: format!("{} version {}", record.role, record.version),
                reason: e.to_string(),
            }
        })
    }

    /// Stores a metadata file's bytes as a blob and describes it for the store.
    async fn put_metadata<T: Metadata>(
        &self,
        metadata: &T,
        bytes: &[u8],
    ) -> Result<MetadataRecord, RepositoryError> {
        let stored = self.blobs.put_bytes(bytes).await?;
        Ok(MetadataRecord {
            role: T::ROLE_TYPE,
            version: metadata.version(),
            sha256: stored.id,
            length: stored.length,
            expires: metadata.expires(),
        })
    }

    /// Signs online metadata with its role's key and stores the file.
    async fn sign_and_put<T: Metadata>(
        &self,
        metadata: &T,
        key: &SigningKey,
    ) -> Result<(Vec<u8>, MetadataRecord), RepositoryError> {
        let signing = |source| RepositoryError::Signing {
            role: T::ROLE_TYPE,
            source,
        };
        let bytes = sign_metadata(metadata, &[key])
            .and_then(|envelope| envelope.to_bytes())
            .map_err(signing)?;
        let record = self.put_metadata(metadata, &bytes).await?;
        Ok((bytes, record))
    }
}

/// `now + lifetime`, rounded up to the whole second `expires` can carry.
fn expiry_after(now: DateTime<Utc>, lifetime: Duration) -> DateTime<Utc> {
    let exact = TimeDelta::from_std(lifetime)
        .ok()
        .and_then(|delta| now.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let whole = update_core::schema::whole_seconds(exact);
    if whole < exact {
        whole + TimeDelta::seconds(1)
    } else {
        whole
    }
}
