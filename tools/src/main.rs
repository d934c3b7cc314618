//! `ota`: the release engineers' and operators' command line. Parses arguments and hands
//! each subcommand to the `tools` library; every error ends as one message on stderr and
//! exit status 1.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tools::cmd::audit::AuditArgs;
use tools::cmd::class::ClassCommand;
use tools::cmd::config::ConfigCommand;
use tools::cmd::delta::DeltaCommand;
use tools::cmd::demo::DemoArgs;
use tools::cmd::device::DeviceCommand;
use tools::cmd::keygen::KeygenArgs;
use tools::cmd::publish::PublishArgs;
use tools::cmd::release::ReleaseCommand;
use tools::cmd::repo::RepoCommand;
use tools::cmd::rollout::RolloutCommand;
use tools::cmd::sign::SignArgs;
use tools::cmd::status::StatusArgs;
use tools::cmd::{
    audit, class, config, delta, demo, device, keygen, publish, release, repo, rollout, sign,
    status,
};
use tools::display::error_chain;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "ota",
    version,
    about = "Sign, publish and watch firmware releases"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate an ed25519 key pair: OUT (private, PEM, mode 0600) and OUT.pub
    Keygen(KeygenArgs),
    /// Manage the local repository
    #[command(subcommand)]
    Repo(RepoCommand),
    /// Manage releases in the local repository
    #[command(subcommand)]
    Release(ReleaseCommand),
    /// Manage configuration profiles (expected config file digests) in the local repository
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Make, apply and inspect binary deltas between images
    #[command(subcommand)]
    Delta(DeltaCommand),
    /// Add signatures to a class role's current metadata (a threshold of several keys)
    Sign(SignArgs),
    /// Upload new roots, missing images and targets.json to the server
    Publish(PublishArgs),
    /// Show the fleet's state
    Status(StatusArgs),
    /// Manage devices
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Manage class profiles (hardware, baseline, poll interval, window, limits)
    #[command(subcommand)]
    Class(ClassCommand),
    /// Roll a release out to a class in waves
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Show the server's audit log of admin actions
    Audit(AuditArgs),
    /// Run a server and a simulated fleet through a release, on this machine
    Demo(DemoArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .with_target(false)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and --version are not errors; every misuse exits 1 like any other error.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match &cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Repo(command) => repo::run(command),
        Command::Release(command) => release::run(command),
        Command::Config(command) => config::run(command),
        Command::Delta(command) => delta::run(command),
        Command::Sign(args) => sign::run(args),
        Command::Publish(args) => publish::run(args).await,
        Command::Status(args) => status::run(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::Device(command) => device::run(command).await,
        Command::Class(command) => class::run(command).await,
        Command::Rollout(command) => rollout::run(command).await,
        Command::Demo(args) => demo::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error_chain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}
