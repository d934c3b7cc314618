//! The agent's one error type. Variants are grouped by what the agent does about them:
//! transient failures are retried at the next poll, verification failures and refusals
//! are reported (refusals are also remembered so the release is not tried again), local
//! failures (disk, bootloader, commands, corrupt state) need an operator.

use std::io;
use std::path::PathBuf;

use crate::decision::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    // --- transient: network and server trouble ---
    /// The whole cause chain is in the message: a TLS refusal ("invalid peer
    /// certificate: UnknownIssuer") is the innermost cause.
    #[error("request to {url} failed: {}", update_core::error::error_chain(source))]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("{url} answered HTTP {status}: {message}")]
    HttpStatus {
        url: String,
        status: u16,
        message: String,
    },

    #[error("{url} not found (HTTP 404)")]
    NotFound { url: String },

    // --- verification: what the server sent cannot be trusted ---
    #[error("{url} sent more than the allowed {limit} bytes; download stopped")]
    TooLarge { url: String, limit: u64 },

    #[error("metadata refused: {0}")]
    Metadata(#[from] update_core::Error),

    #[error("download of {what} refused: {reason}")]
    TargetMismatch { what: String, reason: String },

    #[error("server response from {url} is not valid: {reason}")]
    BadResponse { url: String, reason: String },

    #[error("delta {target} not applied: {source}")]
    Delta {
        target: String,
        #[source]
        source: update_delta::ApplyError,
    },

    // --- policy: a verified release this device must not install ---
    #[error("update refused: {0}")]
    Refused(#[from] Refusal),

    // --- local: disk, state files, bootloader, commands, configuration ---
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },

    #[error("state file {path} is corrupt: {reason}")]
    CorruptState { path: PathBuf, reason: String },

    #[error("bootloader: {0}")]
    Bootloader(String),

    #[error("slot {slot}: {reason}")]
    Slot { slot: String, reason: String },

    #[error("{what} command failed: {reason}")]
    Command { what: String, reason: String },

    #[error("configuration {path}: {reason}")]
    Config { path: PathBuf, reason: String },

    #[error("TLS: {0}")]
    Tls(#[from] update_core::tls::TlsError),
}

impl Error {
    /// Wraps an I/O error with what was being done, for use with `map_err`.
    pub fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }

    /// Failures that may go away by themselves: retry at the next poll.
    pub fn is_transient(&self) -> bool {
        self.is_interruption() || matches!(self, Error::NotFound { .. })
    }

    /// The connection or the server failed: the same request may well succeed later
    /// (unlike a 404, which for an optional download means it is not there).
    pub fn is_interruption(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::HttpStatus { status, .. } => *status >= 500 || matches!(status, 408 | 429),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
