//! Per-class signing authority: the rule that ties a delegated targets role to one device
//! class. The role for class `C` is named `C` and is delegated exactly the paths
//! `["C/*"]`, so it can sign only names `C/<file>`; since class names cannot contain `/`
//! and patterns match one segment at a time, no class's role can sign a name in another
//! class's space. Its firmware and configuration profiles must also say class `C`.
//!
//! The server applies these checks before it publishes delegations or delegated
//! metadata; `ota` applies them before it signs.

use crate::config_profile::profile_of_target;
use crate::firmware::{Firmware, check_identifier};
use crate::schema::{DelegatedRole, Delegations, Targets};

/// The single path pattern the role of `class` is delegated.
pub fn class_role_pattern(class: &str) -> String {
    format!("{class}/*")
}

/// The target name of `file` in the space of `class`'s role.
pub fn class_target_name(class: &str, file: &str) -> String {
    format!("{class}/{file}")
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClassDelegationError {
    #[error("delegated role {role:?}: {reason}")]
    BadDelegation { role: String, reason: String },
    #[error("role {role:?} may not sign target {target:?}: {reason}")]
    OutsideClass {
        role: String,
        target: String,
        reason: String,
    },
}

/// Every role `delegations` lists must be a class role: a class identifier as its name,
/// paths exactly `["NAME/*"]`, no hash prefixes, a threshold of at least one and no more
/// than it has keys, each key listed in `delegations.keys`.
pub fn check_class_delegations(delegations: &Delegations) -> Result<(), ClassDelegationError> {
    for role in &delegations.roles {
        check_class_role(delegations, role)?;
    }
    Ok(())
}

fn check_class_role(
    delegations: &Delegations,
    role: &DelegatedRole,
) -> Result<(), ClassDelegationError> {
    let bad = |reason: String| ClassDelegationError::BadDelegation {
        role: role.name.clone(),
        reason,
    };
    check_identifier("role name", &role.name).map_err(bad)?;
    if role.path_hash_prefixes.is_some() {
        return Err(bad("path_hash_prefixes are not allowed".into()));
    }
    let expected = vec![class_role_pattern(&role.name)];
    if role.paths.as_ref() != Some(&expected) {
        return Err(bad(format!("paths must be exactly {expected:?}")));
    }
    if role.threshold == 0 || role.threshold as usize > role.keyids.len() {
        return Err(bad(format!(
            "threshold {} with {} key(s)",
            role.threshold,
            role.keyids.len()
        )));
    }
    if let Some(missing) = role
        .keyids
        .iter()
        .find(|id| !delegations.keys.contains_key(*id))
    {
        return Err(bad(format!(
            "key {missing} is not in the delegation's keys"
        )));
    }
    Ok(())
}

/// What the role of `class` signed stays in its class: every target inside `C/*`, every
/// firmware target and configuration profile of class `C`, and no further delegation.
pub fn check_class_role_targets(
    class: &str,
    targets: &Targets,
) -> Result<(), ClassDelegationError> {
    let outside = |target: &str, reason: String| ClassDelegationError::OutsideClass {
        role: class.to_string(),
        target: target.to_string(),
        reason,
    };
    if targets
        .delegations
        .as_ref()
        .is_some_and(|d| !d.roles.is_empty())
    {
        return Err(ClassDelegationError::BadDelegation {
            role: class.to_string(),
            reason: "a class role may not delegate further".into(),
        });
    }
    let pattern = class_role_pattern(class);
    for (name, file) in &targets.targets {
        if !crate::schema::path_matches(&pattern, name) {
            return Err(outside(name, format!("not inside {pattern:?}")));
        }
        match Firmware::of_target(name, file) {
            Ok(Some(firmware)) if firmware.class != class => {
                return Err(outside(
                    name,
                    format!("firmware of class {:?}", firmware.class),
                ));
            }
            Ok(_) => {}
            Err(e) => return Err(outside(name, e.to_string())),
        }
        match profile_of_target(name, file) {
            Ok(Some(profile)) if profile.class != class => {
                return Err(outside(
                    name,
                    format!("profile of class {:?}", profile.class),
                ));
            }
            Ok(_) => {}
            Err(e) => return Err(outside(name, e.to_string())),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
