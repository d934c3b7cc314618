//! The class signing roles of a local repository (docs/delegations.md): top-level
//! targets.json delegates class `C` to role `C` (paths exactly `C/*`), whose metadata is
//! kept in `DIR/delegations/C.json` and signed by a threshold of the role's own keys.
//!
//! A role file may sit below its threshold between `ota release add` (signed with one
//! engineer's key) and `ota sign` (another engineer's). It is still checked before it is
//! extended or signed: every signature on it must be valid for a key of the role, at
//! least one must be present once it lists targets, and it may list only its own class's
//! targets, so that a tampered file is refused rather than signed over.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use update_core::class_delegation::{ClassDelegationError, check_class_role_targets};
use update_core::keys::{KeyId, PublicKey, SigningKey};
use update_core::schema::{DelegatedRole, SignedEnvelope, Targets};
use update_core::sign::add_signature;
use update_core::trust::verify_role;

use crate::fsutil::write_atomic;
use crate::keyfile::{self, KeyFileError};
use crate::local_repo::{LocalRepo, RepoError};

#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Key(#[from] KeyFileError),
    #[error("targets.json does not delegate class {0:?}; run `ota class delegate` first")]
    NotDelegated(String),
    #[error("{path} is missing: run `ota class delegate {class}` to create it")]
    NoRoleFile { class: String, path: PathBuf },
    #[error(
        "key {key_id} is not a key of role {class}; the role's keys are {}",
        needed.join(", ")
    )]
    NotRoleKey {
        class: String,
        key_id: KeyId,
        needed: Vec<String>,
    },
    #[error("{path}: {reason}")]
    Tampered { path: PathBuf, reason: String },
    #[error(transparent)]
    Class(#[from] ClassDelegationError),
    #[error(
        "role {class} is signed by {signed} of the {threshold} keys it needs; run `ota sign --role {class}` with another of its keys ({})",
        needed.join(", ")
    )]
    BelowThreshold {
        class: String,
        signed: usize,
        threshold: u32,
        needed: Vec<String>,
    },
    #[error("cannot sign role {class}: {source}")]
    Core {
        class: String,
        source: update_core::Error,
    },
}

/// A class role as the top-level targets delegate it, with its current local metadata.
#[derive(Debug)]
pub struct ClassRole {
    pub class: String,
    pub delegation: DelegatedRole,
    pub keys: BTreeMap<KeyId, PublicKey>,
    pub path: PathBuf,
    pub envelope: SignedEnvelope,
    pub targets: Targets,
}

/// How far a role file's signatures reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureCount {
    pub valid: usize,
    pub threshold: u32,
}

impl SignatureCount {
    pub fn complete(&self) -> bool {
        self.valid >= self.threshold as usize
    }
}

pub fn delegations_dir(repo: &LocalRepo) -> PathBuf {
    repo.dir().join("delegations")
}

pub fn role_path(repo: &LocalRepo, class: &str) -> PathBuf {
    delegations_dir(repo).join(format!("{class}.json"))
}

/// The role `class` is delegated in `top_level`, if any.
pub fn delegation<'a>(
    top_level: &'a Targets,
    class: &str,
) -> Option<(&'a DelegatedRole, &'a BTreeMap<KeyId, PublicKey>)> {
    let delegations = top_level.delegations.as_ref()?;
    let role = delegations.roles.iter().find(|r| r.name == class)?;
    Some((role, &delegations.keys))
}

impl ClassRole {
    /// Loads and checks `DIR/delegations/CLASS.json` for the delegation in `top_level`.
    pub fn load(
        repo: &LocalRepo,
        top_level: &Targets,
        class: &str,
    ) -> Result<ClassRole, RoleError> {
        let (delegation, keys) =
            delegation(top_level, class).ok_or_else(|| RoleError::NotDelegated(class.into()))?;
        let path = role_path(repo, class);
        if path.symlink_metadata().is_err() {
            return Err(RoleError::NoRoleFile {
                class: class.into(),
                path,
            });
        }
        let (_, envelope) = repo.read_envelope(&path)?;
        let tampered = |reason: String| RoleError::Tampered {
            path: path.clone(),
            reason,
        };
        let targets: Targets = envelope
            .parse_unverified()
            .map_err(|e| tampered(e.to_string()))?;
        let role = ClassRole {
            class: class.into(),
            delegation: delegation.clone(),
            keys: keys.clone(),
            path: path.clone(),
            envelope,
            targets,
        };
        let valid = role.valid_signers();
        if valid.len() != role.envelope.signatures.len() {
            return Err(tampered(
                "it carries a signature that is not a valid signature of a key of the role".into(),
            ));
        }
        if valid.is_empty() && !role.targets.targets.is_empty() {
            return Err(tampered("it lists targets but carries no signature".into()));
        }
        check_class_role_targets(class, &role.targets)?;
        Ok(role)
    }

    /// Key ids of the role whose signature over the current metadata is valid.
    fn valid_signers(&self) -> Vec<KeyId> {
        self.delegation
            .keyids
            .iter()
            .filter(|id| {
                verify_role::<Targets>(&self.envelope, &self.class, &self.keys, &[(*id).clone()], 1)
                    .is_ok()
            })
            .cloned()
            .collect()
    }

    pub fn signature_count(&self) -> SignatureCount {
        SignatureCount {
            valid: self.valid_signers().len(),
            threshold: self.delegation.threshold,
        }
    }

    /// The role's key ids, for messages that say which keys are needed.
    pub fn needed_keys(&self) -> Vec<String> {
        self.delegation
            .keyids
            .iter()
            .map(|id| id.to_string())
            .collect()
    }

    /// Loads private keys, each of which must be a key of this role.
    pub fn load_signers(&self, paths: &[PathBuf]) -> Result<Vec<SigningKey>, RoleError> {
        let mut signers: Vec<SigningKey> = Vec::new();
        for path in paths {
            let key = keyfile::load_private(path)?;
            if !self.delegation.keyids.contains(key.key_id()) {
                return Err(RoleError::NotRoleKey {
                    class: self.class.clone(),
                    key_id: key.key_id().clone(),
                    needed: self.needed_keys(),
                });
            }
            if !signers.iter().any(|k| k.key_id() == key.key_id()) {
                signers.push(key);
            }
        }
        Ok(signers)
    }

    /// Replaces the metadata with `targets` signed by `signers` (old signatures are over
    /// other content and are dropped), checked to stay in the class, and writes it.
    pub fn write_new_version(
        &mut self,
        targets: Targets,
        signers: &[SigningKey],
    ) -> Result<SignatureCount, RoleError> {
        check_class_role_targets(&self.class, &targets)?;
        let keys: Vec<&SigningKey> = signers.iter().collect();
        let core = |source| RoleError::Core {
            class: self.class.clone(),
            source,
        };
        self.envelope = update_core::sign::sign_metadata(&targets, &keys).map_err(core)?;
        self.targets = targets;
        self.write()
    }

    /// Adds signatures to the current metadata without changing it.
    pub fn add_signatures(&mut self, signers: &[SigningKey]) -> Result<SignatureCount, RoleError> {
        for key in signers {
            add_signature(&mut self.envelope, key).map_err(|source| RoleError::Core {
                class: self.class.clone(),
                source,
            })?;
        }
        self.write()
    }

    fn write(&self) -> Result<SignatureCount, RoleError> {
        let core = |source| RoleError::Core {
            class: self.class.clone(),
            source,
        };
        let bytes = self.envelope.to_bytes().map_err(core)?;
        write_role_file(&self.path, &bytes)?;
        Ok(self.signature_count())
    }

    /// An error unless a threshold of the role's keys signed the current metadata.
    pub fn check_complete(&self) -> Result<(), RoleError> {
        let count = self.signature_count();
        if count.complete() {
            return Ok(());
        }
        Err(RoleError::BelowThreshold {
            class: self.class.clone(),
            signed: count.valid,
            threshold: count.threshold,
            needed: self.needed_keys(),
        })
    }
}

pub(crate) fn write_role_file(path: &Path, bytes: &[u8]) -> Result<(), RepoError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| RepoError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    write_atomic(path, bytes).map_err(|source| RepoError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// What `release add` and `config add` print after signing into a role.
pub fn signing_note(class: &str, count: &SignatureCount) -> String {
    if count.complete() {
        format!(
            "role {class}: signed {} of {} needed",
            count.valid, count.threshold
        )
    } else {
        format!(
            "role {class}: signed {} of {}; run ota sign with another key of role {class}",
            count.valid, count.threshold
        )
    }
}
