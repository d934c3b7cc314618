//! `ota config add`: signs a configuration profile (the expected sha256 of configuration
//! files of a device class) into the repository's targets.json as its own target,
//! `config/<class>-<version>.json`, with the same keys and checks as `ota release add`.
//! `ota publish` uploads it like any other target. When targets.json delegates the class
//! to its own role, the profile is `CLASS/config-<version>.json`, signed into the role.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use chrono::Utc;
use update_core::config_profile::{
    self, ConfigProfile, ProfileError, ProfileFile, delegated_profile_target_name, is_sha256_hex,
    profile_of_target, profile_target_name,
};
use update_core::hash::{hash_reader, sha256_hex};
use update_core::schema::{TargetFile, Targets};

use super::release::{ClassSigner, ReleaseError};
use crate::class_roles::{SignatureCount, signing_note};
use crate::expiry::{DEFAULT_EXPIRY, Expiry};
use crate::local_repo::{LocalRepo, RepoError};
use crate::staging::{self, StagedImage};

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Sign a configuration profile (expected file digests) for a device class
    Add(ConfigAddArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct ConfigAddArgs {
    /// Repository directory
    #[arg(long)]
    pub repo: PathBuf,
    /// Private targets keys to sign with (at least the targets threshold)
    #[arg(long = "key", value_name = "PEM", num_args = 1.., required = true)]
    pub keys: Vec<PathBuf>,
    /// Device class the profile is for
    #[arg(long)]
    pub class: String,
    /// Profile version; must be newer than the class's published profiles
    #[arg(long)]
    pub version: u64,
    /// A file on the device and its expected content: /etc/x=LOCALFILE (hashed here) or
    /// /etc/x:SHA256
    #[arg(
        long = "file",
        value_name = "PATH=LOCALFILE|PATH:SHA256",
        required = true
    )]
    pub files: Vec<String>,
    /// Lifetime (365d) or UTC time of the new targets.json
    #[arg(long, default_value = DEFAULT_EXPIRY)]
    pub expires: Expiry,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigCmdError {
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("--file {0:?} is neither PATH=LOCALFILE nor PATH:SHA256")]
    FileSpec(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("class {class} already has profile version {newest}; choose a newer version")]
    NotNewer { class: String, newest: u64 },
    #[error(transparent)]
    Expiry(#[from] crate::expiry::ExpiryError),
}

/// What `config add` wrote.
#[derive(Debug)]
pub struct ConfigAdded {
    pub target_name: String,
    pub targets_version: u64,
    pub sha256: String,
    pub files: usize,
    /// Signed into the class's role: how many of its keys signed.
    pub role_signatures: Option<SignatureCount>,
}

/// One `--file` argument as a profile entry.
fn profile_file(spec: &str) -> Result<ProfileFile, ConfigCmdError> {
    if let Some((path, sha256)) = spec.rsplit_once(':') {
        let sha256 = sha256.to_ascii_lowercase();
        if is_sha256_hex(&sha256) {
            config_profile::check_path(path)?;
            return Ok(ProfileFile {
                path: path.to_string(),
                sha256,
            });
        }
    }
    let (path, local) = spec
        .split_once('=')
        .ok_or_else(|| ConfigCmdError::FileSpec(spec.to_string()))?;
    config_profile::check_path(path)?;
    let local = PathBuf::from(local);
    let read_error = |source| ConfigCmdError::Read {
        path: local.clone(),
        source,
    };
    let (_, sha256) = hash_reader(File::open(&local).map_err(read_error)?).map_err(read_error)?;
    Ok(ProfileFile {
        path: path.to_string(),
        sha256,
    })
}

/// Builds the profile from the arguments, sorted by path (duplicates are an error).
pub fn build_profile(args: &ConfigAddArgs) -> Result<ConfigProfile, ConfigCmdError> {
    let mut files = args
        .files
        .iter()
        .map(|spec| profile_file(spec))
        .collect::<Result<Vec<_>, _>>()?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let profile = ConfigProfile {
        class: args.class.clone(),
        version: args.version,
        files,
    };
    profile.validate()?;
    Ok(profile)
}

/// The newest profile version of `class` the targets list.
fn newest_version(targets: &Targets, class: &str) -> Option<u64> {
    config_profile::newest_profile(targets, class).map(|(_, _, version)| version)
}

/// Adds the profile: keys and the profile are checked before anything is written; the
/// new targets.json verifies against root.json before it replaces the old one.
pub fn add(args: &ConfigAddArgs) -> Result<ConfigAdded, ConfigCmdError> {
    let repo = LocalRepo::new(&args.repo);
    let root = repo.load_root()?;
    let profile = build_profile(args)?;
    let expires = args.expires.resolve(Utc::now())?;
    let (signer, mut targets) =
        ClassSigner::choose(&repo, &root, &profile.class, &args.keys, expires)?;
    if let Some(newest) = newest_version(&targets, &profile.class) {
        if newest >= profile.version {
            return Err(ConfigCmdError::NotNewer {
                class: profile.class,
                newest,
            });
        }
    }
    let target_name = match signer {
        ClassSigner::Role(..) => delegated_profile_target_name(&profile.class, profile.version),
        ClassSigner::TopLevel(_) => profile_target_name(&profile.class, profile.version),
    };
    let path = repo.image_path(&target_name)?;
    if targets.targets.contains_key(&target_name) {
        return Err(ReleaseError::NameExists(target_name).into());
    }
    let bytes = profile.to_bytes()?;
    let sha256 = sha256_hex(&bytes);
    let custom = serde_json::json!({ config_profile::CUSTOM_KEY: profile.reference() });
    let target = TargetFile::new(bytes.len() as u64, sha256.clone(), Some(custom));
    profile_of_target(&target_name, &target)?;
    targets.targets.insert(target_name.clone(), target);
    targets.version += 1;
    targets.expires = expires;
    let signed = signer.check(&root, &targets)?;

    let write_error = |source| RepoError::Write {
        path: path.clone(),
        source,
    };
    let dir = path.parent().unwrap_or(repo.dir());
    let mut temp = staging::temp_file_in(dir).map_err(write_error)?;
    temp.write_all(&bytes).map_err(write_error)?;
    temp.as_file().sync_all().map_err(write_error)?;
    StagedImage::from_temp(temp.into_temp_path(), bytes.len() as u64, sha256.clone())
        .install(&path)
        .map_err(write_error)?;
    let targets_version = targets.version;
    let role_signatures = signer
        .write(&repo, targets, signed)
        .map_err(ConfigCmdError::Release)?;
    Ok(ConfigAdded {
        target_name,
        targets_version,
        sha256,
        files: profile.files.len(),
        role_signatures,
    })
}

pub fn run(command: &ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Add(args) => {
            let added = add(args)?;
            let metadata = match added.role_signatures {
                Some(_) => format!("role {}", args.class),
                None => "targets.json".to_string(),
            };
            println!(
                "added configuration profile {} ({} files, sha256 {}) as {metadata} version {}",
                added.target_name, added.files, added.sha256, added.targets_version
            );
            if let Some(count) = &added.role_signatures {
                println!("{}", signing_note(&args.class, count));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_specs_take_digests_or_local_files() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("sshd_config");
        std::fs::write(&local, b"PermitRootLogin no\n").unwrap();
        let from_file = profile_file(&format!("/etc/ssh/sshd_config={}", local.display())).unwrap();
        assert_eq!(from_file.sha256, sha256_hex(b"PermitRootLogin no\n"));
        let digest = "AB".repeat(32);
        let given = profile_file(&format!("/etc/hosts:{digest}")).unwrap();
        assert_eq!(given.sha256, digest.to_ascii_lowercase());
        assert!(profile_file("/etc/hosts").is_err());
        assert!(profile_file("etc/hosts:00").is_err());
        assert!(matches!(
            profile_file(&format!("/etc/../x:{digest}")),
            Err(ConfigCmdError::Profile(ProfileError::BadPath(_)))
        ));
    }
}
