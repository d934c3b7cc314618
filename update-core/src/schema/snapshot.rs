use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{MetaFile, RoleType, Unrecognized, expiry, impl_metadata};

/// `snapshot.json`: the version of every targets metadata file in the repository.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(rename = "_type")]
    pub role_type: RoleType,
    pub spec_version: String,
    pub version: u64,
    #[serde(with = "expiry")]
    pub expires: DateTime<Utc>,
    /// Keyed by file name, e.g. `targets.json` or `<delegated role>.json`.
    pub meta: BTreeMap<String, MetaFile>,
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}
impl_metadata!(Snapshot, RoleType::Snapshot);

impl Snapshot {
    pub fn new(version: u64, expires: DateTime<Utc>, meta: BTreeMap<String, MetaFile>) -> Self {
        Snapshot {
            role_type: RoleType::Snapshot,
            spec_version: crate::SPEC_VERSION.to_string(),
            version,
            expires,
            meta,
            unrecognized: Unrecognized::new(),
        }
    }

    /// The snapshot entry of a targets role (`targets` or a delegated role name).
    pub fn role_meta(&self, role_name: &str) -> Option<&MetaFile> {
        self.meta.get(&format!("{role_name}.json"))
    }
}
