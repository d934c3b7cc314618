//! Binary deltas between firmware images.
//!
//! A delta turns one exact base image (named by its length and sha256) into one exact
//! result image. [`create`] runs where memory is plentiful (a release engineer's
//! machine); [`apply`] runs on the device: it reads the base at random offsets through
//! [`Base`] (the active slot), reads the delta as one forward stream, writes the result
//! as one forward stream (the inactive slot), and holds only bounded buffers whatever the
//! image size. The result's length and sha256 are checked before [`apply`] returns
//! `Ok`. The format is documented in `docs/delta-format.md`.

mod apply;
mod base;
mod copyadd;
mod create;
mod error;
pub mod exe;
pub mod format;
pub mod matching;
mod memory;
mod patchfrom;
mod search;
mod suffix;
mod varint;
mod windows;
mod zstream;

pub use apply::{Applied, Limits, apply};
pub use base::Base;
pub use create::{Candidate, CreateOptions, Created, create};
pub use error::{ApplyError, CreateError};
pub use format::{Algorithm, Header};
