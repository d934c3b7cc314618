//! Finishing what an earlier run left in the install journal (steps 5 to 8 of the table
//! in `state::journal`): the trial of a new slot, its commit or roll-back, and the
//! clean-up after interruptions.

use tracing::{info, warn};
use update_core::api::UpdateEvent;

use super::Agent;
use super::update::{header_of, slot_content};
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
                    self.bootloader.roll_back_to(journal.from_slot)?;
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
                self.finish_roll_back(&mut journal, reason).await?;
                Ok(AfterRecovery::Continue)
            }
        }
    }

    /// Running the new slot on trial: report it once, then let the health check decide.
    async fn trial(&mut self, journal: &mut Journal) -> Result<AfterRecovery> {
        journal.phase = Phase::Trial;
        let first_report = journal.last_event != UpdateEvent::BootedNew;
        journal.last_event = UpdateEvent::BootedNew;
        self.state.save_journal(journal)?;
        if first_report {
            self.report(
                &header_of(journal),
                UpdateEvent::BootedNew,
                None,
                journal.bytes_downloaded,
            )
            .await?;
        }
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
        journal.phase = Phase::Committing;
        self.state.save_journal(journal)?;
        self.bootloader.mark_good()?;
        self.set_slot_record(journal.to_slot, Some(slot_content(journal)))?;
        journal.phase = Phase::Committed;
        journal.last_event = UpdateEvent::Success;
        self.state.save_journal(journal)?;
        info!(version = %journal.version, slot = %journal.to_slot, "update committed");
        self.report(
            &header_of(journal),
            UpdateEvent::Success,
            None,
            journal.bytes_downloaded,
        )
        .await
    }

    /// Points the bootloader back at the old slot and reboots into it; the roll-back is
    /// reported from there.
    async fn roll_back(&mut self, journal: &mut Journal, reason: String) -> Result<()> {
        journal.phase = Phase::RollingBack;
        journal.reason = Some(reason);
        self.state.save_journal(journal)?;
        self.bootloader.roll_back_to(journal.from_slot)?;
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
        journal.phase = Phase::RolledBack;
        journal.last_event = UpdateEvent::RolledBack;
        journal.reason = Some(reason.clone());
        self.state.save_journal(journal)?;
        warn!(version = %journal.version, "update rolled back: {reason}");
        self.report(
            &header_of(journal),
            UpdateEvent::RolledBack,
            Some(reason),
            journal.bytes_downloaded,
        )
        .await
    }

    /// Ends an update that never switched the bootloader.
    async fn fail(&mut self, journal: &mut Journal, reason: String) -> Result<()> {
        journal.phase = Phase::Failed;
        journal.last_event = UpdateEvent::Failure;
        journal.reason = Some(reason.clone());
        self.state.save_journal(journal)?;
        self.report(
            &header_of(journal),
            UpdateEvent::Failure,
            Some(reason),
            journal.bytes_downloaded,
        )
        .await
    }
}
