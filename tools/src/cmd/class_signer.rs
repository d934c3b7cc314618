//! Who signs a release or configuration profile of a class: the top-level targets keys,
//! or, when targets.json delegates the class, the class's own role (docs/delegations.md).

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::Utc;
use update_core::class_delegation::{check_class_role_targets, class_target_name};
use update_core::keys::{KeyId, SigningKey};
use update_core::schema::{Root, Targets};

use super::release::{ReleaseError, load_targets_signers, sign_targets};
use crate::class_roles::{ClassRole, RoleError, SignatureCount, delegation};
use crate::local_repo::LocalRepo;

/// Who signs a release or profile of a class: the top-level targets keys, or, when
/// targets.json delegates the class, the class's own role.
pub(crate) enum ClassSigner {
    TopLevel(BTreeMap<KeyId, SigningKey>),
    Role(Box<ClassRole>, Vec<SigningKey>),
}

impl ClassSigner {
    /// The signer for `class` with the keys at `paths`, and the metadata it extends.
    pub(crate) fn choose(
        repo: &LocalRepo,
        root: &Root,
        class: &str,
        paths: &[PathBuf],
        expires: chrono::DateTime<Utc>,
    ) -> Result<(ClassSigner, Targets), ReleaseError> {
        let top_level = repo.load_targets(root)?.map(|t| t.targets.into_inner());
        match top_level {
            Some(top_level) if delegation(&top_level, class).is_some() => {
                let role = ClassRole::load(repo, &top_level, class)?;
                let signers = role.load_signers(paths)?;
                let targets = role.targets.clone();
                Ok((ClassSigner::Role(Box::new(role), signers), targets))
            }
            top_level => Ok((
                ClassSigner::TopLevel(load_targets_signers(root, paths)?),
                top_level.unwrap_or_else(|| Targets::new(0, expires)),
            )),
        }
    }

    /// The target name of `name` where this signer signs.
    pub(crate) fn target_name(&self, name: String) -> String {
        match self {
            ClassSigner::Role(role, _) if !name.starts_with(&format!("{}/", role.class)) => {
                class_target_name(&role.class, &name)
            }
            _ => name,
        }
    }

    /// Signs `targets` (checked as a device or the server would) without writing it.
    pub(crate) fn check(
        &self,
        root: &Root,
        targets: &Targets,
    ) -> Result<Option<Vec<u8>>, ReleaseError> {
        match self {
            ClassSigner::TopLevel(signers) => Ok(Some(sign_targets(root, targets, signers)?)),
            ClassSigner::Role(role, _) => {
                check_class_role_targets(&role.class, targets).map_err(RoleError::from)?;
                Ok(None)
            }
        }
    }

    /// Writes the signed metadata made by [`ClassSigner::check`] (top level) or signs and
    /// writes the role's new version; returns the role's signature count.
    pub(crate) fn write(
        self,
        repo: &LocalRepo,
        targets: Targets,
        signed: Option<Vec<u8>>,
    ) -> Result<Option<SignatureCount>, ReleaseError> {
        match (self, signed) {
            (ClassSigner::Role(mut role, signers), _) => {
                Ok(Some(role.write_new_version(targets, &signers)?))
            }
            (ClassSigner::TopLevel(_), Some(bytes)) => {
                repo.write_targets(&bytes)?;
                Ok(None)
            }
            (ClassSigner::TopLevel(signers), None) => {
                let root = repo.load_root()?;
                repo.write_targets(&sign_targets(&root, &targets, &signers)?)?;
                Ok(None)
            }
        }
    }
}
