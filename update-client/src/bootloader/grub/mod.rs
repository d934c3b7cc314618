//! The GRUB backend: A/B slot selection through variables in the GRUB environment block,
//! acted on at every boot by the grub.cfg fragment of docs/grub.md.
//!
//! - [`env`]: the `grubenv` block codec (byte-compatible with `grub-editenv`).
//! - [`ab`]: the A/B variables and the model of what grub.cfg does with them.
//! - `file`: reading and rewriting the block in place, as GRUB's `save_env` needs.

pub mod ab;
pub mod env;
mod file;

use std::path::{Path, PathBuf};

use update_core::api::Slot;

pub use ab::{AbError, AbState, Boot, MAX_BOOT_LIMIT, SlotState, check_boot_limit};
pub use env::{EnvError, GrubEnv};

use super::{Bootloader, cmdline};
use crate::config::GrubConfig;
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct GrubBootloader {
    grubenv: PathBuf,
    cmdline: PathBuf,
    boot_limit: u8,
}

impl GrubBootloader {
    /// Refuses a boot limit grub.cfg cannot count (more than [`MAX_BOOT_LIMIT`]).
    pub fn new(config: &GrubConfig) -> Result<GrubBootloader> {
        let boot_limit = check_boot_limit(config.boot_limit)
            .map_err(|e| Error::Bootloader(format!("bootloader.boot_limit: {e}")))?;
        Ok(GrubBootloader {
            grubenv: config.grubenv.clone(),
            cmdline: config.cmdline.clone(),
            boot_limit,
        })
    }

    pub fn grubenv(&self) -> &Path {
        &self.grubenv
    }

    /// The A/B variables as they are now.
    pub fn state(&self) -> Result<AbState> {
        let env = file::read(&self.grubenv)?;
        AbState::read(&env).map_err(self.invalid())
    }

    /// Reads the A/B state, changes it and writes it back in one block write.
    fn update(&self, change: impl FnOnce(&mut AbState) -> Result<(), AbError>) -> Result<()> {
        file::update(&self.grubenv, |env| {
            let mut state = AbState::read(env).map_err(self.invalid())?;
            change(&mut state).map_err(self.invalid())?;
            state.write(env).map_err(|e| {
                Error::Bootloader(format!("{}: not written: {e}", self.grubenv.display()))
            })
        })
    }

    fn invalid(&self) -> impl Fn(AbError) -> Error {
        let path = self.grubenv.display().to_string();
        move |e| Error::Bootloader(format!("GRUB environment {path}: {e}"))
    }
}

impl Bootloader for GrubBootloader {
    /// `ota.slot=` on the kernel command line, which the grub.cfg fragment passes.
    fn booted_slot(&self) -> Result<Slot> {
        cmdline::booted_slot(&self.cmdline)
    }

    /// The slot grub.cfg will boot next: the first of `ORDER` that is OK and committed or
    /// has tries left. An exhausted trial is skipped, as GRUB skips it.
    fn primary_slot(&self) -> Result<Slot> {
        let state = self.state()?;
        let boot = state.next_boot().ok_or_else(|| {
            Error::Bootloader(format!(
                "GRUB environment {}: no slot is bootable ({state:?}); GRUB will boot the \
                 rescue entry",
                self.grubenv.display()
            ))
        })?;
        Ok(boot.slot)
    }

    fn try_slot_once(&mut self, slot: Slot) -> Result<()> {
        let boot_limit = self.boot_limit;
        self.update(|state| state.try_slot(slot, boot_limit))
    }

    fn mark_good(&mut self) -> Result<()> {
        let booted = self.booted_slot()?;
        self.update(|state| {
            state.mark_good(booted);
            Ok(())
        })
    }

    fn roll_back_to(&mut self, slot: Slot) -> Result<()> {
        self.update(|state| {
            state.roll_back_to(slot);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
