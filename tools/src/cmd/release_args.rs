//! The arguments of `ota release add`, and how they and the repository's `ota.toml`
//! choose the forms a release is published in.

use std::path::PathBuf;

use update_delta::CreateOptions;

use crate::expiry::{DEFAULT_EXPIRY, Expiry};
use crate::forms::FormOptions;
use crate::forms::deltas::DEFAULT_DELTAS;
use crate::forms::zstd_frames::{DEFAULT_LEVEL, ZstdOptions};
use crate::repo_config::ReleaseDefaults;

#[derive(Debug, clap::Subcommand)]
pub enum ReleaseCommand {
    /// Add a firmware image as a signed release in the repository's targets.json
    Add(AddArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct AddArgs {
    /// The firmware image
    pub image: PathBuf,
    /// Repository directory
    #[arg(long)]
    pub repo: PathBuf,
    /// Private targets keys to sign with (at least the targets threshold)
    #[arg(long = "key", value_name = "PEM", num_args = 1.., required = true)]
    pub keys: Vec<PathBuf>,
    /// Firmware version (semantic version, e.g. 1.2.0)
    #[arg(long)]
    pub version: semver::Version,
    /// Device class the release is for
    #[arg(long)]
    pub class: String,
    /// Hardware ids the image runs on
    #[arg(long, value_name = "HARDWARE_ID", num_args = 1.., required = true)]
    pub hardware: Vec<String>,
    /// Target name (default CLASS-VERSION.img)
    #[arg(long)]
    pub name: Option<String>,
    /// Lifetime (365d) or UTC time of the new targets.json
    #[arg(long, default_value = DEFAULT_EXPIRY)]
    pub expires: Expiry,
    /// Make deltas from the class's last N releases [default: 3, or `deltas` in DIR/ota.toml]
    #[arg(long, value_name = "N", conflicts_with = "no_deltas")]
    pub deltas: Option<usize>,
    /// Publish no deltas
    #[arg(long)]
    pub no_deltas: bool,
    /// Do not publish the zstd-compressed image
    #[arg(long)]
    pub no_zstd: bool,
    /// zstd level of the compressed image and of the delta streams [default: 19]
    #[arg(long, value_name = "1-22", value_parser = clap::value_parser!(i32).range(1..=22))]
    pub zstd_level: Option<i32>,
    /// Memory a device may need to apply a delta, in bytes [default: the delta library's]
    #[arg(long, value_name = "BYTES")]
    pub delta_memory_budget: Option<u64>,
}

impl AddArgs {
    /// The forms to make: flags first, then DIR/ota.toml, then the defaults.
    pub(crate) fn form_options(&self, defaults: &ReleaseDefaults) -> FormOptions {
        let level = self
            .zstd_level
            .or(defaults.zstd_level)
            .unwrap_or(DEFAULT_LEVEL);
        let zstd = !self.no_zstd && defaults.zstd.unwrap_or(true);
        let deltas = if self.no_deltas {
            0
        } else {
            self.deltas.or(defaults.deltas).unwrap_or(DEFAULT_DELTAS)
        };
        let mut delta = CreateOptions {
            zstd_level: level,
            ..CreateOptions::default()
        };
        if let Some(budget) = self.delta_memory_budget.or(defaults.delta_memory_budget) {
            delta.apply_memory_budget = budget;
        }
        FormOptions {
            zstd: zstd.then_some(ZstdOptions { level, threads: 0 }),
            deltas,
            delta,
        }
    }
}
