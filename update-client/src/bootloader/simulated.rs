//! A file-backed bootloader for demos and tests (docs/interfaces.md, "Simulated
//! bootloader"): `DIR/env` holds U-Boot-style `name=value` variables, `DIR/booted` the
//! slot the last power-on booted, and `DIR/reboot-requested` is the marker a simulated
//! reboot command creates.
//!
//! [`SimulatedBootloader::power_on`] is what U-Boot with `CONFIG_BOOTCOUNT_ENV` does at
//! every boot: while `upgrade_available` is 1 it counts boots, and once `bootcount`
//! exceeds `bootlimit` it runs the alternate boot (the other slot, counting stopped).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use update_core::api::Slot;

use super::Bootloader;
use crate::atomic::{read_limited, write_atomic};
use crate::crash::{self, Point};
use crate::error::{Error, Result};

const MAX_ENV_SIZE: u64 = 64 * 1024;
pub const ENV_FILE: &str = "env";
pub const BOOTED_FILE: &str = "booted";
pub const REBOOT_MARKER: &str = "reboot-requested";

/// The variables of the simulated environment this backend interprets. Other variables
/// found in the file are kept as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootEnv {
    pub boot_slot: Slot,
    pub upgrade_available: bool,
    pub bootcount: u32,
    pub bootlimit: u32,
    other: BTreeMap<String, String>,
}

impl BootEnv {
    /// A factory environment: slot A, no trial pending.
    pub fn factory(bootlimit: u32) -> Self {
        BootEnv {
            boot_slot: Slot::A,
            upgrade_available: false,
            bootcount: 0,
            bootlimit,
            other: BTreeMap::new(),
        }
    }

    pub fn parse(text: &str, default_bootlimit: u32) -> std::result::Result<Self, String> {
        let mut env = BootEnv::factory(default_bootlimit);
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (name, value) = line
                .split_once('=')
                .ok_or_else(|| format!("line {line:?} is not name=value"))?;
            let number = || {
                value
                    .parse::<u32>()
                    .map_err(|e| format!("{name}={value:?}: {e}"))
            };
            match name {
                "boot_slot" => env.boot_slot = value.parse()?,
                "upgrade_available" => {
                    env.upgrade_available = match value {
                        "0" => false,
                        "1" => true,
                        _ => return Err(format!("upgrade_available={value:?}: expected 0 or 1")),
                    }
                }
                "bootcount" => env.bootcount = number()?,
                "bootlimit" => env.bootlimit = number()?,
                _ => {
                    env.other.insert(name.to_string(), value.to_string());
                }
            }
        }
        Ok(env)
    }

    pub fn to_text(&self) -> String {
        let mut text = format!(
            "boot_slot={}\nupgrade_available={}\nbootcount={}\nbootlimit={}\n",
            self.boot_slot,
            u8::from(self.upgrade_available),
            self.bootcount,
            self.bootlimit
        );
        for (name, value) in &self.other {
            text.push_str(&format!("{name}={value}\n"));
        }
        text
    }

    /// One power-on under `CONFIG_BOOTCOUNT_ENV`: returns the slot booted and whether the
    /// alternate boot ran.
    pub fn power_on(&mut self) -> PowerOn {
        let mut fell_back = false;
        if self.upgrade_available {
            self.bootcount = self.bootcount.saturating_add(1);
            if self.bootcount > self.bootlimit {
                self.boot_slot = self.boot_slot.other();
                self.upgrade_available = false;
                self.bootcount = 0;
                fell_back = true;
            }
        }
        PowerOn {
            booted: self.boot_slot,
            fell_back,
        }
    }
}

/// What one simulated power-on did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PowerOn {
    pub booted: Slot,
    pub fell_back: bool,
}

#[derive(Debug, Clone)]
pub struct SimulatedBootloader {
    dir: PathBuf,
    boot_limit: u32,
}

impl SimulatedBootloader {
    pub fn new(dir: &Path, boot_limit: u32) -> Self {
        SimulatedBootloader {
            dir: dir.to_path_buf(),
            boot_limit,
        }
    }

    pub fn reboot_marker(&self) -> PathBuf {
        self.dir.join(REBOOT_MARKER)
    }

    /// The environment; a factory one if none was written yet.
    pub fn env(&self) -> Result<BootEnv> {
        let path = self.dir.join(ENV_FILE);
        match read_limited(&path, MAX_ENV_SIZE).map_err(io_error(&path))? {
            None => Ok(BootEnv::factory(self.boot_limit)),
            Some(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| corrupt(&path, "not UTF-8"))?;
                BootEnv::parse(&text, self.boot_limit).map_err(|reason| corrupt(&path, &reason))
            }
        }
    }

    fn write_env(&self, env: &BootEnv) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))?;
        let path = self.dir.join(ENV_FILE);
        write_atomic(&path, env.to_text().as_bytes()).map_err(io_error(&path))
    }

    /// Changes the environment. Before the first simulated power-on there is no `booted`
    /// file and the booted slot is read from the environment; it is pinned first so the
    /// change cannot alter which slot counts as booted.
    fn update_env(&self, change: impl FnOnce(&mut BootEnv)) -> Result<()> {
        let mut env = self.env()?;
        let booted_path = self.dir.join(BOOTED_FILE);
        if !booted_path.exists() {
            self.write_booted(env.boot_slot)?;
        }
        change(&mut env);
        self.write_env(&env)
    }

    fn write_booted(&self, slot: Slot) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(io_error(&self.dir))?;
        let path = self.dir.join(BOOTED_FILE);
        write_atomic(&path, format!("{slot}\n").as_bytes()).map_err(io_error(&path))
    }

    /// The simulated power-on: runs the bootcount logic, records the booted slot. Like
    /// U-Boot, it saves the environment only while it counts the boots of a trial.
    pub fn power_on(&self) -> Result<PowerOn> {
        let mut env = self.env()?;
        let counting = env.upgrade_available;
        let outcome = env.power_on();
        if counting {
            crash::point(Point::PowerOnBeforeEnvWrite);
            self.write_env(&env)?;
            crash::point(Point::PowerOnAfterEnvWrite);
        }
        self.write_booted(outcome.booted)?;
        Ok(outcome)
    }
}

impl Bootloader for SimulatedBootloader {
    /// `DIR/booted`; before the first simulated power-on, the primary slot.
    fn booted_slot(&self) -> Result<Slot> {
        let path = self.dir.join(BOOTED_FILE);
        match read_limited(&path, 16).map_err(io_error(&path))? {
            None => self.primary_slot(),
            Some(bytes) => String::from_utf8_lossy(&bytes)
                .trim()
                .parse()
                .map_err(|reason: String| corrupt(&path, &reason)),
        }
    }

    fn primary_slot(&self) -> Result<Slot> {
        Ok(self.env()?.boot_slot)
    }

    fn try_slot_once(&mut self, slot: Slot) -> Result<()> {
        let boot_limit = self.boot_limit;
        self.update_env(|env| {
            env.boot_slot = slot;
            env.upgrade_available = true;
            env.bootcount = 0;
            env.bootlimit = boot_limit;
        })
    }

    fn mark_good(&mut self) -> Result<()> {
        let booted = self.booted_slot()?;
        self.update_env(|env| {
            env.boot_slot = booted;
            env.upgrade_available = false;
            env.bootcount = 0;
        })
    }

    fn roll_back_to(&mut self, slot: Slot) -> Result<()> {
        self.update_env(|env| {
            env.boot_slot = slot;
            env.upgrade_available = false;
            env.bootcount = 0;
        })
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let context = format!("simulated bootloader file {}", path.display());
    move |source| Error::Io { context, source }
}

fn corrupt(path: &Path, reason: &str) -> Error {
    Error::Bootloader(format!("{} is corrupt: {reason}", path.display()))
}

#[cfg(test)]
mod tests;
