//! What can go wrong reading or writing a U-Boot environment, precise enough for an
//! operator to act on. The agent sees these as [`crate::Error::Bootloader`].

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum UbootError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },

    #[error("environment config {path}: {reason}")]
    Config { path: PathBuf, reason: String },

    #[error("{device}: {reason}")]
    Unsupported { device: PathBuf, reason: String },

    #[error("invalid variable {name:?}: {reason}")]
    InvalidVariable { name: String, reason: &'static str },

    #[error("the variables need {needed} bytes but a copy of the environment holds {room}")]
    TooLarge { needed: usize, room: usize },

    /// Never replaced by a default environment: the device's real settings would be lost.
    #[error(
        "no valid U-Boot environment ({details}); initialise it with mkenvimage or \
         U-Boot's saveenv"
    )]
    NoValidCopy { details: String },

    #[error(
        "redundant flags {first} (copy 1) and {second} (copy 2) match no rule of the boolean \
         (NOR) scheme, so which copy U-Boot boots is unpredictable; was the environment written \
         in counter mode? Check redundant_flags against the board's U-Boot"
    )]
    AmbiguousFlags { first: u8, second: u8 },

    #[error("copy {copy} of the environment did not read back as written: {reason}")]
    Verification { copy: usize, reason: String },

    #[error("variable {name}: {reason}")]
    BadVariable { name: &'static str, reason: String },
}

impl UbootError {
    /// Wraps an I/O error with what was being done, for use with `map_err`.
    pub(super) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> UbootError {
        let context = context.into();
        move |source| UbootError::Io { context, source }
    }
}

impl From<UbootError> for crate::error::Error {
    fn from(error: UbootError) -> Self {
        crate::error::Error::Bootloader(format!("U-Boot environment: {error}"))
    }
}
