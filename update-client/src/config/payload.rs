//! `[payload]`: which signed forms of a release the agent may download, and the bounds on
//! applying a delta (docs/client.md, "Payload: delta, compressed or raw").

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Default memory a delta apply may use: `update_delta::Limits::max_memory`.
pub const DEFAULT_DELTA_MEMORY: u64 = 8 << 20;
/// Default largest delta spooled; a bigger one is not used.
pub const DEFAULT_MAX_DELTA_SPOOL: u64 = 64 << 20;
/// Default spool directory, under the state directory.
pub const DEFAULT_SPOOL_SUBDIR: &str = "download";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadConfig {
    /// Use a delta from the running image when one is published.
    pub delta: bool,
    /// Use the zstd-compressed image when no delta is usable.
    pub zstd: bool,
    /// Bytes of memory a delta apply may use.
    pub delta_memory: u64,
    /// Where a delta is stored between its download and its apply.
    pub spool_dir: PathBuf,
    /// Largest delta spooled.
    pub max_delta_spool: u64,
}

/// The section as written; every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadSection {
    delta: Option<bool>,
    zstd: Option<bool>,
    delta_memory: Option<u64>,
    spool_dir: Option<PathBuf>,
    max_delta_spool: Option<u64>,
}

impl PayloadSection {
    /// The settings, with relative paths under `base_dir` and defaults filled in (the
    /// spool directory defaults to `state_dir/download`).
    pub fn resolve(self, base_dir: &Path, state_dir: &Path) -> Result<PayloadConfig, String> {
        let config = PayloadConfig {
            delta: self.delta.unwrap_or(true),
            zstd: self.zstd.unwrap_or(true),
            delta_memory: self.delta_memory.unwrap_or(DEFAULT_DELTA_MEMORY),
            spool_dir: match self.spool_dir {
                Some(dir) => base_dir.join(dir),
                None => state_dir.join(DEFAULT_SPOOL_SUBDIR),
            },
            max_delta_spool: self.max_delta_spool.unwrap_or(DEFAULT_MAX_DELTA_SPOOL),
        };
        if config.delta_memory == 0 || config.max_delta_spool == 0 {
            return Err("payload.delta_memory and payload.max_delta_spool must be positive".into());
        }
        Ok(config)
    }
}
