//! `ota device add ID --class C`: enrols a device and prints its bearer token, which the
//! server shows only this once. `ota device retry ID`: lets a device try again a release
//! that failed on it (devices never retry a failed release by themselves).

use update_core::firmware::check_identifier;

use super::ServerArgs;
use crate::display::printable;

#[derive(Debug, clap::Subcommand)]
pub enum DeviceCommand {
    /// Enrol a device; prints its token (shown only once)
    Add(DeviceAddArgs),
    /// Let a device try again the release that failed on it (at its next check-in)
    Retry(DeviceRetryArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct DeviceRetryArgs {
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
    #[command(flatten)]
    pub server: ServerArgs,
}

pub async fn run(command: &DeviceCommand) -> anyhow::Result<()> {
    match command {
        DeviceCommand::Add(args) => {
            check_identifier("class", &args.class).map_err(anyhow::Error::msg)?;
            let credential = args.server.client()?.enroll(&args.id, &args.class).await?;
            eprintln!(
                "enrolled {} in class {}; store this token on the device now, it is not shown again:",
                printable(&credential.device_id, 64),
                args.class
            );
            println!("{}", printable(&credential.token, 4096));
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
