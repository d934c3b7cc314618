//! `ota class delegate` and `ota class delegations`: the per-class signing roles
//! (docs/delegations.md) in the local repository's top-level targets.json.
//! `ota sign` (in [`super::sign`]) adds a signature to a role's current metadata.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::Utc;
use update_core::class_delegation::{check_class_delegations, class_role_pattern};
use update_core::firmware::check_identifier;
use update_core::schema::{DelegatedRole, Delegations, Targets, Unrecognized};

use super::release::{ReleaseError, load_targets_signers, sign_targets};
use crate::class_roles::{ClassRole, role_path, write_role_file};
use crate::display::{Table, printable};
use crate::expiry::{DEFAULT_EXPIRY, Expiry};
use crate::keyfile;
use crate::local_repo::LocalRepo;

#[derive(Clone, Debug, clap::Args)]
pub struct DelegateArgs {
    /// Device class whose releases and profiles the role signs (names CLASS/*)
    pub class: String,
    /// Repository directory
    #[arg(long)]
    pub repo: PathBuf,
    /// Private top-level targets keys that sign the new targets.json
    #[arg(long = "targets-key", value_name = "PEM", num_args = 1.., required = true)]
    pub targets_keys: Vec<PathBuf>,
    /// Keys of the class's role (public `.pub` or private PEM)
    #[arg(long = "key", value_name = "PUB", num_args = 1.., required = true)]
    pub keys: Vec<PathBuf>,
    /// How many of the role's keys must sign
    #[arg(long)]
    pub threshold: u32,
    /// Lifetime (365d) or UTC time of the new targets.json
    #[arg(long, default_value = DEFAULT_EXPIRY)]
    pub expires: Expiry,
}

#[derive(Clone, Debug, clap::Args)]
pub struct DelegationsArgs {
    /// Repository directory
    #[arg(long)]
    pub repo: PathBuf,
}

/// What `class delegate` wrote.
#[derive(Debug)]
pub struct Delegated {
    pub targets_version: u64,
    pub role_file_created: bool,
}

/// Adds or replaces the delegation of `args.class` in targets.json (a new version signed
/// with the top-level targets keys) and creates the empty role file if there is none:
/// version 0, unsigned, a placeholder that `release add` or `config add` turns into
/// version 1 and that `ota publish` never sends.
pub fn delegate(args: &DelegateArgs) -> Result<Delegated, ReleaseError> {
    check_identifier("class", &args.class).map_err(ReleaseError::Identifier)?;
    let repo = LocalRepo::new(&args.repo);
    let root = repo.load_root()?;
    let signers = load_targets_signers(&root, &args.targets_keys)?;
    let expires = args.expires.resolve(Utc::now())?;
    let mut targets = match repo.load_targets(&root)? {
        Some(existing) => existing.targets.into_inner(),
        None => Targets::new(0, expires),
    };
    let mut role_keys = BTreeMap::new();
    for path in &args.keys {
        let key = keyfile::load(path)?;
        role_keys.insert(key.key_id().clone(), key.public_key().clone());
    }
    let delegations = targets.delegations.get_or_insert_with(|| Delegations {
        keys: BTreeMap::new(),
        roles: Vec::new(),
        unrecognized: Unrecognized::new(),
    });
    let role = DelegatedRole {
        name: args.class.clone(),
        keyids: role_keys.keys().cloned().collect(),
        threshold: args.threshold,
        terminating: false,
        paths: Some(vec![class_role_pattern(&args.class)]),
        path_hash_prefixes: None,
        unrecognized: Unrecognized::new(),
    };
    match delegations.roles.iter_mut().find(|r| r.name == args.class) {
        Some(existing) => *existing = role,
        None => delegations.roles.push(role),
    }
    delegations.keys.extend(role_keys);
    // Keys no role uses any more are dropped, so a replaced key is no longer listed.
    let used: Vec<_> = delegations
        .roles
        .iter()
        .flat_map(|r| r.keyids.iter().cloned())
        .collect();
    delegations.keys.retain(|id, _| used.contains(id));
    check_class_delegations(delegations).map_err(|e| ReleaseError::Identifier(e.to_string()))?;
    targets.version += 1;
    targets.expires = expires;
    let bytes = sign_targets(&root, &targets, &signers)?;

    let path = role_path(&repo, &args.class);
    let role_file_created = path.symlink_metadata().is_err();
    if role_file_created {
        let placeholder = update_core::sign::sign_metadata(&Targets::new(0, expires), &[])?;
        write_role_file(&path, &placeholder.to_bytes()?)?;
    }
    repo.write_targets(&bytes)?;
    Ok(Delegated {
        targets_version: targets.version,
        role_file_created,
    })
}

/// One line per delegated role: name, threshold, key ids, local version and signatures.
pub fn delegations_table(repo: &LocalRepo) -> Result<Table, ReleaseError> {
    let root = repo.load_root()?;
    let mut table = Table::new(&["ROLE", "PATHS", "THRESHOLD", "KEYS", "VERSION", "SIGNED"]);
    let Some(top_level) = repo.load_targets(&root)? else {
        return Ok(table);
    };
    let top_level = top_level.targets.into_inner();
    for role in top_level.delegations.iter().flat_map(|d| d.roles.iter()) {
        let (version, signed) = match ClassRole::load(repo, &top_level, &role.name) {
            Ok(local) => (
                local.targets.version.to_string(),
                local.signature_count().valid.to_string(),
            ),
            Err(e) => ("-".into(), printable(&e.to_string(), 80)),
        };
        table.push(vec![
            printable(&role.name, 64),
            printable(&role.paths.clone().unwrap_or_default().join(","), 80),
            format!("{} of {}", role.threshold, role.keyids.len()),
            role.keyids
                .iter()
                .map(|id| printable(id, 64))
                .collect::<Vec<_>>()
                .join(","),
            version,
            signed,
        ]);
    }
    Ok(table)
}
