//! The one error type of `update-core`: a variant per failure a caller can act on.

use chrono::{DateTime, Utc};

use crate::schema::RoleType;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{what} is not valid metadata JSON: {reason}")]
    MalformedMetadata { what: String, reason: String },

    #[error("cannot produce canonical JSON: {0}")]
    CanonicalJson(String),

    #[error("expected {expected} metadata, found _type {found:?}")]
    WrongRoleType { expected: RoleType, found: String },

    #[error("{role} metadata has spec_version {found:?}; only 1.0.x is supported")]
    UnsupportedSpecVersion { role: String, found: String },

    #[error(
        "{role} metadata has {valid} valid signature(s) from authorised keys, {threshold} needed"
    )]
    ThresholdNotMet {
        role: String,
        valid: usize,
        threshold: u32,
    },

    #[error("{role} metadata expired at {expires} (reference time {now})")]
    Expired {
        role: String,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    },

    #[error("{role} metadata version {new} is older than the trusted version {trusted}")]
    VersionRollback {
        role: String,
        trusted: u64,
        new: u64,
    },

    #[error("{role} metadata version {found} is not the expected version {expected}")]
    VersionMismatch {
        role: String,
        expected: u64,
        found: u64,
    },

    #[error("{role} metadata version {version} is the version already trusted")]
    EqualVersion { role: String, version: u64 },

    #[error("{what}: length {actual} does not match the signed length {expected}")]
    LengthMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },

    #[error("{what}: sha256 does not match the signed hash")]
    HashMismatch { what: String },

    #[error("{what}: no sha256 hash in the signed metadata")]
    MissingHash { what: String },

    #[error("{what} is missing from {role} metadata")]
    MissingMeta { role: String, what: String },

    #[error("{0} metadata must be loaded before this step")]
    RoleNotLoaded(RoleType),

    #[error("invalid key: {0}")]
    InvalidKey(String),

    #[error("invalid metadata: {0}")]
    InvalidMetadata(String),

    #[error("invalid firmware fields in target {target}: {reason}")]
    InvalidFirmware { target: String, reason: String },
}

/// An error and its causes on one line, each cause shown once: many messages already
/// quote their cause, and some (reqwest's) hide the actual reason (connection refused,
/// DNS, TLS) in their sources.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
