//! Shared test fixtures: a TUF repository built with update-core ([`repo`]), an in-test
//! HTTP server on 127.0.0.1:0 that serves it and fakes the device API ([`server`]), and a
//! device directory with config, slots and device key ([`device`]), and a one-file server
//! with scripted Range behaviour and dropped connections ([`ranged`]).
#![allow(dead_code, unused_imports)]

pub mod device;
pub mod ranged;
pub mod repo;
pub mod server;

pub use device::{DeviceDir, DeviceOptions, FACTORY_IMAGE};
pub use repo::{ReleaseSpec, Repo, image};
pub use server::{Served, ServerState, TestServer, start_server};

/// The device key every test device uses; the test server verifies signatures with it.
pub fn device_key() -> update_core::device_auth::DeviceKey {
    update_core::device_auth::DeviceKey::from_secret_bytes(&[7; 32])
}
