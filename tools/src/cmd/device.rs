//! `ota device add ID --class C`: enrols a device and prints its bearer token, which the
//! server shows only this once.

use update_core::firmware::check_identifier;

use super::ServerArgs;
use crate::display::printable;

#[derive(Debug, clap::Subcommand)]
pub enum DeviceCommand {
    /// Enrol a device; prints its token (shown only once)
    Add(DeviceAddArgs),
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
    }
}
