//! The OTA device agent: verifies releases through TUF, installs them into the inactive
//! A/B slot, lets the bootloader try the new slot once, commits it after a health check
//! or rolls back, and reports every step to the update server.
//!
//! - [`config`], [`identity`]: the TOML config, the device key and request signing.
//!   [`error`]: the one error type.
//! - [`fetch`]: bounded HTTP. [`tuf`]: the TUF client workflow over it.
//! - [`decision`]: whether a verified release is for this device.
//! - [`payload`]: which signed form of a release to download (delta, zstd, raw).
//! - [`slots`], [`install`]: writing (resumably) and verifying the inactive slot, from
//!   any of the forms.
//! - [`bootloader`]: the bootloader contract and its backends: U-Boot and GRUB
//!   environments read and written directly, and the simulated one for demos and tests.
//! - [`state`]: journal, slot records, failed releases, report outbox.
//! - [`health`], [`command`]: the health check and other external commands.
//! - [`agent`]: the run loop. [`simulate`], [`status`]: the other subcommands.
//! - [`crash`]: named crash points for power-cut tests (`OTA_CRASH_AT`).
//! - [`tuf_cli`]: the `tuf-client` conformance command line.

pub mod agent;
pub mod atomic;
pub mod bootloader;
pub mod command;
pub mod config;
pub mod crash;
pub mod decision;
pub mod error;
pub mod fetch;
pub mod health;
pub mod identity;
pub mod install;
pub mod payload;
pub mod simulate;
pub mod slots;
pub mod state;
pub mod status;
pub mod tuf;
pub mod tuf_cli;

pub use error::{Error, Result};
