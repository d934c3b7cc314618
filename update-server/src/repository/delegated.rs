//! Publishing a delegated targets role (the signing role of one device class,
//! docs/delegations.md): verified against the current top-level targets' delegation,
//! confined to its class's space, its images uploaded; then a new snapshot naming it and
//! a new timestamp.

use chrono::Utc;
use update_core::api::TargetsPublished;
use update_core::class_delegation::{check_class_delegations, check_class_role_targets};
use update_core::schema::{Delegations, RoleType, SignedEnvelope, Targets};
use update_core::trust::verify_role;

use super::{MAX_METADATA_SIZE, Repository, RepositoryError};
use crate::store::{DelegatedPublish, DelegatedRecord};

/// A class role's verified metadata, with what it adds to the store.
pub(super) struct VerifiedRole {
    pub targets: Targets,
    pub contents: super::publish::TargetsContents,
}

impl Repository {
    /// Verifies `bytes` as the next version of delegated role `role_name` and publishes it.
    pub async fn publish_delegated(
        &self,
        role_name: &str,
        bytes: &[u8],
    ) -> Result<TargetsPublished, RepositoryError> {
        let _change = self.change_lock.lock().await;
        let now = Utc::now();
        let (top_level, top_level_bytes) = self.current_targets().await?;
        let delegations = top_level
            .delegations
            .as_ref()
            .filter(|d| d.roles.iter().any(|r| r.name == role_name))
            .ok_or_else(|| RepositoryError::NotDelegated(role_name.to_string()))?;
        let role = self
            .verify_class_role(delegations, role_name, bytes)
            .await?;
        let current = self.store.latest_delegated(role_name).await?;
        let current_version = current.map_or(0, |record| record.version);
        if role.targets.version <= current_version {
            return Err(RepositoryError::RoleNotNewer {
                role: role_name.to_string(),
                version: role.targets.version,
                current: current_version,
            });
        }
        if role.targets.expires <= now {
            return Err(RepositoryError::Invalid(format!(
                "{role_name}.json expired at {}",
                role.targets.expires
            )));
        }
        let stored = self.blobs.put_bytes(bytes).await?;
        let record = DelegatedRecord {
            role_name: role_name.to_string(),
            version: role.targets.version,
            sha256: stored.id,
            length: stored.length,
            expires: role.targets.expires,
        };
        let signed = self
            .sign_snapshot_and_timestamp(top_level.version, &top_level_bytes, Some(&record), now)
            .await?;
        let result = signed.published;
        self.store
            .record_delegated_publish(DelegatedPublish {
                role: &record,
                metadata: &[signed.snapshot, signed.timestamp],
                targets_version: top_level.version,
                targets: &role.contents.files,
                releases: &role.contents.releases,
            })
            .await?;
        self.store
            .record_config_profiles(&role.contents.profiles, top_level.version)
            .await?;
        self.changed.notify_one();
        tracing::info!(
            role = role_name,
            version = record.version,
            snapshot = result.snapshot_version,
            releases = role.contents.releases.len(),
            "published delegated role"
        );
        Ok(result)
    }

    /// Checks `bytes` as metadata of class role `role_name` under `delegations`: a
    /// threshold of the role's keys, only targets of its own class, images uploaded.
    pub(super) async fn verify_class_role(
        &self,
        delegations: &Delegations,
        role_name: &str,
        bytes: &[u8],
    ) -> Result<VerifiedRole, RepositoryError> {
        let what = "delegated role metadata";
        let rejected = |source| RepositoryError::Rejected { what, source };
        let role = delegations
            .roles
            .iter()
            .find(|r| r.name == role_name)
            .ok_or_else(|| RepositoryError::NotDelegated(role_name.to_string()))?;
        let envelope =
            SignedEnvelope::from_slice(bytes, &format!("{role_name}.json")).map_err(rejected)?;
        let targets = verify_role::<Targets>(
            &envelope,
            role_name,
            &delegations.keys,
            &role.keyids,
            role.threshold,
        )
        .map_err(rejected)?
        .into_inner();
        check_class_role_targets(role_name, &targets)
            .map_err(|e| RepositoryError::Invalid(e.to_string()))?;
        let contents = self.check_targets(&targets).await?;
        Ok(VerifiedRole { targets, contents })
    }

    /// The current top-level targets (verified against the current root) and its bytes.
    async fn current_targets(&self) -> Result<(Targets, Vec<u8>), RepositoryError> {
        let root = self.current_root().await?;
        let record = self
            .store
            .latest_metadata(RoleType::Targets)
            .await?
            .ok_or(RepositoryError::NoTargets)?;
        let bytes = self.read_metadata_bytes(&record).await?;
        let envelope = SignedEnvelope::from_slice(&bytes, "stored targets.json").map_err(|e| {
            RepositoryError::CorruptState {
                what: "targets.json".into(),
                reason: e.to_string(),
            }
        })?;
        let targets = update_core::trust::verify_with_root::<Targets>(&root, &envelope)
            .map_err(|e| RepositoryError::CorruptState {
                what: format!("targets version {}", record.version),
                reason: e.to_string(),
            })?
            .into_inner();
        Ok((targets, bytes))
    }

    /// For a new top-level targets version: its delegations must follow the class rule,
    /// and each delegated role's stored metadata that still verifies under them keeps
    /// its releases and profiles current. A role that no longer verifies (its keys
    /// changed) stays unpublished until a new version is uploaded.
    pub(super) async fn still_delegated(
        &self,
        targets: &Targets,
    ) -> Result<Vec<VerifiedRole>, RepositoryError> {
        let Some(delegations) = targets.delegations.as_ref() else {
            return Ok(Vec::new());
        };
        check_class_delegations(delegations)
            .map_err(|e| RepositoryError::Invalid(e.to_string()))?;
        let mut roles = Vec::new();
        for role in &delegations.roles {
            let Some(record) = self.store.latest_delegated(&role.name).await? else {
                continue;
            };
            let bytes = self
                .blobs
                .read_small(&record.sha256, MAX_METADATA_SIZE)
                .await?;
            match self
                .verify_class_role(delegations, &role.name, &bytes)
                .await
            {
                Ok(verified) => roles.push(verified),
                Err(error) => tracing::warn!(
                    role = %role.name,
                    %error,
                    "the stored role no longer verifies under the new delegation; upload a new version"
                ),
            }
        }
        Ok(roles)
    }
}
