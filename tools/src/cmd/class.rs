//! `ota class set|show|list`: a class's control profile (compatible hardware, baseline
//! release, poll interval, approved networks and relays, maintenance window, install
//! concurrency, alerting threshold). `set` changes only the fields given and keeps the rest.

use std::fmt::Write;

use update_core::classes::{ClassProfile, MaintenanceWindow};
use update_core::firmware::check_identifier;

use super::ServerArgs;
use super::class_delegate::{DelegateArgs, DelegationsArgs, delegate, delegations_table};
use crate::display::{Table, printable};
use crate::local_repo::LocalRepo;

#[derive(Debug, clap::Subcommand)]
pub enum ClassCommand {
    /// Create or change a class profile (fields not given keep their value)
    Set(ClassSetArgs),
    /// Print a class profile
    Show(ClassShowArgs),
    /// List every class profile
    List(ClassListArgs),
    /// Delegate the class's releases and profiles (names CLASS/*) to a role with its own
    /// keys and threshold, in the local repository's targets.json
    Delegate(DelegateArgs),
    /// List the local repository's class roles: keys, thresholds, signatures
    Delegations(DelegationsArgs),
    /// Issue a new enrollment secret for the class (printed once; replaces the old one)
    EnrollmentSecret(ClassShowArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct ClassSetArgs {
    /// Device class
    pub class: String,
    /// Compatible hardware id (repeatable; replaces the list)
    #[arg(long = "hardware")]
    pub hardware: Vec<String>,
    /// Target name of the baseline release (the class pin)
    #[arg(long)]
    pub baseline: Option<String>,
    /// How often devices of the class check in, e.g. 5m
    #[arg(long, value_parser = parse_duration_secs)]
    pub poll_interval: Option<u64>,
    /// Approved network in CIDR form (repeatable; replaces the list)
    #[arg(long = "approved-network")]
    pub approved_networks: Vec<String>,
    /// Approved relay name (repeatable; replaces the list)
    #[arg(long = "approved-relay")]
    pub approved_relays: Vec<String>,
    /// Daily UTC window for installs, HH:MM-HH:MM (may wrap midnight)
    #[arg(long, value_parser = parse_window)]
    pub window: Option<MaintenanceWindow>,
    /// Most devices of the class updating at once
    #[arg(long)]
    pub max_concurrent_installs: Option<u32>,
    /// Minimum acceptable success rate, e.g. 95%
    #[arg(long, value_parser = parse_percent)]
    pub success_threshold: Option<f64>,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct ClassShowArgs {
    pub class: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct ClassListArgs {
    #[command(flatten)]
    pub server: ServerArgs,
}

/// "5m", "90s", "1h 30m" in whole seconds.
pub fn parse_duration_secs(text: &str) -> Result<u64, String> {
    humantime::parse_duration(text)
        .map(|d| d.as_secs())
        .map_err(|e| format!("{text:?} is not a duration like 30s, 5m or 2h: {e}"))
}

/// "95%" or "0.95" as a share in 0..=1.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let share = match text.trim().strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.trim().parse::<f64>(),
    }
    .map_err(|_| format!("{text:?} is not a percentage like 5% or 0.05"))?;
    if !(0.0..=1.0).contains(&share) {
        return Err(format!("{text:?} is not between 0% and 100%"));
    }
    Ok(share)
}

/// "22:00-04:00".
pub fn parse_window(text: &str) -> Result<MaintenanceWindow, String> {
    let (start, end) = text
        .split_once('-')
        .ok_or_else(|| format!("{text:?} is not a window like 22:00-04:00"))?;
    let window = MaintenanceWindow {
        start: start.trim().to_string(),
        end: end.trim().to_string(),
    };
    window.validate()?;
    Ok(window)
}

/// `existing` (or an empty profile) with the fields `args` gives replaced.
pub fn merge(existing: Option<ClassProfile>, args: &ClassSetArgs) -> ClassProfile {
    let mut profile = existing.unwrap_or_else(|| ClassProfile {
        class: args.class.clone(),
        ..ClassProfile::default()
    });
    if !args.hardware.is_empty() {
        profile.hardware = args.hardware.clone();
    }
    if !args.approved_networks.is_empty() {
        profile.approved_paths.networks = args.approved_networks.clone();
    }
    if !args.approved_relays.is_empty() {
        profile.approved_paths.relays = args.approved_relays.clone();
    }
    profile.baseline = args.baseline.clone().or(profile.baseline);
    profile.poll_interval_secs = args.poll_interval.or(profile.poll_interval_secs);
    profile.maintenance_window = args.window.clone().or(profile.maintenance_window);
    profile.max_concurrent_installs = args
        .max_concurrent_installs
        .or(profile.max_concurrent_installs);
    profile.success_threshold = args.success_threshold.or(profile.success_threshold);
    profile
}

const MAX_NAME: usize = 64;

/// A profile as `key: value` lines.
pub fn format_profile(profile: &ClassProfile) -> String {
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    let list = |items: &[String]| {
        if items.is_empty() {
            "any".to_string()
        } else {
            items
                .iter()
                .map(|item| printable(item, MAX_NAME))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let paths = &profile.approved_paths;
    let mut out = String::new();
    let _ = writeln!(out, "class {}", printable(&profile.class, MAX_NAME));
    let _ = writeln!(out, "  hardware:          {}", list(&profile.hardware));
    let _ = writeln!(
        out,
        "  baseline:          {}",
        or_dash(profile.baseline.as_deref().map(|b| printable(b, 255)))
    );
    let _ = writeln!(
        out,
        "  poll interval:     {}",
        or_dash(profile.poll_interval_secs.map(|s| format!("{s}s")))
    );
    let _ = writeln!(out, "  approved networks: {}", list(&paths.networks));
    let _ = writeln!(out, "  approved relays:   {}", list(&paths.relays));
    let window = profile
        .maintenance_window
        .as_ref()
        .map(|w| format!("{}-{} UTC", printable(&w.start, 5), printable(&w.end, 5)));
    let _ = writeln!(out, "  install window:    {}", or_dash(window));
    let _ = writeln!(
        out,
        "  max installs:      {}",
        or_dash(profile.max_concurrent_installs.map(|n| n.to_string()))
    );
    let _ = writeln!(
        out,
        "  success threshold: {}",
        or_dash(
            profile
                .success_threshold
                .map(|t| format!("{:.1}%", t * 100.0))
        )
    );
    out
}

/// One line per profile.
pub fn profile_table(profiles: &[ClassProfile]) -> Table {
    let mut table = Table::new(&["CLASS", "BASELINE", "HARDWARE", "WINDOW", "MAX INSTALLS"]);
    for profile in profiles {
        table.push(vec![
            printable(&profile.class, MAX_NAME),
            printable(profile.baseline.as_deref().unwrap_or("-"), 255),
            printable(&profile.hardware.join(","), 255),
            profile.maintenance_window.as_ref().map_or("-".into(), |w| {
                printable(&format!("{}-{}", w.start, w.end), 11)
            }),
            profile
                .max_concurrent_installs
                .map_or("-".into(), |n| n.to_string()),
        ]);
    }
    table
}

pub async fn run(command: &ClassCommand) -> anyhow::Result<()> {
    match command {
        ClassCommand::Set(args) => {
            let client = args.server.client()?;
            let profile = merge(client.profile(&args.class).await?, args);
            profile.validate().map_err(anyhow::Error::msg)?;
            let stored = client.put_profile(&profile).await?;
            print!("{}", format_profile(&stored));
        }
        ClassCommand::Show(args) => {
            let profile = args.server.client()?.profile(&args.class).await?;
            let profile = profile.ok_or_else(|| {
                anyhow::anyhow!("class {} has no profile", printable(&args.class, MAX_NAME))
            })?;
            print!("{}", format_profile(&profile));
        }
        ClassCommand::EnrollmentSecret(args) => {
            check_identifier("class", &args.class).map_err(anyhow::Error::msg)?;
            let secret = args
                .server
                .client()?
                .new_enrollment_secret(&args.class)
                .await?;
            eprintln!(
                "new enrollment secret of class {}; devices given it enrol themselves, it is not shown again:",
                printable(&args.class, MAX_NAME)
            );
            println!("{}", printable(&secret.secret, 4096));
        }
        ClassCommand::List(args) => {
            let profiles = args.server.client()?.profiles().await?;
            print!("{}", profile_table(&profiles).render());
        }
        ClassCommand::Delegate(args) => {
            let done = delegate(args)?;
            println!(
                "delegated class {} to its role ({} of {} keys) in targets.json version {}",
                printable(&args.class, MAX_NAME),
                args.threshold,
                args.keys.len(),
                done.targets_version
            );
            if done.role_file_created {
                println!(
                    "created the empty role file delegations/{}.json",
                    args.class
                );
            }
        }
        ClassCommand::Delegations(args) => {
            print!(
                "{}",
                delegations_table(&LocalRepo::new(&args.repo))?.render()
            );
        }
    }
    Ok(())
}
