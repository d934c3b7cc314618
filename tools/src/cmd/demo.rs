//! `ota demo`: the whole system on this machine (see [`crate::demo`]).

use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::demo::{self, DemoOptions, binaries};

#[derive(Clone, Debug, clap::Args)]
pub struct DemoArgs {
    /// Number of simulated devices
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub devices: u32,
    /// Size of each demo firmware image in bytes
    #[arg(long, default_value_t = 32 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(4096..=4 * 1024 * 1024 * 1024))]
    pub image_size: u64,
    /// Keep the demo directory (server data, repository, devices and their logs)
    #[arg(long)]
    pub keep: bool,
    /// Directory with the example keys and root.json (default: ./keys-example, else the
    /// one in the source tree)
    #[arg(long)]
    pub keys_dir: Option<PathBuf>,
}

pub async fn run(args: &DemoArgs) -> anyhow::Result<()> {
    let keys_dir = match &args.keys_dir {
        Some(dir) => dir.clone(),
        None => default_keys_dir()
            .context("cannot find keys-example/ (run from the source tree or pass --keys-dir)")?,
    };
    let bin_dir = binaries::locate_or_build()?;
    let outcome = demo::run(&DemoOptions {
        devices: args.devices,
        image_size: args.image_size,
        keep: args.keep,
        keys_dir,
        bin_dir,
    })
    .await?;
    if let Some(dir) = &outcome.kept_dir {
        println!("kept the demo directory {}", dir.display());
    }
    if !outcome.problems.is_empty() {
        bail!(
            "the fleet did not end as expected:\n  {}",
            outcome.problems.join("\n  ")
        );
    }
    if args.devices >= demo::FAILING_DEVICE {
        println!("demo passed: the fleet is on the new release and the broken device rolled back");
    } else {
        println!("demo passed: the fleet is on the new release");
    }
    Ok(())
}

/// `./keys-example`, else the one beside this crate in the source tree.
fn default_keys_dir() -> Option<PathBuf> {
    let mut candidates = vec![PathBuf::from("keys-example")];
    if let Some(manifest_dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        candidates.push(PathBuf::from(manifest_dir).join("../keys-example"));
    }
    candidates.push(PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../keys-example"
    )));
    candidates
        .into_iter()
        .find(|dir| dir.join("root.json").is_file())
}
