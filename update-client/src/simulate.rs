//! `update-client simulate`: a simulated device for demos and tests.
//!
//! Each boot is the simulated bootloader's power-on step followed by `update-client run`
//! as a child process with the same config. A child that left the reboot marker asked
//! for a reboot: the marker is removed and the device boots again. A child killed by a
//! signal is a power cut: the simulation ends at once with [`EXIT_POWER_CUT`] (the next
//! simulation is the next power-on). Any other end of the child ends the simulation with
//! the child's exit status.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;

use tracing::info;

use crate::bootloader::SimulatedBootloader;
use crate::config::{BootloaderConfig, Config};
use crate::error::{Error, Result};

/// Exit status when the device still wanted to reboot after `max_boots` boots.
pub const EXIT_BOOT_LIMIT: i32 = 3;
/// Exit status when `run` was killed by a signal (a simulated power cut, `crate::crash`).
pub const EXIT_POWER_CUT: i32 = 4;

pub fn simulate(config_path: &Path, until_idle: bool, max_boots: u32) -> Result<i32> {
    let config = Config::load(config_path)?;
    let BootloaderConfig::Simulated(simulated) = &config.bootloader else {
        return Err(Error::Config {
            path: config_path.to_path_buf(),
            reason: "simulate needs [bootloader] backend = \"simulated\"".into(),
        });
    };
    let bootloader = SimulatedBootloader::new(&simulated.dir, simulated.boot_limit);
    let marker = bootloader.reboot_marker();
    let exe = std::env::current_exe().map_err(Error::io("locating the update-client binary"))?;
    // A marker left by an earlier, interrupted simulation is not a request of this one.
    crate::atomic::remove_durably(&marker).map_err(Error::io("removing a stale reboot marker"))?;
    for boot in 1..=max_boots {
        let power_on = bootloader.power_on()?;
        info!(boot, slot = %power_on.booted, fell_back = power_on.fell_back, "power on");
        let mut child = Command::new(&exe);
        child.arg("run").arg("--config").arg(config_path);
        if until_idle {
            child.arg("--until-idle");
        }
        let status = child
            .status()
            .map_err(Error::io("starting update-client run"))?;
        if let Some(signal) = status.signal() {
            // A power cut: nothing boots again until the device is powered on anew.
            info!(boot, signal, "device lost power");
            return Ok(EXIT_POWER_CUT);
        }
        if marker.exists() {
            crate::atomic::remove_durably(&marker)
                .map_err(Error::io("removing the reboot marker"))?;
            info!(boot, %status, "device asked for a reboot");
            continue;
        }
        info!(boot, %status, "device stopped");
        return Ok(status.code().unwrap_or(1));
    }
    info!(max_boots, "boot limit reached");
    Ok(EXIT_BOOT_LIMIT)
}
