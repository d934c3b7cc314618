//! The `ota` tool as a library: key files, the release engineer's local TUF repository,
//! the server's admin API, and one module per subcommand, so that tests and `ota demo`
//! drive exactly the code the command line runs.
//!
//! - [`keyfile`]: reading and creating ed25519 key files (PKCS#8 PEM and TUF `.pub` JSON).
//! - [`local_repo`]: the `--repo DIR` layout and its verified metadata.
//! - [`admin_client`]: the server's admin API over HTTP.
//! - [`forms`]: the zstd and delta forms a release is published in beside its image.
//! - [`cmd`]: the subcommands, each with its clap arguments and its library entry point.
//! - [`demo`]: the fleet simulation behind `ota demo`.

pub mod admin_client;
pub mod class_roles;
pub mod cmd;
pub mod demo;
pub mod display;
pub mod expiry;
pub mod forms;
pub mod fsutil;
pub mod keyfile;
pub mod local_repo;
pub mod repo_config;
pub mod staging;
