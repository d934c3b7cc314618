//! Accepting a new targets version: verification, the check that every firmware image
//! is uploaded, and its publication with a new snapshot and timestamp.

use chrono::Utc;
use update_core::api::{Release, TargetsPublished};
use update_core::firmware::Firmware;
use update_core::schema::{RoleType, SignedEnvelope, Targets};
use update_core::trust::verify_with_root;

use super::{Repository, RepositoryError};
use crate::store::PublishedTarget;
use crate::store::blobs::BlobId;

/// What a targets version lists, in the form the store records it.
struct TargetsContents {
    files: Vec<PublishedTarget>,
    releases: Vec<Release>,
}

impl Repository {
    /// Verifies `bytes` as the next targets version and publishes it.
    pub async fn publish_targets(&self, bytes: &[u8]) -> Result<TargetsPublished, RepositoryError> {
        let _change = self.change_lock.lock().await;
        let now = Utc::now();
        let root = self.current_root().await?;
        let rejected = |source| RepositoryError::Rejected {
            what: "targets.json",
            source,
        };
        let envelope = SignedEnvelope::from_slice(bytes, "targets.json").map_err(rejected)?;
        let targets = verify_with_root::<Targets>(&root, &envelope)
            .map_err(rejected)?
            .into_inner();
        let current = self.store.latest_metadata(RoleType::Targets).await?;
        let current_version = current.map_or(0, |record| record.version);
        if targets.version <= current_version {
            return Err(RepositoryError::NotNewer {
                role: RoleType::Targets,
                version: targets.version,
                current: current_version,
            });
        }
        if targets.expires <= now {
            return Err(RepositoryError::Invalid(format!(
                "targets.json expired at {}",
                targets.expires
            )));
        }
        if targets
            .delegations
            .as_ref()
            .is_some_and(|d| !d.roles.is_empty())
        {
            return Err(RepositoryError::Invalid(
                "targets.json delegates to other roles, which this server does not publish".into(),
            ));
        }
        let contents = self.check_targets(&targets).await?;

        let targets_record = self.put_metadata(&targets, bytes).await?;
        let (snapshot_bytes, snapshot_record) =
            self.sign_snapshot(targets.version, bytes, now).await?;
        let timestamp_record = self
            .sign_timestamp(snapshot_record.version, &snapshot_bytes, now)
            .await?;
        let result = TargetsPublished {
            targets_version: targets.version,
            snapshot_version: snapshot_record.version,
            timestamp_version: timestamp_record.version,
        };
        self.store
            .record_publish(
                &[targets_record, snapshot_record, timestamp_record],
                targets.version,
                &contents.files,
                &contents.releases,
            )
            .await?;
        self.changed.notify_one();
        tracing::info!(
            targets = result.targets_version,
            snapshot = result.snapshot_version,
            timestamp = result.timestamp_version,
            releases = contents.releases.len(),
            "published targets"
        );
        Ok(result)
    }

    /// Reads the firmware fields of every target and checks that each firmware image is
    /// stored with the signed hash and length.
    async fn check_targets(&self, targets: &Targets) -> Result<TargetsContents, RepositoryError> {
        let mut contents = TargetsContents {
            files: Vec::new(),
            releases: Vec::new(),
        };
        for (name, file) in &targets.targets {
            let firmware =
                Firmware::of_target(name, file).map_err(|source| RepositoryError::Rejected {
                    what: "targets.json",
                    source,
                })?;
            let sha256 = file
                .sha256()
                .map(BlobId::parse)
                .transpose()
                .map_err(|e| RepositoryError::Invalid(format!("target {name:?}: {e}")))?;
            if let Some(firmware) = firmware {
                let Some(sha256) = sha256.clone() else {
                    return Err(RepositoryError::Invalid(format!(
                        "firmware target {name:?} has no sha256 hash"
                    )));
                };
                if self.blobs.len(&sha256).await? != Some(file.length) {
                    return Err(RepositoryError::MissingImage {
                        target: name.clone(),
                        sha256: sha256.to_string(),
                        length: file.length,
                    });
                }
                contents.releases.push(Release {
                    target_name: name.clone(),
                    version: firmware.version,
                    class: firmware.class,
                    hardware: firmware.hardware,
                    sha256: sha256.to_string(),
                    length: file.length,
                });
            }
            if let Some(sha256) = sha256 {
                contents.files.push(PublishedTarget {
                    target_name: name.clone(),
                    sha256,
                    length: file.length,
                });
            }
        }
        Ok(contents)
    }
}
