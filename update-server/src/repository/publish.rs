//! Accepting a new targets version: verification, the check that every firmware image
//! is uploaded, and its publication with a new snapshot and timestamp.
//!
//! Only raw firmware targets are releases (assigned to devices, counted in status and
//! metrics); the zstd and delta forms of a release are published targets devices may
//! download instead, and must name a raw release of the same targets version.
//! Configuration profiles (targets with `custom.config_profile`) are parsed and kept so
//! that device configuration can be checked against them.

use std::collections::BTreeMap;

use chrono::Utc;
use update_core::api::{Release, TargetsPublished};
use update_core::config_profile::{ConfigProfile, MAX_PROFILE_SIZE, profile_of_target};
use update_core::firmware::{Encoding, Firmware, delta_target_name, zstd_target_name};
use update_core::schema::{RoleType, SignedEnvelope, Targets};
use update_core::trust::verify_with_root;

use super::{Repository, RepositoryError};
use crate::store::blobs::BlobId;
use crate::store::{PublishedTarget, StoredProfile};

/// What a targets version lists, in the form the store records it.
pub(super) struct TargetsContents {
    pub files: Vec<PublishedTarget>,
    pub releases: Vec<Release>,
    pub profiles: Vec<StoredProfile>,
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
        let mut contents = self.check_targets(&targets).await?;
        for role in self.still_delegated(&targets).await? {
            contents.files.extend(role.contents.files);
            contents.releases.extend(role.contents.releases);
            contents.profiles.extend(role.contents.profiles);
        }

        let targets_record = self.put_metadata(&targets, bytes).await?;
        let signed = self
            .sign_snapshot_and_timestamp(targets.version, bytes, None, now)
            .await?;
        let result = signed.published;
        self.store
            .record_publish(
                &[targets_record, signed.snapshot, signed.timestamp],
                targets.version,
                &contents.files,
                &contents.releases,
            )
            .await?;
        self.store
            .record_config_profiles(&contents.profiles, targets.version)
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

    /// Reads the firmware fields of every target and checks that each firmware target's
    /// file is stored with the signed hash and length, and that every compressed or delta
    /// form stands for a raw release listed beside it.
    pub(super) async fn check_targets(
        &self,
        targets: &Targets,
    ) -> Result<TargetsContents, RepositoryError> {
        let mut contents = TargetsContents {
            files: Vec::new(),
            releases: Vec::new(),
            profiles: Vec::new(),
        };
        let mut firmware_targets = BTreeMap::new();
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
            let carries_profile = file
                .custom
                .as_ref()
                .is_some_and(|c| c.get(update_core::config_profile::CUSTOM_KEY).is_some());
            if firmware.is_some() && carries_profile {
                return Err(RepositoryError::Invalid(format!(
                    "target {name:?} cannot be both firmware and a configuration profile"
                )));
            }
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
                if firmware.encoding == Encoding::Raw {
                    contents.releases.push(Release {
                        target_name: name.clone(),
                        version: firmware.version.clone(),
                        class: firmware.class.clone(),
                        hardware: firmware.hardware.clone(),
                        sha256: sha256.to_string(),
                        length: file.length,
                    });
                }
                firmware_targets.insert(name.as_str(), firmware);
            } else if let Some(profile) = self.check_profile(name, file, sha256.as_ref()).await? {
                contents.profiles.push(profile);
            }
            if let Some(sha256) = sha256 {
                contents.files.push(PublishedTarget {
                    target_name: name.clone(),
                    sha256,
                    length: file.length,
                });
            }
        }
        for (name, firmware) in &firmware_targets {
            check_form(name, firmware, &firmware_targets).map_err(RepositoryError::Invalid)?;
        }
        Ok(contents)
    }
}

impl Repository {
    /// A configuration profile target must be named after its signed class and version,
    /// be uploaded, and hold a valid profile of that very class and version.
    async fn check_profile(
        &self,
        name: &str,
        file: &update_core::schema::TargetFile,
        sha256: Option<&BlobId>,
    ) -> Result<Option<StoredProfile>, RepositoryError> {
        let invalid =
            |reason: String| RepositoryError::Invalid(format!("target {name:?}: {reason}"));
        let Some(reference) = profile_of_target(name, file).map_err(|e| invalid(e.to_string()))?
        else {
            return Ok(None);
        };
        let Some(sha256) = sha256 else {
            return Err(invalid(
                "a configuration profile needs a sha256 hash".into(),
            ));
        };
        if self.blobs.len(sha256).await? != Some(file.length) {
            return Err(RepositoryError::MissingImage {
                target: name.to_string(),
                sha256: sha256.to_string(),
                length: file.length,
            });
        }
        let bytes = self.blobs.read_small(sha256, MAX_PROFILE_SIZE).await?;
        let profile = ConfigProfile::parse(&bytes).map_err(|e| invalid(e.to_string()))?;
        if profile.reference() != reference {
            return Err(invalid(format!(
                "the file is profile {} version {}, the target says {} version {}",
                profile.class, profile.version, reference.class, reference.version
            )));
        }
        Ok(Some(StoredProfile {
            target_name: name.to_string(),
            sha256: sha256.to_string(),
            profile,
        }))
    }
}

/// A zstd or delta target must be named after the raw release it stands for (and, for a
/// delta, after its base), and that release must be listed with the same firmware fields:
/// devices find these forms by name and trust the raw release's description of the image.
fn check_form(
    name: &str,
    firmware: &Firmware,
    firmware_targets: &BTreeMap<&str, Firmware>,
) -> Result<(), String> {
    let expected_name = match (firmware.encoding, &firmware.release, &firmware.base) {
        (Encoding::Raw, _, _) => return Ok(()),
        (Encoding::Zstd, Some(release), _) => zstd_target_name(release),
        (Encoding::Delta, Some(release), Some(base)) => delta_target_name(release, &base.sha256),
        (encoding, _, _) => {
            return Err(format!(
                "target {name:?}: encoding {encoding:?} without the raw release it stands for"
            ));
        }
    };
    let release = firmware.release.as_deref().unwrap_or_default();
    if name != expected_name {
        return Err(format!(
            "target {name:?} must be named {expected_name:?} after its release and base"
        ));
    }
    match firmware_targets.get(release) {
        Some(raw) if raw.encoding == Encoding::Raw && raw.same_release(firmware) => Ok(()),
        Some(_) => Err(format!(
            "target {name:?} describes a different image, version, class or hardware than its release {release:?}"
        )),
        None => Err(format!(
            "target {name:?} stands for release {release:?}, which this targets version does not list"
        )),
    }
}
