//! `ota rollout start|pause|resume|abort|status`: staged rollouts of a release to a class
//! in waves, each soaking before the next opens and halting on too many failures.

use std::fmt::Write;

use update_core::classes::{RolloutSpec, RolloutStatus};
use update_core::firmware::default_target_name;

use super::ServerArgs;
use super::class::{parse_duration_secs, parse_percent};
use crate::display::{Table, printable};

#[derive(Debug, clap::Subcommand)]
pub enum RolloutCommand {
    /// Start rolling a release out to a class in waves
    Start(RolloutStartArgs),
    /// Stop starting new devices; devices already updating continue
    Pause(RolloutIdArgs),
    /// Continue a paused rollout
    Resume(RolloutIdArgs),
    /// End a rollout; devices not yet updated stay on the baseline
    Abort(RolloutIdArgs),
    /// Rollouts of a class (or one rollout by id, or all): waves, devices, failure rates
    Status(RolloutStatusArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct RolloutStartArgs {
    pub class: String,
    /// Release version (its default target name CLASS-VERSION.img) or target name
    pub release: String,
    /// Cumulative percent of the class per wave, e.g. 1,10,50,100
    #[arg(long, value_parser = parse_waves)]
    pub waves: Waves,
    /// How long each wave runs before the next opens, e.g. 30m
    #[arg(long, value_parser = parse_duration_secs)]
    pub soak: u64,
    /// Failure rate that halts a wave, e.g. 5%
    #[arg(long, value_parser = parse_percent)]
    pub max_failure_rate: f64,
    /// Finished updates a wave needs before its failure rate can halt it
    #[arg(long, default_value_t = 5)]
    pub min_finished: u64,
    /// Halt only when the failure rate is over the threshold with this confidence, e.g.
    /// 95% (a lower Wilson score bound); without it the observed rate decides
    #[arg(long, value_parser = parse_percent)]
    pub halt_confidence: Option<f64>,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct RolloutIdArgs {
    pub id: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Clone, Debug, clap::Args)]
pub struct RolloutStatusArgs {
    /// A class name or a rollout id (r-…); all rollouts without it
    pub which: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Wave percentages as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waves(pub Vec<u8>);

pub fn parse_waves(text: &str) -> Result<Waves, String> {
    text.split(',')
        .map(|part| {
            let part = part.trim();
            part.strip_suffix('%')
                .unwrap_or(part)
                .parse::<u8>()
                .map_err(|_| format!("wave {part:?} is not a percentage 1-100"))
        })
        .collect::<Result<Vec<u8>, String>>()
        .map(Waves)
}

/// A version names its default target; anything else is taken as a target name.
pub fn target_of(class: &str, release: &str) -> String {
    match release.parse::<semver::Version>() {
        Ok(version) => default_target_name(class, &version),
        Err(_) => release.to_string(),
    }
}

pub fn spec(args: &RolloutStartArgs) -> Result<RolloutSpec, String> {
    let spec = RolloutSpec {
        class: args.class.clone(),
        target_name: target_of(&args.class, &args.release),
        waves: args.waves.0.clone(),
        soak_secs: args.soak,
        max_failure_rate: args.max_failure_rate,
        min_finished: args.min_finished,
        halt_confidence: args.halt_confidence,
    };
    spec.validate()?;
    Ok(spec)
}

/// Whether `text` has the shape of a rollout id the server gives.
fn is_rollout_id(text: &str) -> bool {
    text.strip_prefix("r-")
        .is_some_and(|hex| hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn percent(share: Option<f64>) -> String {
    share.map_or("-".into(), |s| format!("{:.1}%", s * 100.0))
}

/// A rollout: one summary line, its reason if any, and a table of its waves.
pub fn format_rollout(status: &RolloutStatus) -> String {
    let spec = &status.spec;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "rollout {} of {} to class {}: {} (wave {} of {} open since {}), soak {}s, halt above {}",
        printable(&status.id, 32),
        printable(&spec.target_name, 255),
        printable(&spec.class, 64),
        status.state,
        status.wave + 1,
        spec.waves.len(),
        status.wave_opened_at.format("%Y-%m-%d %H:%M:%S"),
        spec.soak_secs,
        percent(Some(spec.max_failure_rate)),
    );
    if let Some(reason) = &status.reason {
        let _ = writeln!(out, "  {}", printable(reason, 300));
    }
    let mut table = Table::new(&["WAVE", "PERCENT", "DEVICES", "FINISHED", "FAILURE RATE", ""]);
    for (index, wave) in status.waves.iter().enumerate() {
        let marker = if index == status.wave { "<- open" } else { "" };
        table.push(vec![
            (index + 1).to_string(),
            format!("{}%", wave.percent),
            wave.devices.to_string(),
            wave.finished.to_string(),
            percent(wave.failure_rate()),
            marker.to_string(),
        ]);
    }
    out.push_str(&table.render());
    out
}

pub async fn run(command: &RolloutCommand) -> anyhow::Result<()> {
    let (args, action) = match command {
        RolloutCommand::Start(args) => {
            let spec = spec(args).map_err(anyhow::Error::msg)?;
            let status = args.server.client()?.start_rollout(&spec).await?;
            print!("{}", format_rollout(&status));
            return Ok(());
        }
        RolloutCommand::Status(args) => {
            let client = args.server.client()?;
            let rollouts = match args.which.as_deref() {
                Some(id) if is_rollout_id(id) => vec![client.rollout(id).await?],
                class => client.rollouts(class).await?,
            };
            if rollouts.is_empty() {
                println!("no rollouts");
            }
            for status in &rollouts {
                println!("{}", format_rollout(status));
            }
            return Ok(());
        }
        RolloutCommand::Pause(args) => (args, "pause"),
        RolloutCommand::Resume(args) => (args, "resume"),
        RolloutCommand::Abort(args) => (args, "abort"),
    };
    let status = args
        .server
        .client()?
        .rollout_action(&args.id, action)
        .await?;
    print!("{}", format_rollout(&status));
    Ok(())
}

#[cfg(test)]
mod tests;
