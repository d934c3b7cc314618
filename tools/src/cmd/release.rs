//! `ota release add IMAGE`: adds a firmware release to the repository's targets.json,
//! signed with the targets keys, and brings the image into `targets/`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::Utc;
use update_core::firmware::{Encoding, Firmware, ImageInfo, check_identifier, default_target_name};
use update_core::keys::{KeyId, SigningKey};
use update_core::schema::{RoleType, Root, TargetFile, Targets, Unrecognized};
use update_core::sign::sign_metadata;
use update_core::trust::verify_with_root;

use crate::expiry::{DEFAULT_EXPIRY, Expiry, ExpiryError};
use crate::keyfile::{self, KeyFileError};
use crate::local_repo::{LocalRepo, RepoError};
use crate::staging::{self, StageError};

#[derive(Debug, clap::Subcommand)]
pub enum ReleaseCommand {
    /// Add a firmware image as a signed release in the repository's targets.json
    Add(AddArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct AddArgs {
    /// The firmware image
    pub image: PathBuf,
    /// Repository directory
    #[arg(long)]
    pub repo: PathBuf,
    /// Private targets keys to sign with (at least the targets threshold)
    #[arg(long = "key", value_name = "PEM", num_args = 1.., required = true)]
    pub keys: Vec<PathBuf>,
    /// Firmware version (semantic version, e.g. 1.2.0)
    #[arg(long)]
    pub version: semver::Version,
    /// Device class the release is for
    #[arg(long)]
    pub class: String,
    /// Hardware ids the image runs on
    #[arg(long, value_name = "HARDWARE_ID", num_args = 1.., required = true)]
    pub hardware: Vec<String>,
    /// Target name (default CLASS-VERSION.img)
    #[arg(long)]
    pub name: Option<String>,
    /// Lifetime (365d) or UTC time of the new targets.json
    #[arg(long, default_value = DEFAULT_EXPIRY)]
    pub expires: Expiry,
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Key(#[from] KeyFileError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Expiry(#[from] ExpiryError),
    #[error(transparent)]
    Image(#[from] StageError),
    #[error("key {key_id} is not a targets key in root.json")]
    NotTargetsKey { key_id: KeyId },
    #[error(
        "{given} distinct targets key(s) given; root.json requires {threshold} to sign targets"
    )]
    BelowThreshold { given: usize, threshold: u32 },
    #[error("{0}")]
    Identifier(String),
    #[error("no hardware id given")]
    NoHardware,
    #[error("class {class} already has version {version} (target {name})")]
    VersionExists {
        class: String,
        version: semver::Version,
        name: String,
    },
    #[error("target {0} already exists in targets.json")]
    NameExists(String),
    #[error("cannot build targets.json: {0}")]
    Core(#[from] update_core::Error),
}

/// What `release add` wrote.
#[derive(Debug)]
pub struct AddOutcome {
    pub target_name: String,
    pub targets_version: u64,
    pub length: u64,
    pub sha256: String,
    pub image_path: PathBuf,
    pub linked: bool,
}

/// Adds the release. Keys and names are checked before anything is written; the new
/// targets.json is verified against root.json before it replaces the old one.
pub fn add(args: &AddArgs) -> Result<AddOutcome, ReleaseError> {
    let repo = LocalRepo::new(&args.repo);
    let root = repo.load_root()?;
    let signers = load_targets_signers(&root, &args.keys)?;
    check_identifier("class", &args.class).map_err(ReleaseError::Identifier)?;
    if args.hardware.is_empty() {
        return Err(ReleaseError::NoHardware);
    }
    for hardware in &args.hardware {
        check_identifier("hardware id", hardware).map_err(ReleaseError::Identifier)?;
    }
    let target_name = args
        .name
        .clone()
        .unwrap_or_else(|| default_target_name(&args.class, &args.version));
    let image_path = repo.image_path(&target_name)?;

    let now = Utc::now();
    let expires = args.expires.resolve(now)?;
    let mut targets = match repo.load_targets(&root)? {
        Some(existing) => existing.targets.into_inner(),
        None => Targets::new(0, expires),
    };
    check_new_release(&targets, &target_name, &args.class, &args.version)?;

    let staged = staging::stage(&args.image, &image_path)?;
    let firmware = Firmware {
        version: args.version.clone(),
        class: args.class.clone(),
        hardware: args.hardware.clone(),
        image: ImageInfo {
            length: staged.length,
            sha256: staged.sha256.clone(),
        },
        encoding: Encoding::Raw,
        base: None,
        release: None,
        unrecognized: Unrecognized::new(),
    };
    let target = TargetFile::new(
        staged.length,
        staged.sha256.clone(),
        Some(firmware.to_custom()?),
    );
    Firmware::of_target(&target_name, &target)?;
    targets.targets.insert(target_name.clone(), target);
    targets.version += 1;
    targets.expires = expires;

    let signing_keys: Vec<&SigningKey> = signers.values().collect();
    let envelope = sign_metadata(&targets, &signing_keys)?;
    verify_with_root::<Targets>(&root, &envelope)?;
    let bytes = envelope.to_bytes()?;

    let (length, sha256, linked) = (staged.length, staged.sha256.clone(), staged.linked);
    staged
        .install(&image_path)
        .map_err(|source| RepoError::Write {
            path: image_path.clone(),
            source,
        })?;
    repo.write_targets(&bytes)?;
    Ok(AddOutcome {
        target_name,
        targets_version: targets.version,
        length,
        sha256,
        image_path,
        linked,
    })
}

/// Loads the private keys and checks that each is a targets key of `root` and that
/// together they reach the targets threshold.
fn load_targets_signers(
    root: &Root,
    paths: &[PathBuf],
) -> Result<BTreeMap<KeyId, SigningKey>, ReleaseError> {
    let role = root.role(RoleType::Targets);
    let mut signers = BTreeMap::new();
    for path in paths {
        let key = keyfile::load_private(path)?;
        if !role.keyids.contains(key.key_id()) {
            return Err(ReleaseError::NotTargetsKey {
                key_id: key.key_id().clone(),
            });
        }
        signers.insert(key.key_id().clone(), key);
    }
    if signers.len() < role.threshold as usize {
        return Err(ReleaseError::BelowThreshold {
            given: signers.len(),
            threshold: role.threshold,
        });
    }
    Ok(signers)
}

/// A release is new if neither its target name nor its class and version exist yet.
fn check_new_release(
    targets: &Targets,
    name: &str,
    class: &str,
    version: &semver::Version,
) -> Result<(), ReleaseError> {
    for (existing_name, target) in &targets.targets {
        if let Some(firmware) = Firmware::of_target(existing_name, target)? {
            if firmware.class == class && &firmware.version == version {
                return Err(ReleaseError::VersionExists {
                    class: class.to_string(),
                    version: version.clone(),
                    name: existing_name.clone(),
                });
            }
        }
    }
    if targets.targets.contains_key(name) {
        return Err(ReleaseError::NameExists(name.to_string()));
    }
    Ok(())
}

pub fn run(command: &ReleaseCommand) -> anyhow::Result<()> {
    match command {
        ReleaseCommand::Add(args) => {
            let outcome = add(args)?;
            println!(
                "added {} ({} bytes, sha256 {}) as targets.json version {}",
                outcome.target_name, outcome.length, outcome.sha256, outcome.targets_version
            );
            let how = if outcome.linked { "linked" } else { "copied" };
            println!("image {how} to {}", outcome.image_path.display());
            Ok(())
        }
    }
}
