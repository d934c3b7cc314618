//! The OTA update server: publishes the signed TUF repository, assigns releases to
//! devices, takes their reports and exports fleet metrics.
//!
//! [`Server::start`] runs a server from a [`ServerConfig`]; the `update-server` binary is
//! a thin command line around it and [`create_admin_token`].

pub mod class_facts;
pub mod config;
pub mod controls;
pub mod device_keys;
pub mod fleet;
pub mod http;
pub mod metrics;
pub mod placement;
pub mod relays;
pub mod repository;
pub mod rollout;
pub mod scope;
pub mod server;
pub mod status;
pub mod store;
pub mod token;

pub use config::{ServeArgs, ServerConfig};
pub use server::{Server, StartError, create_admin_token, create_scoped_admin_token};
