//! The TUF 1.0 metadata model as plain serde types.
//!
//! These types describe what metadata *says*; they never decide whether to believe it.
//! Only [`crate::trust`] turns received bytes into trusted values. Every struct keeps the
//! fields it does not know in `unrecognized`, so metadata written by a newer implementation
//! survives a read-modify-sign cycle here.

mod delegations;
mod root;
mod snapshot;
mod targets;
mod timestamp;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use delegations::{DelegatedRole, Delegations, path_matches};
pub use root::{RoleKeys, Root, TopLevelRoles};
pub use snapshot::Snapshot;
pub use targets::{TargetFile, Targets};
pub use timestamp::Timestamp;

use crate::Error;

/// Extra JSON fields a struct does not model, kept verbatim.
pub type Unrecognized = BTreeMap<String, Value>;

/// The four top-level roles (and `_type` values) of TUF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleType {
    Root,
    Targets,
    Snapshot,
    Timestamp,
}

impl RoleType {
    pub const ALL: [RoleType; 4] = [
        RoleType::Root,
        RoleType::Targets,
        RoleType::Snapshot,
        RoleType::Timestamp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RoleType::Root => "root",
            RoleType::Targets => "targets",
            RoleType::Snapshot => "snapshot",
            RoleType::Timestamp => "timestamp",
        }
    }
}

impl fmt::Display for RoleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RoleType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RoleType::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?}"))
    }
}

/// What every metadata file's `signed` object has in common.
pub trait Metadata: Serialize + serde::de::DeserializeOwned {
    const ROLE_TYPE: RoleType;
    fn role_type(&self) -> &RoleType;
    fn spec_version(&self) -> &str;
    fn version(&self) -> u64;
    fn expires(&self) -> DateTime<Utc>;

    /// Rules the format itself sets beyond what serde checks (unique key ids in a role,
    /// unique delegated role names, ...). Metadata breaking them is refused whole.
    fn check_well_formed(&self) -> Result<(), String> {
        Ok(())
    }
}

macro_rules! impl_metadata {
    ($ty:ty, $role:expr) => {
        impl_metadata!($ty, $role, |_metadata: &$ty| Ok(()));
    };
    ($ty:ty, $role:expr, $check:expr) => {
        impl $crate::schema::Metadata for $ty {
            const ROLE_TYPE: $crate::schema::RoleType = $role;
            fn role_type(&self) -> &$crate::schema::RoleType {
                &self.role_type
            }
            fn spec_version(&self) -> &str {
                &self.spec_version
            }
            fn version(&self) -> u64 {
                self.version
            }
            fn expires(&self) -> chrono::DateTime<chrono::Utc> {
                self.expires
            }
            fn check_well_formed(&self) -> Result<(), String> {
                let check: fn(&$ty) -> Result<(), String> = $check;
                check(self)
            }
        }
    };
}
pub(crate) use impl_metadata;

/// Fails if `keyids` names a key twice: a role lists each key once.
pub(crate) fn check_unique_keyids(role: &str, keyids: &[String]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    match keyids.iter().find(|id| !seen.insert(id.as_str())) {
        Some(id) => Err(format!("role {role} lists key id {id} more than once")),
        None => Ok(()),
    }
}

/// One signature in a metadata envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub keyid: String,
    /// Hex-encoded signature bytes.
    pub sig: String,
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

/// A metadata file as received: signatures plus the `signed` object kept as raw JSON, so
/// that signatures are checked over exactly what was sent.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignedEnvelope {
    pub signatures: Vec<Signature>,
    pub signed: Value,
}

impl SignedEnvelope {
    /// Parses a metadata file's bytes. `what` names the file in errors.
    pub fn from_slice(bytes: &[u8], what: &str) -> Result<Self, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::MalformedMetadata {
            what: what.to_string(),
            reason: e.to_string(),
        })
    }

    /// The file form written to disk and served: pretty JSON, ending in a newline.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut bytes =
            serde_json::to_vec_pretty(self).map_err(|e| Error::InvalidMetadata(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Reads the `signed` object as typed metadata, *without* verifying anything. Use this
    /// only on metadata you produced or already verified; [`crate::trust`] is the way in
    /// for anything received.
    pub fn parse_unverified<T: Metadata>(&self) -> Result<T, Error> {
        let found = self
            .signed
            .get("_type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if found != T::ROLE_TYPE.as_str() {
            return Err(Error::WrongRoleType {
                expected: T::ROLE_TYPE,
                found: found.to_string(),
            });
        }
        serde_json::from_value(self.signed.clone()).map_err(|e| Error::MalformedMetadata {
            what: T::ROLE_TYPE.to_string(),
            reason: e.to_string(),
        })
    }
}

/// Version, length and hashes of a metadata file, as listed in snapshot and timestamp.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaFile {
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<BTreeMap<String, String>>,
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

impl MetaFile {
    pub fn new(version: u64) -> Self {
        MetaFile {
            version,
            length: None,
            hashes: None,
            unrecognized: Unrecognized::new(),
        }
    }

    /// An entry pinning the exact bytes of a metadata file by length and sha256.
    pub fn describing(version: u64, bytes: &[u8]) -> Self {
        MetaFile {
            version,
            length: Some(bytes.len() as u64),
            hashes: Some(BTreeMap::from([(
                "sha256".to_string(),
                crate::hash::sha256_hex(bytes),
            )])),
            unrecognized: Unrecognized::new(),
        }
    }
}

/// `expires` in the exact form the specification gives, `YYYY-MM-DDTHH:MM:SSZ`.
pub mod expiry {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        if !text.ends_with('Z') {
            return Err(serde::de::Error::custom("expires must be UTC, ending in Z"));
        }
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// Truncates a time to whole seconds, since `expires` carries no fraction.
pub fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}
