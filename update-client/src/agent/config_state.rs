//! Configuration drift on the device: at each check-in, the newest configuration profile
//! of the device's class is found in the verified targets metadata (the same TUF refresh
//! the update flow uses; top-level targets and the class's own signing role), downloaded through the TUF engine (length- and hash-checked,
//! cached by its sha256), and every file it lists is hashed under `[config] root`.
//! Only digests leave the device, never contents.

use std::path::{Path, PathBuf};

use tracing::{debug, warn};
use update_core::api::{ConfigState, FileDigest};
use update_core::config_profile::{ConfigProfile, MAX_PROFILE_SIZE, ProfileRef, newest_profile};
use update_core::hash::hash_reader;
use update_core::schema::TargetFile;
use update_core::trust::TrustedMetadata;

use super::Agent;
use crate::error::{Error, Result};
use crate::tuf::{is_cached, signed_sha256};

/// Subdirectory of the state directory where the current profile is cached.
const CACHE_SUBDIR: &str = "config-profiles";

impl Agent {
    /// The configuration to report: `None` when the class has no profile, or when the
    /// profile cannot be obtained or verified now (logged; the server counts the device
    /// as "config unknown").
    pub(super) async fn measure_config(&self) -> Option<ConfigState> {
        match self.try_measure_config().await {
            Ok(state) => state,
            Err(e) => {
                warn!("cannot measure configuration against its profile: {e}");
                None
            }
        }
    }

    async fn try_measure_config(&self) -> Result<Option<ConfigState>> {
        let mut refreshed = self.updater.refresh().await?;
        let class = &self.config.device.class;
        // A class with its own signing role (docs/delegations.md) has its profiles there.
        let class_role = match self
            .updater
            .class_role_targets(&mut refreshed.trusted, class)
            .await
        {
            Ok(role) => role,
            Err(e) => {
                warn!("cannot load the signing role of class {class}: {e}");
                None
            }
        };
        let Some(targets) = refreshed.trusted.targets() else {
            return Ok(None);
        };
        let candidates = [Some(&**targets), class_role.as_ref()];
        let newest = candidates
            .into_iter()
            .flatten()
            .filter_map(|targets| newest_profile(targets, class))
            .max_by_key(|(_, _, version)| *version);
        let Some((name, target, version)) = newest else {
            debug!("no configuration profile for class {class}");
            return Ok(None);
        };
        let bytes = self.profile_bytes(&refreshed.trusted, name, target).await?;
        let profile = ConfigProfile::parse(&bytes).map_err(|e| mismatch(name, e.to_string()))?;
        let signed = ProfileRef {
            class: class.clone(),
            version,
        };
        if profile.reference() != signed {
            return Err(mismatch(
                name,
                "its contents name another class or version".into(),
            ));
        }
        let root = self.config.config_files.root.clone();
        let listed = profile.clone();
        let files = tokio::task::spawn_blocking(move || measure_files(&root, &listed))
            .await
            .map_err(|e| mismatch(name, format!("measuring task failed: {e}")))?;
        let drifted = profile.drifted(&files);
        Ok(Some(ConfigState {
            profile: name.to_string(),
            version,
            files,
            drifted,
        }))
    }

    /// The profile's bytes: from the cache when it holds exactly the signed file, else
    /// downloaded (at most its signed length, hash-checked) and cached.
    async fn profile_bytes(
        &self,
        trusted: &TrustedMetadata,
        name: &str,
        target: &TargetFile,
    ) -> Result<Vec<u8>> {
        let sha256 = signed_sha256(name, target)?;
        if target.length > MAX_PROFILE_SIZE {
            return Err(mismatch(
                name,
                format!("longer than {MAX_PROFILE_SIZE} bytes"),
            ));
        }
        let cache_dir = self.config.state.dir.join(CACHE_SUBDIR);
        let cached = cache_dir.join(format!("{sha256}.json"));
        if is_cached(&cached, target) {
            if let Some(bytes) = crate::atomic::read_limited(&cached, MAX_PROFILE_SIZE)
                .map_err(Error::io(format!("reading {}", cached.display())))?
            {
                return Ok(bytes);
            }
        }
        let url = self.updater.target_url(trusted, name, target)?;
        let mut bytes = Vec::new();
        self.updater
            .download_target(&url, name, target, |chunk| {
                bytes.extend_from_slice(chunk);
                Ok(())
            })
            .await?;
        std::fs::create_dir_all(&cache_dir)
            .map_err(Error::io(format!("creating {}", cache_dir.display())))?;
        forget_other_profiles(&cache_dir, &cached);
        crate::atomic::write_atomic(&cached, &bytes)
            .map_err(Error::io(format!("writing {}", cached.display())))?;
        Ok(bytes)
    }
}

fn mismatch(name: &str, reason: String) -> Error {
    Error::TargetMismatch {
        what: name.to_string(),
        reason,
    }
}

/// Only the current profile is kept; older ones would only fill the disk.
fn forget_other_profiles(cache_dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(cache_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path != keep {
            if let Err(e) = std::fs::remove_file(&path) {
                debug!("cannot remove old profile {}: {e}", path.display());
            }
        }
    }
}

/// The sha256 of every file the profile lists, under `root`; `None` for a file that is
/// missing, unreadable or not a regular file.
pub fn measure_files(root: &Path, profile: &ConfigProfile) -> Vec<FileDigest> {
    profile
        .files
        .iter()
        .map(|file| FileDigest {
            path: file.path.clone(),
            sha256: hash_file(&under_root(root, &file.path)),
        })
        .collect()
}

/// Profile paths are absolute and free of `..` (validated), so joining keeps them under
/// `root`.
fn under_root(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

fn hash_file(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    hash_reader(file).ok().map(|(_, sha256)| sha256)
}

#[cfg(test)]
mod tests {
    use update_core::config_profile::ProfileFile;
    use update_core::hash::sha256_hex;

    use super::*;

    #[test]
    fn files_are_hashed_under_the_root_and_missing_ones_are_null() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc/ssh")).unwrap();
        std::fs::write(
            root.path().join("etc/ssh/sshd_config"),
            b"PermitRootLogin no\n",
        )
        .unwrap();
        std::fs::create_dir_all(root.path().join("etc/dir")).unwrap();
        let profile = ConfigProfile {
            class: "camera".into(),
            version: 1,
            files: ["/etc/dir", "/etc/missing", "/etc/ssh/sshd_config"]
                .into_iter()
                .map(|path| ProfileFile {
                    path: path.into(),
                    sha256: sha256_hex(b"x"),
                })
                .collect(),
        };
        let digests = measure_files(root.path(), &profile);
        assert_eq!(digests[0].sha256, None, "a directory is no file");
        assert_eq!(digests[1].sha256, None);
        assert_eq!(
            digests[2].sha256.as_deref(),
            Some(sha256_hex(b"PermitRootLogin no\n").as_str())
        );
    }
}
