//! Configuration drift on simulated devices: each device holds the files of its class's
//! signed configuration profile, and a chosen share of devices (deterministic per device
//! id and seed) has edited the first of them. Check-ins carry the digests only, as the
//! real agent's do. The simulator takes the profile from a file the operator gives (the
//! same JSON `ota config add` signed) instead of fetching it through TUF at every
//! check-in, which the real agent does.

use std::path::Path;

use update_core::api::{ConfigState, FileDigest};
use update_core::config_profile::{ConfigProfile, profile_target_name};
use update_core::hash::sha256_hex;

use crate::fate::unit_draw;

/// What the simulated devices measure.
#[derive(Clone, Debug)]
pub struct SimulatedConfig {
    pub profile: ConfigProfile,
    /// Share of devices whose first listed file was edited.
    pub drift_rate: f64,
    pub seed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration profile {path}: {reason}")]
    Read { path: String, reason: String },
}

impl SimulatedConfig {
    pub fn load(path: &Path, drift_rate: f64, seed: u64) -> Result<SimulatedConfig, ConfigError> {
        let error = |reason: String| ConfigError::Read {
            path: path.display().to_string(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| error(e.to_string()))?;
        let profile = ConfigProfile::parse(&bytes).map_err(|e| error(e.to_string()))?;
        Ok(SimulatedConfig {
            profile,
            drift_rate,
            seed,
        })
    }

    /// Whether `device_id` has edited its configuration.
    pub fn drifted(&self, device_id: &str) -> bool {
        unit_draw(self.seed, device_id, "configuration") < self.drift_rate
    }

    /// The digests `device_id` reports at check-in.
    pub fn state(&self, device_id: &str) -> ConfigState {
        let edited = self.drifted(device_id);
        let files: Vec<FileDigest> = self
            .profile
            .files
            .iter()
            .enumerate()
            .map(|(index, file)| FileDigest {
                path: file.path.clone(),
                sha256: Some(if edited && index == 0 {
                    sha256_hex(format!("{device_id} edited {}", file.path).as_bytes())
                } else {
                    file.sha256.clone()
                }),
            })
            .collect();
        let drifted = self.profile.drifted(&files);
        ConfigState {
            profile: profile_target_name(&self.profile.class, self.profile.version),
            version: self.profile.version,
            files,
            drifted,
        }
    }
}
