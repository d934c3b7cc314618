//! Configuration profiles: the signed list of configuration files (path and sha256) a
//! device class is expected to carry, published as a TUF target of its own.
//!
//! ```json
//! {"class": "camera", "version": 3,
//!  "files": [{"path": "/etc/ssh/sshd_config", "sha256": "…"}]}
//! ```
//! The profile is the target `config/<class>-<version>.json`, whose `custom` names the
//! class and version (`{"config_profile": {"class": "camera", "version": 3}}`), so a
//! device finds the newest profile of its own class from verified targets metadata alone:
//! the server cannot point it at another class's profile.

use serde::{Deserialize, Serialize};

use crate::api::FileDigest;
use crate::firmware::check_identifier;
use crate::schema::{TargetFile, Targets};

/// Key of the profile reference inside a target's `custom`.
pub const CUSTOM_KEY: &str = "config_profile";
/// Most files one profile lists.
pub const MAX_FILES: usize = 256;
/// Longest path a profile lists, in bytes.
pub const MAX_PATH_LEN: usize = 512;
/// Largest profile file a device or server reads.
pub const MAX_PROFILE_SIZE: u64 = 256 * 1024;
/// Directory of profile targets in the repository.
pub const TARGET_DIR: &str = "config/";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProfileError {
    #[error("configuration profile is not valid JSON: {0}")]
    Json(String),
    #[error("configuration profile: {0}")]
    Identifier(String),
    #[error("configuration profile version must be at least 1")]
    Version,
    #[error("configuration profile lists {0} files; at most {MAX_FILES} are allowed")]
    TooManyFiles(usize),
    #[error(
        "configuration profile path {0:?} is not an absolute path without '.', '..' or empty parts (at most {MAX_PATH_LEN} bytes)"
    )]
    BadPath(String),
    #[error(
        "configuration profile paths must be sorted and unique; {0:?} is out of order or repeated"
    )]
    Unsorted(String),
    #[error("configuration profile sha256 of {path:?} is not 64 lowercase hex digits")]
    BadDigest { path: String },
    #[error("target {name:?} must be named {expected:?} after the profile it carries")]
    Name { name: String, expected: String },
    #[error("target {name:?}: invalid config_profile field: {reason}")]
    Custom { name: String, reason: String },
}

/// Which profile a target carries, as its signed `custom` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRef {
    pub class: String,
    pub version: u64,
}

/// One expected configuration file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    pub path: String,
    pub sha256: String,
}

/// A parsed and validated configuration profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigProfile {
    pub class: String,
    pub version: u64,
    pub files: Vec<ProfileFile>,
}

impl ConfigProfile {
    /// Parses and validates a profile file.
    pub fn parse(bytes: &[u8]) -> Result<ConfigProfile, ProfileError> {
        let profile: ConfigProfile =
            serde_json::from_slice(bytes).map_err(|e| ProfileError::Json(e.to_string()))?;
        profile.validate()?;
        Ok(profile)
    }

    /// Class identifier, version >= 1, at most [`MAX_FILES`] sorted unique absolute paths
    /// and lowercase sha256 digests.
    pub fn validate(&self) -> Result<(), ProfileError> {
        check_identifier("class", &self.class).map_err(ProfileError::Identifier)?;
        if self.version == 0 {
            return Err(ProfileError::Version);
        }
        if self.files.len() > MAX_FILES {
            return Err(ProfileError::TooManyFiles(self.files.len()));
        }
        let mut previous: Option<&str> = None;
        for file in &self.files {
            check_path(&file.path)?;
            if !is_sha256_hex(&file.sha256) {
                return Err(ProfileError::BadDigest {
                    path: file.path.clone(),
                });
            }
            if previous.is_some_and(|p| p >= file.path.as_str()) {
                return Err(ProfileError::Unsorted(file.path.clone()));
            }
            previous = Some(&file.path);
        }
        Ok(())
    }

    /// The profile as the JSON file published (files sorted by the caller's validation).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ProfileError> {
        serde_json::to_vec_pretty(self).map_err(|e| ProfileError::Json(e.to_string()))
    }

    pub fn reference(&self) -> ProfileRef {
        ProfileRef {
            class: self.class.clone(),
            version: self.version,
        }
    }

    /// The profile's paths whose digest in `digests` is missing, `null` or different.
    /// Digests of paths the profile does not list are ignored.
    pub fn drifted(&self, digests: &[FileDigest]) -> Vec<String> {
        self.files
            .iter()
            .filter(|file| {
                let actual = digests.iter().find(|d| d.path == file.path);
                actual.and_then(|d| d.sha256.as_deref()) != Some(file.sha256.as_str())
            })
            .map(|file| file.path.clone())
            .collect()
    }
}

/// An absolute path of normal parts: no `.`, `..`, empty parts, NUL or trailing `/`.
pub fn check_path(path: &str) -> Result<(), ProfileError> {
    let bad = || ProfileError::BadPath(path.to_string());
    let rest = path.strip_prefix('/').ok_or_else(bad)?;
    if path.len() > MAX_PATH_LEN || path.contains('\0') {
        return Err(bad());
    }
    if rest
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(bad());
    }
    Ok(())
}

/// 64 lowercase hex digits.
pub fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The target name of a class's profile version.
pub fn profile_target_name(class: &str, version: u64) -> String {
    format!("{TARGET_DIR}{class}-{version}.json")
}

/// The target name of a class's profile version in the space of the class's own
/// delegated role (docs/delegations.md).
pub fn delegated_profile_target_name(class: &str, version: u64) -> String {
    format!("{class}/config-{version}.json")
}

/// The names a profile version of `class` may be published under: top-level
/// (`config/C-N.json`) or signed by the class's role (`C/config-N.json`).
pub fn profile_target_names(class: &str, version: u64) -> [String; 2] {
    [
        profile_target_name(class, version),
        delegated_profile_target_name(class, version),
    ]
}

/// The profile a target carries; `Ok(None)` for targets that carry none. The target must
/// be named after its class and version (either name of [`profile_target_names`]).
pub fn profile_of_target(
    name: &str,
    target: &TargetFile,
) -> Result<Option<ProfileRef>, ProfileError> {
    let Some(value) = target.custom.as_ref().and_then(|c| c.get(CUSTOM_KEY)) else {
        return Ok(None);
    };
    let custom = |reason: String| ProfileError::Custom {
        name: name.to_string(),
        reason,
    };
    let reference: ProfileRef =
        serde_json::from_value(value.clone()).map_err(|e| custom(e.to_string()))?;
    check_identifier("class", &reference.class).map_err(custom)?;
    let names = profile_target_names(&reference.class, reference.version);
    if !names.iter().any(|allowed| allowed == name) {
        let [expected, _] = names;
        return Err(ProfileError::Name {
            name: name.to_string(),
            expected,
        });
    }
    if target.length > MAX_PROFILE_SIZE {
        return Err(custom(format!("longer than {MAX_PROFILE_SIZE} bytes")));
    }
    Ok(Some(reference))
}

/// The newest profile of `class` in `targets`: its target name, file and version.
/// Targets with a malformed profile reference are skipped (the server refuses to publish
/// them, so only a hostile repository has them).
pub fn newest_profile<'a>(
    targets: &'a Targets,
    class: &str,
) -> Option<(&'a str, &'a TargetFile, u64)> {
    targets
        .targets
        .iter()
        .filter_map(|(name, file)| match profile_of_target(name, file) {
            Ok(Some(reference)) if reference.class == class => {
                Some((name.as_str(), file, reference.version))
            }
            _ => None,
        })
        .max_by_key(|(_, _, version)| *version)
}

#[cfg(test)]
mod tests;
