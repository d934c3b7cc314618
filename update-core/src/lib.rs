//! What the OTA server, the device client and the release tools share.
//!
//! - [`schema`]: the TUF 1.0 metadata model as plain serde types. They know nothing of
//!   which keys are trusted or what time it is.
//! - [`canonical`]: the OLPC canonical JSON form that signatures cover.
//! - [`keys`]: public keys in TUF form (ed25519, ECDSA P-256/P-384, RSA-PSS and
//!   PKCS#1 v1.5 verification), key ids, and the ed25519 signing keys our tools create.
//! - [`sign`]: producing signed metadata envelopes.
//! - [`trust`]: the only code that turns received bytes into [`trust::Verified`] metadata,
//!   following the client workflow of the TUF specification (section 5).
//! - [`firmware`]: the firmware fields a release carries in a target's `custom` object.
//! - [`config_profile`]: signed configuration profiles (expected config file digests).
//! - [`hash`]: streaming sha256.
//! - [`layout`]: file names and URL paths of a published repository.
//! - [`api`]: request and response bodies of the server's device and admin APIs.
//! - [`classes`]: class control profiles and staged rollouts.
//! - `tls` (feature `tls`): rustls settings for HTTPS servers and clients (CA file,
//!   pinned certificate) and the loopback rule for plain HTTP.
//! - [`device_auth`]: device key pairs and the signatures of device requests.

pub mod api;
pub mod canonical;
pub mod class_delegation;
pub mod classes;
pub mod config_profile;
pub mod device_auth;
pub mod error;
pub mod firmware;
pub mod hash;
pub mod keys;
pub mod layout;
pub mod schema;
pub mod sign;
#[cfg(feature = "tls")]
pub mod tls;
pub mod trust;

pub use error::Error;

/// The TUF specification version this implementation writes. Any 1.0.x is accepted on read.
pub const SPEC_VERSION: &str = "1.0.31";
