//! A simulated device's update, with the device's own code: the TUF refresh and target
//! search of `update_client::tuf::Updater` (every verification rule is
//! `update_core::trust`'s), the release checks of `update_client::decision`, the payload
//! choice of `update_client::payload`, and the length- and hash-checked target download.
//! Only the slot is simulated: the verified image lands in memory and is dropped.

use std::path::{Path, PathBuf};

use reqwest::Url;
use update_client::config::{DEFAULT_DELTA_MEMORY, DEFAULT_MAX_DELTA_SPOOL, PayloadConfig};
use update_client::decision::{self, Device};
use update_client::fetch::{HttpClient, join_url};
use update_client::payload::{self, Form, Step, Unusable, payload_of};
use update_client::tuf::{Limits, Updater};
use update_core::api::{Assignment, Payload, PayloadKind, paths};
use update_core::firmware::{Firmware, ImageInfo};
use update_core::hash::sha256_hex;
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
    /// The forms to try, best first, ending with the raw image.
    steps: Vec<Step>,
    pub firmware: Firmware,
    /// The form tried first (what `downloading` reports).
    pub payload: Payload,
}

/// An image in the simulated slot.
pub struct Downloaded {
    /// Bytes received over every form tried.
    pub bytes: u64,
    /// The form that made the image (after a fallback: the raw image, saying why).
    pub payload: Payload,
}

/// Largest zstd window accepted: frames hold at most `ZSTD_FRAME_MAX` (4 MiB) of image.
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

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
        // A simulated slot keeps no running image to patch: the compressed image when
        // published and valid, else the raw image, as the planner decides.
        let raw = Form::raw(&assignment.target_name, &target, &firmware);
        let zstd_lookup = match self
            .updater
            .find_target(&mut trusted, &payload::zstd_name(&raw))
            .await
        {
            Ok(found) => Ok(found),
            Err(e) if e.is_interruption() => return Err(UpdateError::Interrupted(e)),
            Err(e) => Err(e.to_string()),
        };
        let config = payload_config();
        let zstd = payload::check_zstd(&config, &raw, &zstd_lookup);
        let plan = payload::plan(raw, Err(Unusable::Disabled), zstd);
        let payload = plan
            .steps
            .first()
            .map(|step| payload_of(step, None))
            .ok_or_else(|| UpdateError::Refused("no form of the release to install".into()))?;
        Ok(Verified {
            trusted,
            steps: plan.steps,
            firmware,
            payload,
        })
    }

    /// Installs the plan's forms in order into a simulated slot in memory until one
    /// makes the signed image (length and hashes checked by the download, the image's
    /// length and sha256 after decompression); a failed compressed form falls back to
    /// the raw image in the same run, as the agent does.
    pub async fn download(&self, verified: &Verified) -> Result<Downloaded, UpdateError> {
        let mut bytes = 0;
        let mut failure: Option<String> = None;
        for (index, step) in verified.steps.iter().enumerate() {
            let mut payload = payload_of(step, None);
            if let Some(failure) = &failure {
                payload.reason =
                    format!("{}; the compressed image failed: {failure}", payload.reason);
            }
            let (received, result) = self.install_form(verified, &step.form).await;
            bytes += received;
            match result {
                Ok(()) => return Ok(Downloaded { bytes, payload }),
                Err(UpdateError::Interrupted(e)) => return Err(UpdateError::Interrupted(e)),
                Err(UpdateError::Refused(reason)) if index + 1 == verified.steps.len() => {
                    return Err(UpdateError::Refused(reason));
                }
                Err(UpdateError::Refused(reason)) => failure = Some(reason),
            }
        }
        Err(UpdateError::Refused(
            "no form of the release to install".into(),
        ))
    }

    /// Downloads one form and checks it makes the image; returns the bytes received.
    async fn install_form(
        &self,
        verified: &Verified,
        form: &Form,
    ) -> (u64, Result<(), UpdateError>) {
        let name = &form.target_name;
        if form.target.length > MAX_SIM_IMAGE || verified.firmware.image.length > MAX_SIM_IMAGE {
            let reason = format!("{name} is larger than a simulated slot ({MAX_SIM_IMAGE} bytes)");
            return (0, Err(UpdateError::Refused(reason)));
        }
        let url = match self
            .updater
            .target_url(&verified.trusted, name, &form.target)
        {
            Ok(url) => url,
            Err(e) => return (0, Err(UpdateError::from_client(e))),
        };
        let mut received = Vec::with_capacity(form.target.length as usize);
        let downloaded = self
            .updater
            .download_target(&url, name, &form.target, |bytes| {
                received.extend_from_slice(bytes);
                Ok(())
            })
            .await;
        let bytes = received.len() as u64;
        if let Err(e) = downloaded {
            return (bytes, Err(UpdateError::from_client(e)));
        }
        let result = match form.kind {
            PayloadKind::Zstd => check_decompressed(&received, &verified.firmware.image),
            // The raw target's signed hashes are the image's (decision::decide checked).
            PayloadKind::Raw | PayloadKind::Delta => Ok(()),
        };
        (bytes, result.map_err(UpdateError::Refused))
    }
}

/// The image a zstd form decompresses to must be exactly the signed image.
fn check_decompressed(compressed: &[u8], image: &ImageInfo) -> Result<(), String> {
    use std::io::Read as _;
    let mut decoder =
        zstd::stream::read::Decoder::new(compressed).map_err(|e| format!("zstd decoder: {e}"))?;
    decoder
        .window_log_max(ZSTD_WINDOW_LOG_MAX)
        .map_err(|e| format!("zstd decoder: {e}"))?;
    let mut image_bytes = Vec::new();
    decoder
        .take(image.length.saturating_add(1))
        .read_to_end(&mut image_bytes)
        .map_err(|e| format!("corrupt zstd data: {e}"))?;
    if image_bytes.len() as u64 != image.length || sha256_hex(&image_bytes) != image.sha256 {
        return Err("the compressed image does not decompress to the signed image".into());
    }
    Ok(())
}

/// The payload settings of a simulated device: no deltas (no running image to patch).
fn payload_config() -> PayloadConfig {
    PayloadConfig {
        delta: false,
        zstd: true,
        delta_memory: DEFAULT_DELTA_MEMORY,
        spool_dir: PathBuf::new(),
        max_delta_spool: DEFAULT_MAX_DELTA_SPOOL,
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
