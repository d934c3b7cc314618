//! Finding a target through delegations: the pre-order depth-first search of the TUF
//! specification (5.6.7), roles in the order their delegator lists them, a terminating
//! delegation ending the search of other branches, at most `max_delegations` roles.

use std::collections::BTreeSet;

use tracing::debug;
use update_core::class_delegation::class_role_pattern;
use update_core::schema::{TargetFile, Targets};
use update_core::trust::{ROOT_DELEGATOR, TOP_LEVEL_TARGETS, TrustedMetadata};

use super::Updater;
use crate::error::{Error, Result};

impl Updater {
    /// The signed description of `target_path` from the most trusted role that lists it,
    /// loading (and verifying against their delegators) the roles on the way.
    pub async fn find_target(
        &self,
        trusted: &mut TrustedMetadata,
        target_path: &str,
    ) -> Result<Option<TargetFile>> {
        // (role, delegator) pairs still to visit; the next one is at the end.
        let mut to_visit = vec![(TOP_LEVEL_TARGETS.to_string(), ROOT_DELEGATOR.to_string())];
        let mut visited = BTreeSet::new();
        while visited.len() <= self.limits.max_delegations {
            let Some((role, delegator)) = to_visit.pop() else {
                return Ok(None);
            };
            if visited.contains(&role) {
                debug!(role, "already visited: skipping");
                continue;
            }
            self.load_targets(trusted, &role, &delegator).await?;
            let targets = trusted.targets_role(&role, &delegator).ok_or_else(|| {
                Error::Metadata(update_core::Error::InvalidMetadata(format!(
                    "{role} was loaded but is not trusted"
                )))
            })?;
            if let Some(target) = targets.targets.get(target_path) {
                debug!(role, target_path, "found");
                return Ok(Some(target.clone()));
            }
            let children: Vec<(String, bool)> = targets
                .delegations
                .iter()
                .flat_map(|d| d.roles_for_target(target_path))
                .map(|child| (child.name.clone(), child.terminating))
                .collect();
            visited.insert(role.clone());
            if children.last().is_some_and(|(_, terminating)| *terminating) {
                debug!(role, "terminating delegation: no other branch is searched");
                to_visit.clear();
            }
            to_visit.extend(
                children
                    .into_iter()
                    .rev()
                    .map(|(child, _)| (child, role.clone())),
            );
        }
        debug!(
            max = self.limits.max_delegations,
            "delegation search stopped at its bound"
        );
        Ok(None)
    }

    /// The targets the role of `class` signs (docs/delegations.md), loaded and verified
    /// against the top-level delegation like any delegated role: `None` when the
    /// top-level targets do not delegate `class` as a class role. Only targets inside the
    /// role's paths are returned, as a search would only ever find those.
    pub async fn class_role_targets(
        &self,
        trusted: &mut TrustedMetadata,
        class: &str,
    ) -> Result<Option<Targets>> {
        let role = trusted
            .targets()
            .and_then(|top| top.delegations.as_ref())
            .and_then(|d| d.roles.iter().find(|r| r.name == class))
            .filter(|r| r.paths.as_deref() == Some(&[class_role_pattern(class)][..]))
            .cloned();
        let Some(role) = role else {
            return Ok(None);
        };
        self.load_targets(trusted, class, TOP_LEVEL_TARGETS).await?;
        let Some(targets) = trusted.targets_role(class, TOP_LEVEL_TARGETS) else {
            return Ok(None);
        };
        let mut inside: Targets = (**targets).clone();
        inside
            .targets
            .retain(|name, _| role.is_delegated_path(name));
        Ok(Some(inside))
    }
}
