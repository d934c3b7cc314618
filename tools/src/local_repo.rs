//! The release engineer's repository directory (`--repo DIR`):
//! `DIR/root.json` (newest root), `DIR/metadata/N.root.json` (every root version),
//! `DIR/targets.json` (newest signed targets) and `DIR/targets/NAME` (the images).
//!
//! Nothing read from here is trusted because it is local: metadata is verified with
//! update-core before it is used or re-signed, so a tampered file is refused rather than
//! laundered into a fresh signature.

use std::io;
use std::path::{Path, PathBuf};

use update_core::layout::versioned_metadata_name;
use update_core::schema::{Root, SignedEnvelope, Targets};
use update_core::trust::{Verified, verify_self_signed_root, verify_with_root};

use crate::fsutil::{read_limited, write_atomic};

/// Upper bound for a metadata file read from the repository.
pub const MAX_METADATA_FILE: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{dir} has no root.json; create the repository with `ota repo init`")]
    NoRoot { dir: PathBuf },
    #[error("{path} already exists: the repository already has a root")]
    RootExists { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("{path}: {source}")]
    Metadata {
        path: PathBuf,
        source: update_core::Error,
    },
    #[error("root versions in {dir}: {reason}")]
    RootHistory { dir: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("invalid target name {name:?}: {reason}")]
    TargetName { name: String, reason: String },
}

/// One root version kept in `DIR/metadata`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootFile {
    pub version: u64,
    pub path: PathBuf,
}

/// Verified targets metadata together with the file it came from.
pub struct LocalTargets {
    pub bytes: Vec<u8>,
    pub envelope: SignedEnvelope,
    pub targets: Verified<Targets>,
}

#[derive(Clone, Debug)]
pub struct LocalRepo {
    dir: PathBuf,
}

impl LocalRepo {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LocalRepo { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn root_path(&self) -> PathBuf {
        self.dir.join("root.json")
    }

    pub fn metadata_dir(&self) -> PathBuf {
        self.dir.join("metadata")
    }

    pub fn root_version_path(&self, version: u64) -> PathBuf {
        self.metadata_dir()
            .join(versioned_metadata_name(version, "root"))
    }

    pub fn targets_path(&self) -> PathBuf {
        self.dir.join("targets.json")
    }

    pub fn targets_dir(&self) -> PathBuf {
        self.dir.join("targets")
    }

    /// Where the image of target `name` is kept; the name must pass [`check_target_name`].
    pub fn image_path(&self, name: &str) -> Result<PathBuf, RepoError> {
        check_target_name(name)?;
        Ok(self.targets_dir().join(name))
    }

    /// The first root already exists (as `root.json` or as `metadata/1.root.json`).
    pub fn existing_root(&self) -> Option<PathBuf> {
        [self.root_path(), self.root_version_path(1)]
            .into_iter()
            .find(|path| path.symlink_metadata().is_ok())
    }

    /// Reads and parses a metadata file.
    pub fn read_envelope(&self, path: &Path) -> Result<(Vec<u8>, SignedEnvelope), RepoError> {
        let bytes = read_limited(path, MAX_METADATA_FILE).map_err(|source| RepoError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let envelope =
            SignedEnvelope::from_slice(&bytes, &path.display().to_string()).map_err(|source| {
                RepoError::Metadata {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        Ok((bytes, envelope))
    }

    /// `DIR/root.json`, verified as signed by a threshold of its own root keys.
    pub fn load_root(&self) -> Result<Verified<Root>, RepoError> {
        let path = self.root_path();
        if path.symlink_metadata().is_err() {
            return Err(RepoError::NoRoot {
                dir: self.dir.clone(),
            });
        }
        let (_, envelope) = self.read_envelope(&path)?;
        verify_self_signed_root(&envelope).map_err(|source| RepoError::Metadata { path, source })
    }

    /// Every root version in `DIR/metadata`, oldest first. They must run 1, 2, ..., N
    /// without a gap, and `DIR/root.json` must be a copy of version N.
    pub fn root_versions(&self) -> Result<Vec<RootFile>, RepoError> {
        let dir = self.metadata_dir();
        let history_error = |reason: String| RepoError::RootHistory {
            dir: dir.clone(),
            reason,
        };
        let entries = std::fs::read_dir(&dir).map_err(|source| RepoError::Read {
            path: dir.clone(),
            source,
        })?;
        let mut versions = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| RepoError::Read {
                path: dir.clone(),
                source,
            })?;
            let name = entry.file_name();
            let version = name
                .to_str()
                .and_then(|name| name.strip_suffix(".root.json"))
                .and_then(|number| number.parse::<u64>().ok());
            if let Some(version) = version {
                versions.push(RootFile {
                    version,
                    path: entry.path(),
                });
            }
        }
        versions.sort_by_key(|file| file.version);
        for (index, file) in versions.iter().enumerate() {
            if file.version != index as u64 + 1 {
                return Err(history_error(format!(
                    "expected {}.root.json, found {}.root.json",
                    index + 1,
                    file.version
                )));
            }
        }
        let newest = versions
            .last()
            .ok_or_else(|| history_error("no N.root.json files".into()))?;
        let (newest_bytes, _) = self.read_envelope(&newest.path)?;
        let (current_bytes, _) = self.read_envelope(&self.root_path())?;
        if newest_bytes != current_bytes {
            return Err(history_error(format!(
                "root.json differs from the newest version {}.root.json",
                newest.version
            )));
        }
        Ok(versions)
    }

    /// `DIR/targets.json` verified against `root`, or `None` before the first release.
    pub fn load_targets(&self, root: &Root) -> Result<Option<LocalTargets>, RepoError> {
        let path = self.targets_path();
        if path.symlink_metadata().is_err() {
            return Ok(None);
        }
        let (bytes, envelope) = self.read_envelope(&path)?;
        let targets = verify_with_root::<Targets>(root, &envelope)
            .map_err(|source| RepoError::Metadata { path, source })?;
        Ok(Some(LocalTargets {
            bytes,
            envelope,
            targets,
        }))
    }

    /// Writes the first root as `metadata/1.root.json` and `root.json`.
    pub fn write_first_root(&self, bytes: &[u8]) -> Result<(), RepoError> {
        if let Some(path) = self.existing_root() {
            return Err(RepoError::RootExists { path });
        }
        for dir in [self.metadata_dir(), self.targets_dir()] {
            std::fs::create_dir_all(&dir)
                .map_err(|source| RepoError::Write { path: dir, source })?;
        }
        for path in [self.root_version_path(1), self.root_path()] {
            write_atomic(&path, bytes).map_err(|source| RepoError::Write { path, source })?;
        }
        Ok(())
    }

    /// Replaces `DIR/targets.json`.
    pub fn write_targets(&self, bytes: &[u8]) -> Result<(), RepoError> {
        let path = self.targets_path();
        write_atomic(&path, bytes).map_err(|source| RepoError::Write { path, source })
    }
}

/// Longest `/`-separated part of a target name. Servers and devices store a target as
/// `SHA256.PART` (65 characters more), which must fit the 255 bytes a file name may have;
/// a delta's name (`RELEASE.from-SHA256.delta`) is 76 characters longer than its release's.
pub const MAX_TARGET_NAME_PART: usize = 160;

/// Target names become paths under `DIR/targets` and URLs: each `/`-separated part must
/// be a safe file name (`[A-Za-z0-9._-]`, not hidden, so no `..`, no absolute paths).
pub fn check_target_name(name: &str) -> Result<(), RepoError> {
    for part in name.split('/') {
        let safe_chars = part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if part.is_empty()
            || part.len() > MAX_TARGET_NAME_PART
            || !safe_chars
            || part.starts_with('.')
        {
            return Err(RepoError::TargetName {
                name: name.to_string(),
                reason: format!(
                    "each part must be 1-{MAX_TARGET_NAME_PART} characters of A-Z, a-z, 0-9, \
                     '.', '_', '-' and not start with '.'"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names_stay_inside_the_repository() {
        let delta = format!("camera-1.0.0.img.from-{}.delta", "ab".repeat(32));
        for good in ["camera-1.0.0.img", "camera/fw-1.0.0.img", delta.as_str()] {
            assert!(check_target_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "../escape.img",
            "/abs.img",
            "a//b",
            ".hidden",
            "a/../b",
            "a b",
            &"x".repeat(MAX_TARGET_NAME_PART + 1),
        ] {
            assert!(check_target_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_root_says_how_to_create_one() {
        let dir = tempfile::tempdir().unwrap();
        let err = LocalRepo::new(dir.path()).load_root().unwrap_err();
        assert!(err.to_string().contains("ota repo init"), "{err}");
    }
}
