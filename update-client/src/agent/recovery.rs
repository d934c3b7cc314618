//! Finishing what an earlier run left in the install journal (steps 5 to 8 of the table
//! in `state::journal`): the trial of a new slot, its commit or roll-back, and the
//! clean-up after interruptions. An interrupted download is left for the next check-in,
//! which resumes it if the server still assigns the release.

use tracing::{info, warn};
use update_core::api::{Slot, UpdateEvent};

use super::Agent;
use super::update::slot_content;
use crate::crash::{self, Point};
use crate::error::Result;
use crate::health::{self, BootUnderTest, Health};
use crate::state::journal::{Recovery, plan_recovery};
use crate::state::{FailedRelease, Journal, Phase};

/// Pause between check-ins while the new system waits for its network.
const SERVER_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterRecovery {
    /// Go on to poll.
    Continue,
    /// The reboot command ran: stop.
    Rebooting,
}

impl Agent {
    pub(super) async fn recover(&mut self) -> Result<AfterRecovery> {
        let Some(mut journal) = self.state.journal()? else {
            return Ok(AfterRecovery::Continue);
        };
        let booted = self.bootloader.booted_slot()?;
        let primary = self.bootloader.primary_slot()?;
        let plan = plan_recovery(&journal, booted, primary);
        if plan != Recovery::Nothing {
            info!(phase = ?journal.phase, %booted, %primary, ?plan, "resuming update");
        }
        match plan {
            Recovery::Nothing => Ok(AfterRecovery::Continue),
            Recovery::AwaitHold => {
                info!("a staged update waits for the server to lift its hold");
                Ok(AfterRecovery::Continue)
            }
            Recovery::ResumeInstall => {
                info!("the interrupted download resumes if the server still assigns it");
                Ok(AfterRecovery::Continue)
            }
            Recovery::DiscardInstall => {
                if journal.to_slot != booted {
                    self.set_slot_record(journal.to_slot, None)?;
                }
                self.fail(
                    &mut journal,
                    "interrupted before the install finished".into(),
                )
                .await?;
                Ok(AfterRecovery::Continue)
            }
            Recovery::ResumeSwitch => {
                let verified =
                    self.slots
                        .verify(journal.to_slot, journal.image_length, &journal.image_sha256);
                if let Err(e) = verified {
                    // The trial may already be armed: point the bootloader home first.
                    self.roll_back_to(journal.from_slot)?;
                    self.set_slot_record(journal.to_slot, None)?;
                    self.fail(&mut journal, format!("installed image is damaged: {e}"))
                        .await?;
                    return Ok(AfterRecovery::Continue);
                }
                self.set_slot_record(journal.to_slot, Some(slot_content(&journal)))?;
                self.switch_and_reboot(&mut journal).await?;
                Ok(AfterRecovery::Rebooting)
            }
            Recovery::Reboot => {
                self.reboot().await?;
                Ok(AfterRecovery::Rebooting)
            }
            Recovery::StartTrial => self.trial(&mut journal).await,
            Recovery::FinishCommit => {
                self.commit(&mut journal).await?;
                Ok(AfterRecovery::Continue)
            }
            Recovery::RedoRollBack => {
                let reason = journal.reason.clone().unwrap_or_default();
                self.roll_back(&mut journal, reason).await?;
                Ok(AfterRecovery::Rebooting)
            }
            Recovery::FinishRollBack => {
                let reason = journal.reason.clone().unwrap_or_default();
                self.disarm_trial(booted, primary)?;
                self.finish_roll_back(&mut journal, reason).await?;
                Ok(AfterRecovery::Continue)
            }
            Recovery::BootloaderFellBack => {
                let reason = format!(
                    "bootloader fell back to slot {}: slot {} was not committed within {} boot(s)",
                    journal.from_slot,
                    journal.to_slot,
                    self.config.bootloader.boot_limit()
                );
                self.disarm_trial(booted, primary)?;
                self.finish_roll_back(&mut journal, reason).await?;
                Ok(AfterRecovery::Continue)
            }
        }
    }

    /// Running the old slot with the new one still selected: the release is given up,
    /// so the bootloader must not try it again.
    fn disarm_trial(&mut self, booted: Slot, primary: Slot) -> Result<()> {
        if primary != booted {
            warn!("the bootloader still selects slot {primary}: pointing it back at {booted}");
            self.roll_back_to(booted)?;
        }
        Ok(())
    }

    /// Running the new slot on trial: report it once, then let the health check decide.
    async fn trial(&mut self, journal: &mut Journal) -> Result<AfterRecovery> {
        if journal.last_event == UpdateEvent::Downloading {
            // Cut between arming the trial and journaling it: report `installed` first.
            self.advance(journal, Phase::Installed, Some(UpdateEvent::Installed))
                .await?;
        }
        let first_report = journal.last_event != UpdateEvent::BootedNew;
        self.advance(
            journal,
            Phase::Trial,
            first_report.then_some(UpdateEvent::BootedNew),
        )
        .await?;
        let boot = BootUnderTest {
            slot: journal.to_slot,
            target_name: &journal.target_name,
            version: &journal.version,
        };
        let mut verdict =
            health::check(&self.config.health_check, &self.config.base_dir, &boot).await;
        if verdict == Health::Healthy && self.config.health_check.reach_server {
            verdict = self.reach_server().await;
        }
        crash::point(Point::AfterHealthCheck);
        match verdict {
            Health::Healthy => {
                self.commit(journal).await?;
                Ok(AfterRecovery::Continue)
            }
            Health::Unhealthy(reason) => {
                warn!("new slot is unhealthy: {reason}");
                self.roll_back(journal, reason).await?;
                Ok(AfterRecovery::Rebooting)
            }
        }
    }

    /// Checks in until the server answers, for at most the health-check timeout: the
    /// new system must still be manageable before it is kept.
    async fn reach_server(&self) -> Health {
        let timeout = self.config.health_check.timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.check_in().await {
                Ok(_) => return Health::Healthy,
                Err(e) if tokio::time::Instant::now() + SERVER_RETRY > deadline => {
                    return Health::Unhealthy(format!(
                        "the new system could not reach the update server within {}: {e}",
                        humantime::format_duration(timeout)
                    ));
                }
                Err(e) => {
                    info!("update server not reachable yet, retrying: {e}");
                    tokio::time::sleep(SERVER_RETRY).await;
                }
            }
        }
    }

    async fn commit(&mut self, journal: &mut Journal) -> Result<()> {
        self.advance(journal, Phase::Committing, None).await?;
        self.mark_good()?;
        self.set_slot_record(journal.to_slot, Some(slot_content(journal)))?;
        crash::point(Point::AfterSlotRecordCommitted);
        info!(version = %journal.version, slot = %journal.to_slot, "update committed");
        self.advance(journal, Phase::Committed, Some(UpdateEvent::Success))
            .await
    }

    /// Points the bootloader back at the old slot and reboots into it; the roll-back is
    /// reported from there.
    async fn roll_back(&mut self, journal: &mut Journal, reason: String) -> Result<()> {
        journal.reason = Some(reason);
        self.advance(journal, Phase::RollingBack, None).await?;
        self.roll_back_to(journal.from_slot)?;
        self.reboot().await
    }

    async fn finish_roll_back(&mut self, journal: &mut Journal, reason: String) -> Result<()> {
        let mut failed = self.state.failed()?;
        failed.add(FailedRelease {
            target_name: journal.target_name.clone(),
            sha256: Some(journal.target_sha256.clone()),
            reason: reason.clone(),
        });
        self.state.save_failed(&failed)?;
        crash::point(Point::AfterFailedRecorded);
        warn!(version = %journal.version, "update rolled back: {reason}");
        journal.reason = Some(reason);
        self.advance(journal, Phase::RolledBack, Some(UpdateEvent::RolledBack))
            .await
    }
}
