//! The `ota` subcommands. Each module holds its clap arguments, a library entry point
//! that returns a typed result (used by tests and `ota demo`), and a `run` function that
//! prints for the command line.

pub mod audit;
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

use std::path::PathBuf;

use update_core::tls::{CertPin, ClientTrust};

use crate::admin_client::{AdminClient, AdminError, AdminToken, Transport};

/// How to reach the server's admin API; shared by every command that talks to it.
#[derive(Clone, Debug, clap::Args)]
pub struct ServerArgs {
    /// Server base URL, e.g. https://ota.example.com (http:// only to loopback)
    #[arg(long)]
    pub server: String,
    /// Admin token (default: the OTA_ADMIN_TOKEN environment variable)
    #[arg(long, env = "OTA_ADMIN_TOKEN", hide_env_values = true)]
    pub token: AdminToken,
    /// PEM CA certificates to trust instead of the built-in roots
    #[arg(long, env = "OTA_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Accept only the server certificate with this sha256 (of its DER encoding)
    #[arg(long = "pin-sha256", env = "OTA_PIN_SHA256", value_name = "HEX")]
    pub pin_sha256: Option<CertPin>,
    /// Allow http:// to a host that is not loopback (the token crosses in clear)
    #[arg(long)]
    pub allow_plain_http: bool,
}

impl ServerArgs {
    pub fn client(&self) -> Result<AdminClient, AdminError> {
        let transport = Transport {
            trust: ClientTrust {
                ca_file: self.ca_file.clone(),
                pinned_sha256: self.pin_sha256.clone(),
            },
            allow_plain_http: self.allow_plain_http,
        };
        AdminClient::with_transport(&self.server, self.token.clone(), &transport)
    }
}
