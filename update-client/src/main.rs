//! `update-client`: the device agent's command line (docs/interfaces.md).
//!
//! Exit codes: 0 ok, 1 error, 2 usage, 3 simulate boot limit exceeded, 4 simulate: the
//! agent was killed by a signal (a power cut).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use update_client::agent::{Agent, RunExit};
use update_client::config::Config;

#[derive(Parser)]
#[command(version, about = "OTA device agent")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Finish any update in progress, then poll the server and install assigned releases.
    Run {
        #[arg(long)]
        config: PathBuf,
        /// Exit after the first check-in that leaves nothing to do (1 if an update failed).
        #[arg(long)]
        until_idle: bool,
    },
    /// Simulate a device: bootloader power-on, then `run`, rebooting when asked.
    Simulate {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        until_idle: bool,
        /// Most boots before giving up (exit 3).
        #[arg(long, default_value_t = 10)]
        max_boots: u32,
    },
    /// Print the device id and its public key (hex), making the key on first use: what
    /// an operator passes to `ota device add`.
    Identity {
        #[arg(long)]
        config: PathBuf,
    },
    /// Print the device's state (slots, versions, journal) as JSON.
    Status {
        #[arg(long)]
        config: PathBuf,
    },
    /// List the crash points `OTA_CRASH_AT` can name, one per line (fault-injection
    /// tests).
    #[command(hide = true)]
    CrashPoints,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = update_client::crash::arm_from_env() {
        eprintln!("update-client: {e}");
        return ExitCode::from(2);
    }
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("update-client: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { config, until_idle } => {
            let config = Config::load(&config)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let exit = runtime.block_on(async {
                let mut agent = Agent::new(config)?;
                agent.run(until_idle).await
            })?;
            Ok(match exit {
                RunExit::Idle | RunExit::Rebooting => ExitCode::SUCCESS,
                RunExit::UpdateFailed => ExitCode::FAILURE,
            })
        }
        Command::Simulate {
            config,
            until_idle,
            max_boots,
        } => {
            let code = update_client::simulate::simulate(&config, until_idle, max_boots)?;
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
        Command::CrashPoints => {
            for point in update_client::crash::ALL {
                println!("{}", point.name());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Identity { config } => {
            let config = Config::load(&config)?;
            let identity = update_client::identity::Identity::load_or_create(&config)?;
            println!("{} {}", identity.device_id(), identity.public_key_hex());
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { config } => {
            let config = Config::load(&config)?;
            let state = update_client::status::read(&config)?;
            let json = serde_json::to_string_pretty(&state).context("encoding the status")?;
            println!("{json}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
