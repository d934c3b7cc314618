//! One update attempt, from an assignment to the reboot into the new slot (steps 1 to 5
//! of the journal's table in `state::journal`).

use tracing::{info, warn};
use update_core::api::{Assignment, UpdateEvent};
use update_core::firmware::Firmware;
use update_core::schema::TargetFile;
use update_core::trust::TrustedMetadata;

use super::{Agent, Poll, ReportHeader};
use crate::decision::{self, Device};
use crate::error::{Error, Result};
use crate::install::Install;
use crate::state::{FailedRelease, Journal, Phase, SlotContent};
use crate::tuf;

impl Agent {
    /// Verifies the assigned release through TUF, checks it is for this device, installs
    /// it and reboots. Failures are reported; refusals are also remembered.
    pub(super) async fn update(
        &mut self,
        assignment: &Assignment,
        running: &SlotContent,
    ) -> Result<Poll> {
        let mut header = ReportHeader {
            target_name: assignment.target_name.clone(),
            version: assignment.version.clone(),
            from_version: running.version.clone(),
        };
        let mut trusted = match self.updater.refresh().await {
            Ok(refreshed) => refreshed.trusted,
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                warn!("metadata refresh failed: {e}");
                let reason = e.to_string();
                self.report(&header, UpdateEvent::Failure, Some(reason), 0)
                    .await?;
                return Ok(Poll::UpdateFailed);
            }
        };
        let target = match self
            .updater
            .find_target(&mut trusted, &assignment.target_name)
            .await
        {
            Ok(target) => target,
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                warn!("target lookup failed: {e}");
                self.report(&header, UpdateEvent::Failure, Some(e.to_string()), 0)
                    .await?;
                return Ok(Poll::UpdateFailed);
            }
        };
        let target = target.as_ref();
        let sha256 = target.and_then(TargetFile::sha256).map(str::to_string);
        let mut failed = self.state.failed()?;
        if failed.contains(&assignment.target_name, sha256.as_deref()) {
            if !assignment.retry {
                info!(target = %assignment.target_name, "release already failed on this device");
                return Ok(Poll::Idle);
            }
            info!(target = %assignment.target_name, "the operator asked for another try of a release that failed here");
            failed.remove(&assignment.target_name, sha256.as_deref());
            self.state.save_failed(&failed)?;
        }
        let device = Device {
            class: &self.config.device.class,
            hardware_id: &self.config.device.hardware_id,
            running_version: &running.version,
        };
        let firmware = match decision::decide(
            &device,
            &assignment.target_name,
            target,
            &assignment.version,
        ) {
            Ok(firmware) => firmware,
            Err(refusal) => {
                warn!("refusing {}: {refusal}", assignment.target_name);
                let reason = Error::from(refusal).to_string();
                let mut failed = failed;
                failed.add(FailedRelease {
                    target_name: assignment.target_name.clone(),
                    sha256,
                    reason: reason.clone(),
                });
                self.state.save_failed(&failed)?;
                self.report(&header, UpdateEvent::Failure, Some(reason), 0)
                    .await?;
                return Ok(Poll::UpdateFailed);
            }
        };
        header.version = firmware.version.clone();
        let Some(target) = target else {
            return Err(Error::BadResponse {
                url: assignment.target_name.clone(),
                reason: "target vanished from verified metadata".into(),
            });
        };
        self.install(&header, &trusted, target, &firmware).await
    }

    async fn install(
        &mut self,
        header: &ReportHeader,
        trusted: &TrustedMetadata,
        target: &TargetFile,
        firmware: &Firmware,
    ) -> Result<Poll> {
        let booted = self.bootloader.booted_slot()?;
        let to_slot = booted.other();
        if self.bootloader.primary_slot()? != booted {
            warn!("bootloader pointed at slot {to_slot} with no update in progress; resetting it");
            self.bootloader.roll_back_to(booted)?;
        }
        let mut journal = Journal {
            target_name: header.target_name.clone(),
            version: firmware.version.clone(),
            from_version: header.from_version.clone(),
            from_slot: booted,
            to_slot,
            target_sha256: tuf::signed_sha256(&header.target_name, target)?.to_string(),
            image_length: firmware.image.length,
            image_sha256: firmware.image.sha256.clone(),
            phase: Phase::Installing,
            last_event: UpdateEvent::Downloading,
            bytes_downloaded: 0,
            reason: None,
        };
        self.state.save_journal(&journal)?;
        self.set_slot_record(to_slot, None)?;
        self.report(header, UpdateEvent::Downloading, None, 0)
            .await?;
        info!(target = %header.target_name, slot = %to_slot, "installing");

        let install = Install {
            updater: &self.updater,
            trusted,
            target_name: &header.target_name,
            target,
            firmware,
            slots: &self.slots,
            to_slot,
            booted,
        };
        let mut bytes_downloaded = 0;
        let result = install.run(&mut bytes_downloaded).await;
        journal.bytes_downloaded = bytes_downloaded;
        if let Err(e) = result {
            warn!("install failed: {e}");
            journal.phase = Phase::Failed;
            journal.last_event = UpdateEvent::Failure;
            journal.reason = Some(e.to_string());
            self.state.save_journal(&journal)?;
            self.report(
                header,
                UpdateEvent::Failure,
                journal.reason.clone(),
                bytes_downloaded,
            )
            .await?;
            return Ok(Poll::UpdateFailed);
        }
        self.set_slot_record(to_slot, Some(slot_content(&journal)))?;
        self.switch_and_reboot(&mut journal).await?;
        Ok(Poll::Rebooting)
    }

    /// Arms the bootloader's trial of the new slot, reports `installed`, reboots.
    pub(super) async fn switch_and_reboot(&mut self, journal: &mut Journal) -> Result<()> {
        journal.phase = Phase::Switching;
        self.state.save_journal(journal)?;
        self.bootloader.try_slot_once(journal.to_slot)?;
        journal.phase = Phase::Installed;
        journal.last_event = UpdateEvent::Installed;
        self.state.save_journal(journal)?;
        self.report(
            &header_of(journal),
            UpdateEvent::Installed,
            None,
            journal.bytes_downloaded,
        )
        .await?;
        self.reboot().await
    }
}

/// The slot record of the image a journal installs.
pub(super) fn slot_content(journal: &Journal) -> SlotContent {
    SlotContent {
        version: journal.version.clone(),
        target_name: Some(journal.target_name.clone()),
        length: journal.image_length,
        sha256: journal.image_sha256.clone(),
    }
}

pub(super) fn header_of(journal: &Journal) -> ReportHeader {
    ReportHeader {
        target_name: journal.target_name.clone(),
        version: journal.version.clone(),
        from_version: journal.from_version.clone(),
    }
}
