//! What the agent needs from a bootloader, and the backend the config selects.
//!
//! The contract mirrors U-Boot's bootcount and GRUB's one-shot boot: a new slot is tried
//! a bounded number of times and the bootloader falls back to the previous slot by
//! itself unless the running system marks the new slot good. Backends hold no knowledge
//! of updates; the install journal decides what to call when.

pub mod cmdline;
pub mod grub;
mod simulated;
pub mod uboot;

pub use simulated::{BootEnv, PowerOn, SimulatedBootloader};
use update_core::api::Slot;

use crate::config::BootloaderConfig;
use crate::error::Result;

pub trait Bootloader {
    /// The slot the running system was booted from.
    fn booted_slot(&self) -> Result<Slot>;

    /// The slot the bootloader will boot next (while a trial is pending: the new slot).
    fn primary_slot(&self) -> Result<Slot>;

    /// Boots `slot` on the next boots, at most the configured number of tries, then falls
    /// back to the other slot unless [`Bootloader::mark_good`] is called first.
    fn try_slot_once(&mut self, slot: Slot) -> Result<()>;

    /// Commits the booted slot: it becomes primary and stays so.
    fn mark_good(&mut self) -> Result<()>;

    /// Makes `slot` primary again at once, abandoning any trial.
    fn roll_back_to(&mut self, slot: Slot) -> Result<()>;
}

/// The backend the config names.
pub fn from_config(config: &BootloaderConfig) -> Result<Box<dyn Bootloader>> {
    match config {
        BootloaderConfig::Simulated(c) => {
            Ok(Box::new(SimulatedBootloader::new(&c.dir, c.boot_limit)))
        }
        BootloaderConfig::Grub(c) => Ok(Box::new(grub::GrubBootloader::new(c)?)),
        BootloaderConfig::Uboot(c) => Ok(Box::new(uboot::UbootBootloader::from_config(c)?)),
    }
}
