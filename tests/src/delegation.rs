//! [`World`] helpers for class signing roles (docs/delegations.md): keys made with
//! `ota keygen`, `ota class delegate`, and releases, profiles and signatures made with a
//! class's own keys.

use std::path::{Path, PathBuf};

use crate::process::Finished;
use crate::world::{World, path_str};

impl World {
    /// Makes `count` keys for `class` (`ota keygen`) and delegates the class to a role of
    /// those keys with `threshold` (`ota class delegate`, signed with the example targets
    /// key). Returns the private key files.
    pub fn delegate_class(&self, class: &str, count: usize, threshold: u32) -> Vec<PathBuf> {
        let keys: Vec<PathBuf> = (1..=count)
            .map(|n| {
                let path = self.path(&format!("{class}-key-{n}.pem"));
                self.ota(&["keygen", path_str(&path)])
                    .assert_ok("ota keygen");
                path
            })
            .collect();
        let publics: Vec<String> = keys
            .iter()
            .map(|k| format!("{}.pub", path_str(k)))
            .collect();
        let targets_key = self.keys.join("targets.pem");
        let threshold = threshold.to_string();
        let mut args = vec![
            "class",
            "delegate",
            class,
            "--repo",
            path_str(&self.repo),
            "--targets-key",
            path_str(&targets_key),
            "--threshold",
            &threshold,
        ];
        for public in &publics {
            args.extend(["--key", public.as_str()]);
        }
        self.ota(&args).assert_ok("ota class delegate");
        keys
    }

    /// `ota release add` of `image` for `class`, signed with `keys`; the caller checks
    /// the outcome.
    pub fn release_signed_by(
        &self,
        image: &Path,
        version: &str,
        class: &str,
        hardware: &str,
        keys: &[&Path],
    ) -> Finished {
        let mut args = vec![
            "release",
            "add",
            path_str(image),
            "--repo",
            path_str(&self.repo),
            "--version",
            version,
            "--class",
            class,
            "--hardware",
            hardware,
        ];
        for key in keys {
            args.extend(["--key", path_str(key)]);
        }
        self.ota(&args)
    }

    /// `ota config add` of profile `version` of `class` (one file, `device_path`, with
    /// the contents of `approved`), signed with `keys`.
    pub fn config_profile_signed_by(
        &self,
        class: &str,
        version: u64,
        device_path: &str,
        approved: &Path,
        keys: &[&Path],
    ) -> Finished {
        let file_arg = format!("{device_path}={}", path_str(approved));
        let version = version.to_string();
        let mut args = vec![
            "config",
            "add",
            "--repo",
            path_str(&self.repo),
            "--class",
            class,
            "--version",
            &version,
            "--file",
            &file_arg,
        ];
        for key in keys {
            args.extend(["--key", path_str(key)]);
        }
        self.ota(&args)
    }

    /// `ota sign --role ROLE` with `key`.
    pub fn sign_role(&self, role: &str, key: &Path) -> Finished {
        self.ota(&[
            "sign",
            "--repo",
            path_str(&self.repo),
            "--role",
            role,
            "--key",
            path_str(key),
        ])
    }

    /// `ota publish`, whose outcome the caller checks.
    pub fn try_publish(&self) -> Finished {
        self.ota(&[
            "publish",
            "--repo",
            path_str(&self.repo),
            "--server",
            &self.server_url,
        ])
    }
}
