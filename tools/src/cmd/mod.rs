//! The `ota` subcommands. Each module holds its clap arguments, a library entry point
//! that returns a typed result (used by tests and `ota demo`), and a `run` function that
//! prints for the command line.

pub mod class;
pub mod class_delegate;
mod class_signer;
pub mod config;
pub mod delta;
pub mod demo;
pub mod device;
pub mod keygen;
pub mod publish;
pub mod publish_roles;
pub mod release;
pub mod release_args;
pub mod release_table;
pub mod repo;
pub mod rollout;
pub mod sign;
pub mod status;

use crate::admin_client::{AdminClient, AdminError, AdminToken};

/// How to reach the server's admin API; shared by every command that talks to it.
#[derive(Clone, Debug, clap::Args)]
pub struct ServerArgs {
    /// Server base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    pub server: String,
    /// Admin token (default: the OTA_ADMIN_TOKEN environment variable)
    #[arg(long, env = "OTA_ADMIN_TOKEN", hide_env_values = true)]
    pub token: AdminToken,
}

impl ServerArgs {
    pub fn client(&self) -> Result<AdminClient, AdminError> {
        AdminClient::new(&self.server, self.token.clone())
    }
}
