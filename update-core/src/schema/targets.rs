use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Delegations, RoleType, Unrecognized, expiry, impl_metadata};

/// `targets.json` (or a delegated targets role): the files devices may install.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    #[serde(rename = "_type")]
    pub role_type: RoleType,
    pub spec_version: String,
    pub version: u64,
    #[serde(with = "expiry")]
    pub expires: DateTime<Utc>,
    pub targets: BTreeMap<String, TargetFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Delegations>,
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}
impl_metadata!(Targets, RoleType::Targets, |targets: &Targets| {
    targets
        .delegations
        .as_ref()
        .map_or(Ok(()), Delegations::check_well_formed)
});

/// One target file: its exact length and hashes, plus free-form `custom` fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetFile {
    pub length: u64,
    pub hashes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Value>,
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

impl Targets {
    pub fn new(version: u64, expires: DateTime<Utc>) -> Self {
        Targets {
            role_type: RoleType::Targets,
            spec_version: crate::SPEC_VERSION.to_string(),
            version,
            expires,
            targets: BTreeMap::new(),
            delegations: None,
            unrecognized: Unrecognized::new(),
        }
    }
}

impl TargetFile {
    pub fn new(length: u64, sha256: String, custom: Option<Value>) -> Self {
        TargetFile {
            length,
            hashes: BTreeMap::from([("sha256".to_string(), sha256)]),
            custom,
            unrecognized: Unrecognized::new(),
        }
    }

    pub fn sha256(&self) -> Option<&str> {
        self.hashes.get("sha256").map(String::as_str)
    }
}
