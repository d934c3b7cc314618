//! `ota release add IMAGE`: adds a firmware release to the repository's targets.json,
//! signed with the targets keys, and brings the image into `targets/`, together with the
//! forms it also travels in (zstd-compressed, deltas from earlier releases; see
//! [`crate::forms`]), all signed in the same targets version.
//!
//! When targets.json delegates the release's class to the class's own role
//! (docs/delegations.md), the release and its forms are named `CLASS/...` and signed into
//! `DIR/delegations/CLASS.json` with the role's keys instead.
//!
//! Deltas are made here, when the release is signed, because the targets key that must
//! sign them is offline: the server cannot make them when the release is published.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use update_core::firmware::{
    Encoding, Firmware, ImageInfo, check_identifier, default_target_name, zstd_target_name,
};
use update_core::keys::{KeyId, SigningKey};
use update_core::schema::{RoleType, Root, TargetFile, Targets, Unrecognized};
use update_core::sign::sign_metadata;
use update_core::trust::verify_with_root;

pub(crate) use super::class_signer::ClassSigner;
pub use super::release_args::{AddArgs, ReleaseCommand};
pub use super::release_table::{form_notes, forms_table};
use crate::class_roles::{RoleError, SignatureCount, signing_note};
use crate::expiry::ExpiryError;
use crate::forms::deltas::SkippedBase;
use crate::forms::{DroppedDelta, FormError, make_forms};
use crate::keyfile::{self, KeyFileError};
use crate::local_repo::{LocalRepo, RepoError};
use crate::repo_config;
use crate::staging::{self, StageError};

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
    #[error(transparent)]
    Forms(#[from] FormError),
    #[error("zstd level {0} is outside 1..=22 (DIR/ota.toml)")]
    ZstdLevel(i32),
    #[error("cannot build targets.json: {0}")]
    Core(#[from] update_core::Error),
    #[error(transparent)]
    Role(#[from] RoleError),
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
    /// Every target signed for the release, the raw image first.
    pub published: Vec<PublishedForm>,
    /// Deltas made but not published, since they saved too little.
    pub dropped: Vec<DroppedDelta>,
    /// Earlier releases no delta could be made from.
    pub skipped: Vec<SkippedBase>,
    /// Signed into the class's role (docs/delegations.md): how many of its keys signed.
    pub role_signatures: Option<SignatureCount>,
}

/// One signed target of the release.
#[derive(Clone, Debug)]
pub struct PublishedForm {
    pub target_name: String,
    pub encoding: Encoding,
    /// Deltas: the version of their base.
    pub base_version: Option<semver::Version>,
    pub length: u64,
    pub sha256: String,
    /// Time it took to make (for the raw image: to bring it into the repository).
    pub elapsed: Duration,
    /// Deltas: the algorithm the delta library chose.
    pub algorithm: Option<String>,
}

/// Adds the release. Keys and names are checked before anything is written; the new
/// targets.json is verified against root.json before it replaces the old one.
pub fn add(args: &AddArgs) -> Result<AddOutcome, ReleaseError> {
    let repo = LocalRepo::new(&args.repo);
    let root = repo.load_root()?;
    check_identifier("class", &args.class).map_err(ReleaseError::Identifier)?;
    let now = Utc::now();
    let expires = args.expires.resolve(now)?;
    let (signer, mut targets) =
        ClassSigner::choose(&repo, &root, &args.class, &args.keys, expires)?;
    if args.hardware.is_empty() {
        return Err(ReleaseError::NoHardware);
    }
    for hardware in &args.hardware {
        check_identifier("hardware id", hardware).map_err(ReleaseError::Identifier)?;
    }
    let target_name = signer.target_name(
        args.name
            .clone()
            .unwrap_or_else(|| default_target_name(&args.class, &args.version)),
    );
    let image_path = repo.image_path(&target_name)?;
    // Chosen names stay short enough for the names of their forms (see check_target_name).
    for part in target_name.split('/') {
        check_identifier("each part of a target name", part).map_err(ReleaseError::Identifier)?;
    }

    check_new_release(&targets, &target_name, &args.class, &args.version)?;

    let config = repo_config::load(&repo)?;
    let form_options = args.form_options(&config.release);
    if let Some(zstd) = &form_options.zstd {
        if !(1..=22).contains(&zstd.level) {
            return Err(ReleaseError::ZstdLevel(zstd.level));
        }
        let zstd_name = zstd_target_name(&target_name);
        repo.image_path(&zstd_name)?;
        if targets.targets.contains_key(&zstd_name) {
            return Err(ReleaseError::NameExists(zstd_name));
        }
    }

    let started = Instant::now();
    let staged = staging::stage(&args.image, &image_path)?;
    let staged_in = started.elapsed();
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
    let forms = make_forms(
        &repo,
        &targets,
        &target_name,
        &firmware,
        &staged,
        &form_options,
    )?;
    let mut published = vec![PublishedForm {
        target_name: target_name.clone(),
        encoding: Encoding::Raw,
        base_version: None,
        length: staged.length,
        sha256: staged.sha256.clone(),
        elapsed: staged_in,
        algorithm: None,
    }];
    insert_target(
        &mut targets,
        &target_name,
        staged.length,
        &staged.sha256,
        &firmware,
    )?;
    for form in &forms.made {
        if targets.targets.contains_key(&form.target_name) {
            return Err(ReleaseError::NameExists(form.target_name.clone()));
        }
        insert_target(
            &mut targets,
            &form.target_name,
            form.file.length,
            &form.file.sha256,
            &form.firmware,
        )?;
        published.push(PublishedForm {
            target_name: form.target_name.clone(),
            encoding: form.firmware.encoding,
            base_version: form.firmware.base.as_ref().map(|b| b.version.clone()),
            length: form.file.length,
            sha256: form.file.sha256.clone(),
            elapsed: form.elapsed,
            algorithm: form.algorithm.clone(),
        });
    }
    targets.version += 1;
    targets.expires = expires;

    let signed = signer.check(&root, &targets)?;

    let (length, sha256, linked) = (staged.length, staged.sha256.clone(), staged.linked);
    let install_error = |path: PathBuf| move |source| RepoError::Write { path, source };
    staged
        .install(&image_path)
        .map_err(install_error(image_path.clone()))?;
    for form in forms.made {
        let path = repo.image_path(&form.target_name)?;
        form.file.install(&path).map_err(install_error(path))?;
    }
    let targets_version = targets.version;
    let role_signatures = signer.write(&repo, targets, signed)?;
    Ok(AddOutcome {
        target_name,
        targets_version,
        length,
        sha256,
        image_path,
        linked,
        published,
        dropped: forms.dropped,
        skipped: forms.skipped,
        role_signatures,
    })
}

/// Adds one firmware target, checked as a device would read it.
fn insert_target(
    targets: &mut Targets,
    name: &str,
    length: u64,
    sha256: &str,
    firmware: &Firmware,
) -> Result<(), ReleaseError> {
    let target = TargetFile::new(length, sha256.to_string(), Some(firmware.to_custom()?));
    Firmware::of_target(name, &target)?;
    targets.targets.insert(name.to_string(), target);
    Ok(())
}

/// Signs `targets` with every signer and checks the result verifies against `root`, as
/// a device would, before anything is written.
pub(crate) fn sign_targets(
    root: &Root,
    targets: &Targets,
    signers: &BTreeMap<KeyId, SigningKey>,
) -> Result<Vec<u8>, ReleaseError> {
    let signing_keys: Vec<&SigningKey> = signers.values().collect();
    let envelope = sign_metadata(targets, &signing_keys)?;
    verify_with_root::<Targets>(root, &envelope)?;
    Ok(envelope.to_bytes()?)
}

/// Loads the private keys and checks that each is a targets key of `root` and that
/// together they reach the targets threshold.
pub(crate) fn load_targets_signers(
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
            let metadata = match outcome.role_signatures {
                Some(_) => format!("role {}", args.class),
                None => "targets.json".to_string(),
            };
            println!(
                "added {} ({} bytes, sha256 {}) as {metadata} version {}",
                outcome.target_name, outcome.length, outcome.sha256, outcome.targets_version
            );
            let how = if outcome.linked { "linked" } else { "copied" };
            println!("image {how} to {}", outcome.image_path.display());
            print!("{}", forms_table(&outcome).render());
            for line in form_notes(&outcome) {
                println!("{line}");
            }
            if let Some(count) = &outcome.role_signatures {
                println!("{}", signing_note(&args.class, count));
            }
            Ok(())
        }
    }
}
