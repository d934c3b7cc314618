//! The repository's optional settings file, `DIR/ota.toml`: defaults for `ota release
//! add` that a team sets once per repository rather than on every command line. Flags
//! override it.
//!
//! ```toml
//! [release]
//! deltas = 3                    # deltas from the class's last N releases (0: none)
//! zstd = true                   # publish the zstd-compressed image
//! zstd_level = 19
//! delta_memory_budget = 8388608 # bytes a device may need to apply a delta
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use crate::fsutil::read_limited;
use crate::local_repo::{LocalRepo, RepoError};

/// File name of the settings inside the repository directory.
pub const FILE_NAME: &str = "ota.toml";
const MAX_CONFIG_FILE: u64 = 64 * 1024;

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    #[serde(default)]
    pub release: ReleaseDefaults,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseDefaults {
    pub deltas: Option<usize>,
    pub zstd: Option<bool>,
    pub zstd_level: Option<i32>,
    pub delta_memory_budget: Option<u64>,
}

/// `DIR/ota.toml`, or the defaults when there is none.
pub fn load(repo: &LocalRepo) -> Result<RepoConfig, RepoError> {
    let path = config_path(repo);
    if path.symlink_metadata().is_err() {
        return Ok(RepoConfig::default());
    }
    let bytes = read_limited(&path, MAX_CONFIG_FILE).map_err(|source| RepoError::Read {
        path: path.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| RepoError::Config {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| RepoError::Config {
        path,
        reason: e.message().to_string(),
    })
}

pub fn config_path(repo: &LocalRepo) -> PathBuf {
    repo.dir().join(FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_means_defaults_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let repo = LocalRepo::new(dir.path());
        assert_eq!(load(&repo).unwrap(), RepoConfig::default());

        std::fs::write(
            config_path(&repo),
            "[release]\ndeltas = 5\nzstd = false\nzstd_level = 7\n",
        )
        .unwrap();
        let config = load(&repo).unwrap();
        assert_eq!(config.release.deltas, Some(5));
        assert_eq!(config.release.zstd, Some(false));
        assert_eq!(config.release.zstd_level, Some(7));

        std::fs::write(config_path(&repo), "[release]\ndelta = 5\n").unwrap();
        let err = load(&repo).unwrap_err();
        assert!(err.to_string().contains("ota.toml"), "{err}");
        assert!(err.to_string().contains("delta"), "{err}");
    }
}
