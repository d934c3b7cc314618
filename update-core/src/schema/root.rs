use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{RoleType, Unrecognized, expiry, impl_metadata};
use crate::keys::{KeyId, PublicKey};

/// `root.json`: which keys may sign for each top-level role, and how many must.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Root {
    #[serde(rename = "_type")]
    pub role_type: RoleType,
    pub spec_version: String,
    #[serde(default)]
    pub consistent_snapshot: bool,
    pub version: u64,
    #[serde(with = "expiry")]
    pub expires: DateTime<Utc>,
    pub keys: BTreeMap<KeyId, PublicKey>,
    pub roles: TopLevelRoles,
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}
impl_metadata!(Root, RoleType::Root, |root: &Root| {
    for role in RoleType::ALL {
        super::check_unique_keyids(role.as_str(), &root.role(role).keyids)?;
    }
    Ok(())
});

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopLevelRoles {
    pub root: RoleKeys,
    pub targets: RoleKeys,
    pub snapshot: RoleKeys,
    pub timestamp: RoleKeys,
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

/// The keys allowed to sign for a role and how many distinct ones must.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleKeys {
    pub keyids: Vec<KeyId>,
    pub threshold: u32,
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

impl RoleKeys {
    pub fn new(keyids: Vec<KeyId>, threshold: u32) -> Self {
        RoleKeys {
            keyids,
            threshold,
            unrecognized: Unrecognized::new(),
        }
    }
}

impl Root {
    /// A root with no keys yet, every role at threshold 1.
    pub fn new(version: u64, expires: DateTime<Utc>) -> Self {
        let role = || RoleKeys::new(Vec::new(), 1);
        Root {
            role_type: RoleType::Root,
            spec_version: crate::SPEC_VERSION.to_string(),
            consistent_snapshot: true,
            version,
            expires,
            keys: BTreeMap::new(),
            roles: TopLevelRoles {
                root: role(),
                targets: role(),
                snapshot: role(),
                timestamp: role(),
                unrecognized: Unrecognized::new(),
            },
            unrecognized: Unrecognized::new(),
        }
    }

    pub fn role_mut(&mut self, role: RoleType) -> &mut RoleKeys {
        match role {
            RoleType::Root => &mut self.roles.root,
            RoleType::Targets => &mut self.roles.targets,
            RoleType::Snapshot => &mut self.roles.snapshot,
            RoleType::Timestamp => &mut self.roles.timestamp,
        }
    }

    /// Authorises `key` for `role` (adding it to `keys` if new).
    pub fn add_role_key(&mut self, role: RoleType, key: PublicKey) -> Result<KeyId, crate::Error> {
        let id = key.key_id()?;
        self.keys.insert(id.clone(), key);
        let keyids = &mut self.role_mut(role).keyids;
        if !keyids.contains(&id) {
            keyids.push(id.clone());
        }
        Ok(id)
    }

    /// The key set and threshold of a top-level role.
    pub fn role(&self, role: RoleType) -> &RoleKeys {
        match role {
            RoleType::Root => &self.roles.root,
            RoleType::Targets => &self.roles.targets,
            RoleType::Snapshot => &self.roles.snapshot,
            RoleType::Timestamp => &self.roles.timestamp,
        }
    }

    /// The public keys of a top-level role that this root lists.
    pub fn role_public_keys(&self, role: RoleType) -> impl Iterator<Item = (&KeyId, &PublicKey)> {
        self.role(role)
            .keyids
            .iter()
            .filter_map(|id| self.keys.get_key_value(id))
    }
}
