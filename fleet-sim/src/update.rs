//! A simulated device's update, with the device's own code: the TUF refresh and target
//! search of `update_client::tuf::Updater` (every verification rule is
//! `update_core::trust`'s), the release checks of `update_client::decision`, the payload
//! choice of `update_client::payload`, and the length- and hash-checked target download.
//! Only the slot is simulated: the verified image lands in memory and is dropped.

use std::path::{Path, PathBuf};

use reqwest::Url;
use update_client::decision::{self, Device};
use update_client::fetch::{HttpClient, join_url};
use update_client::payload::{self, Form, Unusable, payload_of};
use update_client::tuf::{Limits, Updater};
use update_core::api::{Assignment, Payload, paths};
use update_core::firmware::Firmware;
use update_core::schema::TargetFile;
use update_core::trust::TrustedMetadata;

/// Largest image a simulated slot holds.
pub const MAX_SIM_IMAGE: u64 = 64 * 1024 * 1024;

/// The agent's default `trust.max_metadata_size`.
const MAX_METADATA_SIZE: u64 = 1024 * 1024;

/// Where a device finds the repository and what it trusts first.
#[derive(Clone, Debug)]
pub struct Repository {
    metadata_url: Url,
    targets_url: Url,
    /// The provisioned root.json, trusted when a device's metadata directory has none.
    anchor: PathBuf,
}

impl Repository {
    /// The repository served under `base` (`/metadata`, `/targets`), as the agent's
    /// `repository_url`.
    pub fn new(base: &Url, anchor: PathBuf) -> Result<Repository, update_client::Error> {
        Ok(Repository {
            metadata_url: join_url(base, paths::METADATA)?,
            targets_url: join_url(base, paths::TARGETS)?,
            anchor,
        })
    }
}

/// The agent's limits for its default `max_metadata_size` (`agent::updater_for`).
fn metadata_limits() -> Limits {
    let defaults = Limits::default();
    Limits {
        root: MAX_METADATA_SIZE,
        timestamp: defaults.timestamp.min(MAX_METADATA_SIZE),
        snapshot: MAX_METADATA_SIZE,
        targets: MAX_METADATA_SIZE,
        ..defaults
    }
}

/// Why an update did not get its image.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The network or server failed: the device tries again at its next poll, as the
    /// agent does, and nothing is reported.
    #[error("interrupted: {0}")]
    Interrupted(update_client::Error),
    /// Verification or the release checks failed: reported as `failure`.
    #[error("{0}")]
    Refused(String),
}

impl UpdateError {
    fn from_client(error: update_client::Error) -> UpdateError {
        match error.is_transient() {
            true => UpdateError::Interrupted(error),
            false => UpdateError::Refused(error.to_string()),
        }
    }
}

/// A release verified for this device, ready to download.
pub struct Verified {
    trusted: TrustedMetadata,
    target: TargetFile,
    pub firmware: Firmware,
    pub payload: Payload,
}

/// One device's view of the repository (its metadata directory).
pub struct DeviceRepository {
    updater: Updater,
}

impl DeviceRepository {
    pub fn new(http: HttpClient, repository: &Repository, metadata_dir: &Path) -> Self {
        let updater = Updater::new(
            http,
            repository.metadata_url.clone(),
            repository.targets_url.clone(),
            metadata_dir,
            Some(repository.anchor.clone()),
            metadata_limits(),
        );
        DeviceRepository { updater }
    }

    /// Refreshes the metadata, finds the assigned target and checks it is for `device`.
    pub async fn verify(
        &self,
        device: &Device<'_>,
        assignment: &Assignment,
    ) -> Result<Verified, UpdateError> {
        let mut trusted = self
            .updater
            .refresh()
            .await
            .map_err(UpdateError::from_client)?
            .trusted;
        let target = self
            .updater
            .find_target(&mut trusted, &assignment.target_name)
            .await
            .map_err(UpdateError::from_client)?;
        let firmware = decision::decide(
            device,
            &assignment.target_name,
            target.as_ref(),
            &assignment.version,
        )
        .map_err(|refusal| UpdateError::Refused(refusal.to_string()))?;
        let target = target.ok_or_else(|| {
            UpdateError::Refused(format!(
                "{} vanished from the metadata",
                assignment.target_name
            ))
        })?;
        // The simulated slot keeps no running image to patch and no spool to
        // decompress into: the raw image travels, for the reason the planner gives.
        let raw = Form::raw(&assignment.target_name, &target, &firmware);
        let plan = payload::plan(raw, Err(Unusable::Disabled), Err(Unusable::Disabled));
        let step = plan
            .steps
            .last()
            .ok_or_else(|| UpdateError::Refused("no form of the release to install".into()))?;
        let payload = payload_of(step, None);
        Ok(Verified {
            trusted,
            target,
            firmware,
            payload,
        })
    }

    /// Downloads the verified target into a simulated slot in memory; the download
    /// checks the signed length and hashes. Returns the bytes received.
    pub async fn download(&self, verified: &Verified) -> Result<u64, UpdateError> {
        let name = &verified.payload.target_name;
        if verified.target.length > MAX_SIM_IMAGE {
            return Err(UpdateError::Refused(format!(
                "{name} is {} bytes, more than a simulated slot ({MAX_SIM_IMAGE})",
                verified.target.length
            )));
        }
        let url = self
            .updater
            .target_url(&verified.trusted, name, &verified.target)
            .map_err(UpdateError::from_client)?;
        let mut slot = Vec::with_capacity(verified.target.length as usize);
        self.updater
            .download_target(&url, name, &verified.target, |bytes| {
                slot.extend_from_slice(bytes);
                Ok(())
            })
            .await
            .map_err(UpdateError::from_client)
    }
}

/// The device-facing view of the decision inputs.
pub fn device<'a>(
    class: &'a str,
    hardware_id: &'a str,
    running_version: &'a semver::Version,
) -> Device<'a> {
    Device {
        class,
        hardware_id,
        running_version,
    }
}
