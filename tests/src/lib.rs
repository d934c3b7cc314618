//! Harness for the end-to-end tests: starts the real `update-server`, `update-client` and
//! `ota` binaries on loopback, with real files and the example keys, and offers the hostile
//! peers (a tampering mirror, a lying server proxy) that attacks need.
//!
//! The binaries are those of the same build as the test (`target/<profile>/`); build them
//! first with `cargo build --workspace --bins` (the README's test command does), or point
//! `OTA_BIN_DIR` elsewhere.

pub mod delegation;
pub mod device;
pub mod disk;
pub mod images;
pub mod peers;
pub mod pki;
pub mod power;
pub mod process;
pub mod prometheus;
pub mod proxy;
pub mod python;
pub mod tuf_client;
pub mod world;

pub use device::{Device, DeviceSpec};
pub use world::World;
