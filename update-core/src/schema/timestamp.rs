use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{MetaFile, RoleType, Unrecognized, expiry, impl_metadata};

/// `timestamp.json`: short-lived, re-signed often; names the current snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timestamp {
    #[serde(rename = "_type")]
    pub role_type: RoleType,
    pub spec_version: String,
    pub version: u64,
    #[serde(with = "expiry")]
    pub expires: DateTime<Utc>,
    /// Holds exactly one entry, `snapshot.json`.
    pub meta: BTreeMap<String, MetaFile>,
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}
impl_metadata!(Timestamp, RoleType::Timestamp);

impl Timestamp {
    pub const SNAPSHOT_FILE: &'static str = "snapshot.json";

    pub fn new(version: u64, expires: DateTime<Utc>, snapshot: MetaFile) -> Self {
        Timestamp {
            role_type: RoleType::Timestamp,
            spec_version: crate::SPEC_VERSION.to_string(),
            version,
            expires,
            meta: BTreeMap::from([(Self::SNAPSHOT_FILE.to_string(), snapshot)]),
            unrecognized: Unrecognized::new(),
        }
    }

    pub fn snapshot_meta(&self) -> Option<&MetaFile> {
        self.meta.get(Self::SNAPSHOT_FILE)
    }
}
