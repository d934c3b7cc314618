//! What can go wrong making or applying a delta.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("writing the delta: {0}")]
    Write(#[source] io::Error),
    #[error("compressing the delta: {0}")]
    Compress(#[source] io::Error),
    #[error("no delta algorithm fits an apply memory budget of {budget} bytes")]
    OverMemoryBudget { budget: u64 },
    #[error("the base transform section is {0} bytes, more than the format allows")]
    TransformTooLarge(usize),
}

/// Why a delta could not be applied. Every variant leaves the output partly written and
/// unusable; the caller discards it (on a device: falls back to the full image).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("not a delta (bad magic)")]
    NotADelta,
    #[error("delta format version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("unknown delta algorithm {0}")]
    UnknownAlgorithm(u8),
    #[error("corrupt delta: {0}")]
    Corrupt(String),
    #[error("the delta needs {needed} bytes of memory, the limit is {limit}")]
    OverMemoryLimit { needed: u64, limit: u64 },
    #[error("the base does not match the delta: {0}")]
    BaseMismatch(String),
    #[error("the result does not match the delta's header: {0}")]
    ResultMismatch(String),
    #[error("reading the delta: {0}")]
    ReadDelta(#[source] io::Error),
    #[error("reading the base: {0}")]
    ReadBase(#[source] io::Error),
    #[error("writing the result: {0}")]
    WriteResult(#[source] io::Error),
}
