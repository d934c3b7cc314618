//! `ota device add ID --class C --public-key HEX`: registers the public key the device
//! made for itself (`update-client identity` prints it). `ota device revoke ID`: refuses
//! the device's signatures from now on. `ota device retry ID`: lets a device try again a
//! release that failed on it (devices never retry a failed release by themselves).

use update_core::device_auth::parse_public_key;
use update_core::firmware::check_identifier;

use super::ServerArgs;
use crate::display::printable;

#[derive(Debug, clap::Subcommand)]
pub enum DeviceCommand {
    /// Enrol a device with the public key it made (`update-client identity` prints it)
    Add(DeviceAddArgs),
    /// Revoke a device: the server refuses its signatures from now on
    Revoke(DeviceIdArgs),
    /// Let a device try again the release that failed on it (at its next check-in)
    Retry(DeviceIdArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct DeviceIdArgs {
    /// Device id
    pub id: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct DeviceAddArgs {
    /// Device id
    pub id: String,
    /// Device class
    #[arg(long)]
    pub class: String,
    /// The device's ed25519 public key: 64 lowercase hex digits
    #[arg(long)]
    pub public_key: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub async fn run(command: &DeviceCommand) -> anyhow::Result<()> {
    match command {
        DeviceCommand::Add(args) => {
            check_identifier("device id", &args.id).map_err(anyhow::Error::msg)?;
            check_identifier("class", &args.class).map_err(anyhow::Error::msg)?;
            parse_public_key(&args.public_key).map_err(|e| anyhow::anyhow!("--public-key: {e}"))?;
            let enrolled = args
                .server
                .client()?
                .enroll(&args.id, &args.class, &args.public_key)
                .await?;
            eprintln!(
                "enrolled {} in class {} with key {}",
                printable(&enrolled.device_id, 64),
                printable(&enrolled.class, 64),
                printable(&enrolled.public_key, 64)
            );
            Ok(())
        }
        DeviceCommand::Revoke(args) => {
            args.server.client()?.revoke(&args.id).await?;
            eprintln!(
                "revoked {}: the server refuses its requests from now on",
                printable(&args.id, 64)
            );
            Ok(())
        }
        DeviceCommand::Retry(args) => {
            args.server.client()?.retry(&args.id).await?;
            eprintln!(
                "{} will try its assigned release again at its next check-in, even if it failed there before",
                printable(&args.id, 64)
            );
            Ok(())
        }
    }
}
