//! `update-client status`: the device's state as one JSON document, read without
//! changing anything.

use serde::Serialize;
use update_core::api::Slot;

use crate::bootloader::{self, Bootloader};
use crate::config::Config;
use crate::error::Result;
use crate::state::{FailedRelease, Journal, SlotRecords, StateDir};

#[derive(Debug, Serialize)]
pub struct DeviceState {
    pub device_id: String,
    pub class: String,
    pub hardware_id: String,
    pub booted_slot: Slot,
    pub primary_slot: Slot,
    /// `None` before the agent's first run.
    pub slots: Option<SlotRecords>,
    pub journal: Option<Journal>,
    pub failed_releases: Vec<FailedRelease>,
    pub queued_reports: usize,
}

pub fn read(config: &Config) -> Result<DeviceState> {
    let state = StateDir::read_only(&config.state.dir);
    let bootloader: Box<dyn Bootloader> = bootloader::from_config(&config.bootloader)?;
    Ok(DeviceState {
        device_id: config.device.id.clone(),
        class: config.device.class.clone(),
        hardware_id: config.device.hardware_id.clone(),
        booted_slot: bootloader.booted_slot()?,
        primary_slot: bootloader.primary_slot()?,
        slots: state.slots()?,
        journal: state.journal()?,
        failed_releases: state.failed()?.entries().to_vec(),
        queued_reports: state.outbox()?.len(),
    })
}
