//! Root rotation: accepting root version N+1 signed by a threshold of the old and the new
//! root keys.

use std::sync::atomic::Ordering;

use chrono::Utc;
use update_core::schema::{RoleType, Root, SignedEnvelope};
use update_core::trust::verify_root_update;

use super::{Repository, RepositoryError, keys};

impl Repository {
    /// Verifies `bytes` as the successor of the current root and makes it current.
    ///
    /// Refused as well when the new root would not authorise this server's online keys:
    /// the server could then publish nothing clients accept. Rotate an online key in two
    /// steps: a root listing old and new key, a restart with the new key, a root without
    /// the old one.
    pub async fn update_root(&self, bytes: &[u8]) -> Result<u64, RepositoryError> {
        let _change = self.change_lock.lock().await;
        let current = self.current_root().await?;
        let rejected = |source| RepositoryError::Rejected {
            what: "root.json",
            source,
        };
        let envelope = SignedEnvelope::from_slice(bytes, "root.json").map_err(rejected)?;
        let claimed: Root = envelope.parse_unverified().map_err(rejected)?;
        if claimed.version <= current.version {
            return Err(RepositoryError::NotNewer {
                role: RoleType::Root,
                version: claimed.version,
                current: current.version,
            });
        }
        let root = verify_root_update(&current, &envelope)
            .map_err(rejected)?
            .into_inner();
        if root.expires <= Utc::now() {
            return Err(RepositoryError::Invalid(format!(
                "root.json expired at {}",
                root.expires
            )));
        }
        keys::check_authorised(&self.keys, &root)?;
        let record = self.put_metadata(&root, bytes).await?;
        self.store.insert_metadata(&[record]).await?;
        self.check_signatures.store(true, Ordering::Release);
        self.changed.notify_one();
        tracing::info!(version = root.version, "root updated");
        Ok(root.version)
    }
}
