//! The `ota-fleet-sim` command line: simulate a fleet (no subcommand), `load` (the
//! check-in and static-file load generator) and `seed` (bulk enrolment into a server's
//! data directory).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::fate::parse_rate;

#[derive(Debug, Parser)]
#[command(
    name = "ota-fleet-sim",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub simulate: Option<SimulateArgs>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Hammer the check-in endpoint (or a static URL) and print requests/s and latencies.
    Load(LoadArgs),
    /// Enrol devices straight into a (stopped) server's database; write a devices file.
    Seed(SeedArgs),
}

/// Simulate devices speaking the real device protocol.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Base URL of the update server (device API and TUF repository).
    #[arg(long)]
    pub server: String,
    /// Admin token, for enrolment; default: the OTA_ADMIN_TOKEN environment variable
    /// (read by hand: with an environment default clap would take the simulation's
    /// flags as given when a subcommand runs).
    #[arg(long)]
    pub token: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub devices: usize,
    #[arg(long, default_value = "camera")]
    pub class: String,
    #[arg(long, default_value = "cam-v2")]
    pub hardware: String,
    #[arg(long, default_value = "1.0.0")]
    pub from_version: semver::Version,
    /// Device ids are PREFIX000000, PREFIX000001, ...
    #[arg(long, default_value = "sim-")]
    pub id_prefix: String,
    /// Register each device's public key over the admin API (again is harmless).
    #[arg(long)]
    pub enroll: bool,
    /// Where device keys (`ID.key`, PKCS#8 PEM) are reused from and saved to.
    #[arg(long)]
    pub tokens_dir: Option<PathBuf>,
    /// The devices' provisioned root.json; default: the server's 1.root.json, fetched
    /// once (trust on first use: fine for a simulation, never for a device).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Holds every device's TUF metadata; default: a temporary directory.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Share of updates that fail before the switch (`3%` or `0.03`).
    #[arg(long, default_value = "0%", value_parser = parse_rate)]
    pub failure_rate: f64,
    /// Share of updates that install, then roll back.
    #[arg(long, default_value = "0%", value_parser = parse_rate)]
    pub rollback_rate: f64,
    /// The class's configuration profile (the JSON `ota config add` signed): devices
    /// report digests of its files at each check-in.
    #[arg(long)]
    pub config_profile: Option<PathBuf>,
    /// Share of devices whose first configuration file was edited (with --config-profile).
    #[arg(long, default_value = "0%", value_parser = parse_rate, requires = "config_profile")]
    pub config_drift_rate: f64,
    /// Seed of the injected fates.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Devices talking to the server at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Local addresses to connect from, round robin over devices (e.g. 127.0.0.10,127.0.0.11).
    #[arg(long, value_delimiter = ',')]
    pub source_addresses: Vec<IpAddr>,
    /// Each device stops at its first check-in that leaves nothing to do.
    #[arg(long, conflicts_with = "duration")]
    pub until_idle: bool,
    /// Run for this long (devices keep polling).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Poll interval instead of the server's, to speed simulations up.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub poll_interval: Option<Duration>,
    /// Per request: connecting, and each wait for more bytes.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// PEM CA certificates to trust for HTTPS instead of the built-in roots.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// How often a progress line is printed.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub progress: Duration,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Base URL of the update server (check-in mode).
    #[arg(long, required_unless_present = "static_url")]
    pub server: Option<String>,
    /// Devices file from `seed` (check-in mode).
    #[arg(long, required_unless_present = "static_url")]
    pub devices_file: Option<PathBuf>,
    /// GET this URL instead of posting check-ins.
    #[arg(long, conflicts_with_all = ["server", "devices_file"])]
    pub static_url: Option<String>,
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    #[arg(long, default_value = "cam-v2")]
    pub hardware: String,
    #[arg(long, default_value = "1.0.0")]
    pub version: semver::Version,
    /// PEM CA certificates to trust for HTTPS instead of the built-in roots.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The server's data directory (the server should not be running).
    #[arg(long)]
    pub data_dir: PathBuf,
    #[arg(long)]
    pub devices: usize,
    #[arg(long, default_value = "camera")]
    pub class: String,
    #[arg(long, default_value = "load-")]
    pub id_prefix: String,
    /// Written: `device_id class secret` per line (the private key seed, hex).
    #[arg(long)]
    pub devices_file: PathBuf,
}
