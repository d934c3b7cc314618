//! The U-Boot backend: boot counting in the U-Boot environment (`CONFIG_BOOTCOUNT_ENV`),
//! read and written directly, so devices need no `fw_setenv` (docs/uboot.md).
//!
//! Variables: `ota_slot` (A|B) is the slot the boot script boots; while
//! `upgrade_available` is 1, U-Boot counts boots in `bootcount` and runs the integrator's
//! `altbootcmd` (back to the other slot) once `bootcount` exceeds `bootlimit`. The running
//! slot comes from the kernel command line (`ota.slot=`), which the boot script sets. Every
//! change is one environment write; other variables are kept as they are.
//!
//! - [`env`]: the format of one copy. [`redundancy`]: which copy is current.
//! - [`layout`]: the `fw_env.config` file. [`storage`], [`mtd`]: the devices.
//! - [`environment`]: reading and verified writing.

mod env;
mod environment;
mod error;
mod layout;
mod lock;
mod mtd;
mod redundancy;
mod storage;

use std::path::{Path, PathBuf};

pub use env::{CopyDefect, EnvCopy, MAX_ENV_SIZE, Variables};
pub use environment::UbootEnvironment;
pub use error::UbootError;
pub use layout::{CopyLocation, EnvLayout};
pub use lock::LOCK_FILE;
use update_core::api::Slot;

use super::{Bootloader, cmdline};
use crate::config::UbootConfig;
use crate::error::Result;

pub const SLOT: &str = "ota_slot";
pub const UPGRADE_AVAILABLE: &str = "upgrade_available";
pub const BOOTCOUNT: &str = "bootcount";
pub const BOOTLIMIT: &str = "bootlimit";

#[derive(Debug, Clone)]
pub struct UbootBootloader {
    environment: UbootEnvironment,
    cmdline: PathBuf,
    boot_limit: u32,
}

impl UbootBootloader {
    /// Reads the `fw_env.config` the config names; the devices are opened at each use.
    pub fn from_config(config: &UbootConfig) -> Result<Self> {
        let environment = UbootEnvironment::open(&config.env_config, config.redundant_flags)?;
        Ok(Self::new(environment, &config.cmdline, config.boot_limit))
    }

    pub fn new(environment: UbootEnvironment, cmdline: &Path, boot_limit: u32) -> Self {
        UbootBootloader {
            environment,
            cmdline: cmdline.to_path_buf(),
            boot_limit,
        }
    }

    /// Points U-Boot at `slot` with the given trial state, in one write.
    fn select(&self, slot: Slot, trial: Option<u32>) -> Result<()> {
        self.environment.update(|variables| {
            variables.set(SLOT, slot.as_str())?;
            variables.set(UPGRADE_AVAILABLE, if trial.is_some() { "1" } else { "0" })?;
            variables.set(BOOTCOUNT, "0")?;
            if let Some(boot_limit) = trial {
                variables.set(BOOTLIMIT, boot_limit.to_string())?;
            }
            Ok(())
        })?;
        Ok(())
    }
}

impl Bootloader for UbootBootloader {
    fn booted_slot(&self) -> Result<Slot> {
        cmdline::booted_slot(&self.cmdline)
    }

    /// `ota_slot`, exactly `A` or `B`: the boot script compares it as a string, so
    /// anything else (`b` included) would not boot what it seems to say.
    fn primary_slot(&self) -> Result<Slot> {
        let variables = self.environment.read()?;
        let slot = match variables.get(SLOT) {
            Some(b"A") => Slot::A,
            Some(b"B") => Slot::B,
            Some(other) => {
                return Err(UbootError::BadVariable {
                    name: SLOT,
                    reason: format!("{:?} is neither A nor B", String::from_utf8_lossy(other)),
                }
                .into());
            }
            None => {
                return Err(UbootError::BadVariable {
                    name: SLOT,
                    reason: "not set; the default environment must set ota_slot=A \
                             (docs/uboot.md)"
                        .into(),
                }
                .into());
            }
        };
        Ok(slot)
    }

    fn try_slot_once(&mut self, slot: Slot) -> Result<()> {
        self.select(slot, Some(self.boot_limit))
    }

    fn mark_good(&mut self) -> Result<()> {
        let booted = self.booted_slot()?;
        self.select(booted, None)
    }

    fn roll_back_to(&mut self, slot: Slot) -> Result<()> {
        self.select(slot, None)
    }
}

#[cfg(test)]
mod tests;
