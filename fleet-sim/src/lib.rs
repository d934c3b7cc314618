//! Fleet simulator: thousands of simulated devices, each a tokio task speaking the real
//! device protocol to an update server (enrol, check in, verify the assigned release
//! through TUF with the device's own engine, download it, report every step), and the
//! check-in load benchmark.
//!
//! - [`api`]: the device and admin HTTP calls, with byte limits on every answer.
//! - [`device`]: one simulated device's life; [`update`]: its TUF-verified update;
//!   [`identity`]: its key pair.
//! - [`fate`]: deterministic failure injection per device id and seed.
//! - [`fleet`]: runs many devices with bounded concurrency; [`stats`]: progress and
//!   summary.
//! - [`load`]: the load generator; [`seed`]: bulk enrolment through the server's store.
//! - [`cli`]: the command line.

pub mod api;
pub mod cli;
pub mod config_drift;
pub mod device;
pub mod fate;
pub mod fleet;
pub mod identity;
pub mod load;
pub mod seed;
pub mod stats;
pub mod update;
