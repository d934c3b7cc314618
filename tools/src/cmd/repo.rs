//! `ota repo init`: creates the release engineer's repository with its first, signed
//! root.json.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use update_core::keys::{KeyId, SigningKey};
use update_core::schema::{RoleType, Root};
use update_core::sign::sign_metadata;
use update_core::trust::verify_self_signed_root;

use crate::expiry::{DEFAULT_EXPIRY, Expiry, ExpiryError};
use crate::keyfile::{self, KeyFile, KeyFileError};
use crate::local_repo::{LocalRepo, RepoError};

#[derive(Debug, clap::Subcommand)]
pub enum RepoCommand {
    /// Create a repository and its first root.json, signed with the private root keys
    Init(InitArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct InitArgs {
    /// Repository directory
    #[arg(long)]
    pub repo: PathBuf,
    /// Root keys (private PEM to sign, or public .pub)
    #[arg(long = "root-key", value_name = "FILE", num_args = 1.., required = true)]
    pub root_keys: Vec<PathBuf>,
    #[arg(long = "targets-key", value_name = "FILE", num_args = 1.., required = true)]
    pub targets_keys: Vec<PathBuf>,
    #[arg(long = "snapshot-key", value_name = "FILE", num_args = 1.., required = true)]
    pub snapshot_keys: Vec<PathBuf>,
    #[arg(long = "timestamp-key", value_name = "FILE", num_args = 1.., required = true)]
    pub timestamp_keys: Vec<PathBuf>,
    #[arg(long, default_value_t = 1)]
    pub root_threshold: u32,
    #[arg(long, default_value_t = 1)]
    pub targets_threshold: u32,
    #[arg(long, default_value_t = 1)]
    pub snapshot_threshold: u32,
    #[arg(long, default_value_t = 1)]
    pub timestamp_threshold: u32,
    /// Lifetime (365d) or UTC time (2036-11-25T00:00:00Z) of the root
    #[arg(long, default_value = DEFAULT_EXPIRY)]
    pub expires: Expiry,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Key(#[from] KeyFileError),
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Expiry(#[from] ExpiryError),
    #[error("{role} threshold must be at least 1")]
    ThresholdZero { role: RoleType },
    #[error("{role} threshold {threshold} exceeds the {keys} distinct {role} key(s) given")]
    ThresholdTooHigh {
        role: RoleType,
        threshold: u32,
        keys: usize,
    },
    #[error(
        "root.json needs {threshold} root signature(s) but {given} private root key(s) were given"
    )]
    TooFewRootSigners { threshold: u32, given: usize },
    #[error("cannot build root.json: {0}")]
    Core(#[from] update_core::Error),
}

/// What `repo init` wrote.
#[derive(Debug)]
pub struct InitOutcome {
    pub root_path: PathBuf,
    pub expires: DateTime<Utc>,
    pub role_keys: BTreeMap<RoleType, Vec<KeyId>>,
}

/// Builds, signs, verifies and writes version 1 of root.json.
pub fn init(args: &InitArgs) -> Result<InitOutcome, InitError> {
    let repo = LocalRepo::new(&args.repo);
    if let Some(path) = repo.existing_root() {
        return Err(RepoError::RootExists { path }.into());
    }
    let expires = args.expires.resolve(Utc::now())?;
    let mut root = Root::new(1, expires);
    root.consistent_snapshot = true;
    let mut signers: BTreeMap<KeyId, SigningKey> = BTreeMap::new();
    let mut role_keys = BTreeMap::new();
    let roles = [
        (RoleType::Root, &args.root_keys, args.root_threshold),
        (
            RoleType::Targets,
            &args.targets_keys,
            args.targets_threshold,
        ),
        (
            RoleType::Snapshot,
            &args.snapshot_keys,
            args.snapshot_threshold,
        ),
        (
            RoleType::Timestamp,
            &args.timestamp_keys,
            args.timestamp_threshold,
        ),
    ];
    for (role, paths, threshold) in roles {
        let mut ids = Vec::new();
        for path in paths {
            let key = keyfile::load(path)?;
            let id = root.add_role_key(role, key.public_key().clone())?;
            if !ids.contains(&id) {
                ids.push(id.clone());
            }
            if let (RoleType::Root, KeyFile::Private(private)) = (role, key) {
                signers.insert(id, *private);
            }
        }
        if threshold == 0 {
            return Err(InitError::ThresholdZero { role });
        }
        if threshold as usize > ids.len() {
            return Err(InitError::ThresholdTooHigh {
                role,
                threshold,
                keys: ids.len(),
            });
        }
        root.role_mut(role).threshold = threshold;
        role_keys.insert(role, ids);
    }
    if signers.len() < args.root_threshold as usize {
        return Err(InitError::TooFewRootSigners {
            threshold: args.root_threshold,
            given: signers.len(),
        });
    }
    let signing_keys: Vec<&SigningKey> = signers.values().collect();
    let envelope = sign_metadata(&root, &signing_keys)?;
    verify_self_signed_root(&envelope)?;
    repo.write_first_root(&envelope.to_bytes()?)?;
    Ok(InitOutcome {
        root_path: repo.root_path(),
        expires,
        role_keys,
    })
}

pub fn run(command: &RepoCommand) -> anyhow::Result<()> {
    match command {
        RepoCommand::Init(args) => {
            let outcome = init(args)?;
            println!(
                "wrote {} (version 1, expires {})",
                outcome.root_path.display(),
                outcome.expires.to_rfc3339()
            );
            for (role, ids) in &outcome.role_keys {
                println!("  {role}: {}", ids.join(", "));
            }
            Ok(())
        }
    }
}
