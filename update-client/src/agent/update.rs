//! One update attempt, from an assignment to the reboot into the new slot (steps 1 to 5
//! of the journal's table in `state::journal`), resuming an interrupted one. Which form
//! of the release travels, and the fallbacks, are in `super::payload`.

use tracing::{info, warn};
use update_core::api::{Assignment, UpdateEvent};
use update_core::firmware::Firmware;
use update_core::schema::TargetFile;
use update_core::trust::TrustedMetadata;

use super::{Agent, Poll, ReportHeader};
use crate::crash::{self, Point};
use crate::decision::{self, Device};
use crate::error::{Error, Result};
use crate::install::Install;
use crate::payload::{Form, Plan, payload_of};
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
        let raw = Form::raw(&assignment.target_name, target, &firmware);
        let plan = self.plan_payload(&mut trusted, raw, Some(running)).await?;
        let hold = assignment.hold.as_deref();
        self.install(&header, &trusted, &firmware, &plan, hold)
            .await
    }

    /// Writes the release into the inactive slot (unless a staged copy of it is there
    /// already), then switches to it, or stages it while the server holds the switch.
    async fn install(
        &mut self,
        header: &ReportHeader,
        trusted: &TrustedMetadata,
        firmware: &Firmware,
        plan: &Plan,
        hold: Option<&str>,
    ) -> Result<Poll> {
        let booted = self.bootloader.booted_slot()?;
        let to_slot = booted.other();
        if self.bootloader.primary_slot()? != booted {
            warn!("bootloader pointed at slot {to_slot} with no update in progress; resetting it");
            self.roll_back_to(booted)?;
        }
        let raw = plan
            .steps
            .last()
            .map(|step| &step.form)
            .ok_or_else(|| Error::BadResponse {
                url: header.target_name.clone(),
                reason: "no form of the release to install".into(),
            })?;
        let fresh = Journal {
            target_name: header.target_name.clone(),
            version: firmware.version.clone(),
            from_version: header.from_version.clone(),
            from_slot: booted,
            to_slot,
            target_sha256: tuf::signed_sha256(&header.target_name, &raw.target)?.to_string(),
            image_length: firmware.image.length,
            image_sha256: firmware.image.sha256.clone(),
            phase: Phase::Installing,
            last_event: UpdateEvent::Downloading,
            bytes_downloaded: 0,
            reason: None,
            written: None,
            validator: None,
            payload: plan.steps.first().map(|step| payload_of(step, None)),
            zstd_offset: None,
        };
        let mut journal = match self.interrupted_install_of(&fresh).await? {
            Some(journal) => journal,
            None => {
                self.clear_spool();
                let mut journal = fresh;
                self.advance(
                    &mut journal,
                    Phase::Installing,
                    Some(UpdateEvent::Downloading),
                )
                .await?;
                journal
            }
        };
        if journal.phase == Phase::Staged {
            return self.switch_to_staged(&mut journal, hold).await;
        }
        // Cleared before the first byte is written, so a dirty slot never has a record.
        self.set_slot_record(to_slot, None)?;
        crash::point(Point::AfterSlotRecordCleared);
        info!(target = %header.target_name, slot = %to_slot, "installing");

        let install = Install {
            updater: &self.updater,
            trusted,
            image: &firmware.image,
            slots: &self.slots,
            to_slot,
            booted,
            state: &self.state,
            payload: &self.config.payload,
        };
        match self.install_plan(&install, plan, &mut journal).await {
            Ok(()) => {}
            Err(e) if e.is_transient() => {
                warn!("download interrupted; it resumes at the next attempt: {e}");
                return Err(e);
            }
            Err(e) => {
                warn!("install failed: {e}");
                self.fail(&mut journal, e.to_string()).await?;
                return Ok(Poll::UpdateFailed);
            }
        }
        self.set_slot_record(to_slot, Some(slot_content(&journal)))?;
        crash::point(Point::AfterSlotRecordSet);
        if let Some(hold) = hold {
            info!(target = %header.target_name, slot = %to_slot, hold, "staged; the switch waits");
            self.advance(&mut journal, Phase::Staged, Some(UpdateEvent::Staged))
                .await?;
            return Ok(Poll::Idle);
        }
        self.switch_and_reboot(&mut journal).await?;
        Ok(Poll::Rebooting)
    }

    /// A staged image: still held, or read back once more (it waited in a slot nothing
    /// guards) and switched to.
    async fn switch_to_staged(
        &mut self,
        journal: &mut Journal,
        hold: Option<&str>,
    ) -> Result<Poll> {
        if let Some(hold) = hold {
            info!(target = %journal.target_name, hold, "staged; the switch still waits");
            return Ok(Poll::Idle);
        }
        let verified =
            self.slots
                .verify(journal.to_slot, journal.image_length, &journal.image_sha256);
        if let Err(e) = verified {
            self.set_slot_record(journal.to_slot, None)?;
            self.fail(journal, format!("staged image is damaged: {e}"))
                .await?;
            return Ok(Poll::UpdateFailed);
        }
        info!(target = %journal.target_name, slot = %journal.to_slot, "hold lifted; switching");
        self.switch_and_reboot(journal).await?;
        Ok(Poll::Rebooting)
    }

    /// The journal of an earlier, interrupted or staged install of the same image into
    /// the same slot, to resume. An interrupted install of anything else ends as a
    /// failure here; a staged one is dropped (see `Agent::drop_withdrawn_staged`).
    async fn interrupted_install_of(&mut self, fresh: &Journal) -> Result<Option<Journal>> {
        let Some(mut journal) = self.state.journal()? else {
            return Ok(None);
        };
        if !matches!(journal.phase, Phase::Installing | Phase::Staged) {
            return Ok(None);
        }
        let same = journal.target_name == fresh.target_name
            && journal
                .target_sha256
                .eq_ignore_ascii_case(&fresh.target_sha256)
            && journal
                .image_sha256
                .eq_ignore_ascii_case(&fresh.image_sha256)
            && journal.image_length == fresh.image_length
            && journal.version == fresh.version
            && (journal.from_slot, journal.to_slot) == (fresh.from_slot, fresh.to_slot);
        if same {
            info!(target = %journal.target_name, phase = ?journal.phase, "resuming an install");
            return Ok(Some(journal));
        }
        if journal.phase == Phase::Staged {
            self.drop_withdrawn_staged(&mut journal).await?;
            return Ok(None);
        }
        let reason = format!("interrupted, then superseded by {}", fresh.target_name);
        self.fail(&mut journal, reason).await?;
        Ok(None)
    }

    /// Arms the bootloader's trial of the new slot, reports `installed`, reboots.
    pub(super) async fn switch_and_reboot(&mut self, journal: &mut Journal) -> Result<()> {
        self.advance(journal, Phase::Switching, None).await?;
        self.try_slot(journal.to_slot)?;
        self.advance(journal, Phase::Installed, Some(UpdateEvent::Installed))
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
