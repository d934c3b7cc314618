//! `ota sign --role CLASS --key PEM...`: adds signatures to a class role's current
//! metadata without changing it or its version: how a second engineer completes a
//! 2-of-N release that `ota release add` signed with one key (docs/delegations.md).

use std::path::PathBuf;

use super::release::ReleaseError;
use crate::class_roles::{ClassRole, SignatureCount, signing_note};
use crate::local_repo::LocalRepo;

#[derive(Clone, Debug, clap::Args)]
pub struct SignArgs {
    /// Repository directory
    #[arg(long)]
    pub repo: PathBuf,
    /// The class role to sign
    #[arg(long)]
    pub role: String,
    /// Private keys of the role to sign with
    #[arg(long = "key", value_name = "PEM", num_args = 1.., required = true)]
    pub keys: Vec<PathBuf>,
}

/// Signs the role's current metadata with every key given.
pub fn sign(args: &SignArgs) -> Result<SignatureCount, ReleaseError> {
    let repo = LocalRepo::new(&args.repo);
    let root = repo.load_root()?;
    let top_level = repo
        .load_targets(&root)?
        .map(|t| t.targets.into_inner())
        .ok_or_else(|| crate::class_roles::RoleError::NotDelegated(args.role.clone()))?;
    let mut role = ClassRole::load(&repo, &top_level, &args.role)?;
    if role.targets.version == 0 {
        return Err(ReleaseError::Identifier(format!(
            "role {} has nothing to sign yet: add a release or profile first",
            args.role
        )));
    }
    let signers = role.load_signers(&args.keys)?;
    Ok(role.add_signatures(&signers)?)
}

pub fn run(args: &SignArgs) -> anyhow::Result<()> {
    let count = sign(args)?;
    println!("{}", signing_note(&args.role, &count));
    Ok(())
}
