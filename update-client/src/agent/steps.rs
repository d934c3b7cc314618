//! The agent's durable steps, each followed by its crash point: journal transitions with
//! the report that goes with them (carrying the journal's payload), bootloader changes,
//! and the reboot command.

use std::time::Duration;

use tracing::{info, warn};
use update_core::api::{Report, Slot, UpdateEvent};

use super::Agent;
use crate::command::{self, Outcome};
use crate::crash::{self, Point};
use crate::error::{Error, Result};
use crate::state::{Journal, Phase};

/// Longest a reboot command may take before it counts as failed.
const REBOOT_COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

impl Agent {
    /// Moves `journal` to `phase`. The report of `event`, if any, is queued before the
    /// journal is written: a power cut in between repeats the step, and the report, on
    /// the next start (delivered twice at worst, never lost).
    pub(super) async fn advance(
        &self,
        journal: &mut Journal,
        phase: Phase,
        event: Option<UpdateEvent>,
    ) -> Result<()> {
        journal.phase = phase;
        if phase != Phase::Installing {
            // Download progress means nothing once the slot is complete or given up.
            journal.clear_progress();
        }
        if let Some(event) = event {
            journal.last_event = event;
            self.reporter.queue(self.report_of(journal, event))?;
        }
        self.state.save_journal(journal)?;
        if let Some(point) = journal_point(phase) {
            crash::point(point);
        }
        if phase != Phase::Installing {
            self.clear_spool();
        }
        if event.is_some() {
            self.reporter.flush().await?;
        }
        Ok(())
    }

    /// Ends an update that never switched the bootloader, and says why.
    pub(super) async fn fail(&self, journal: &mut Journal, reason: String) -> Result<()> {
        journal.reason = Some(reason);
        self.advance(journal, Phase::Failed, Some(UpdateEvent::Failure))
            .await
    }

    /// The report of `event` for the update `journal` describes.
    fn report_of(&self, journal: &Journal, event: UpdateEvent) -> Report {
        let explained = matches!(event, UpdateEvent::Failure | UpdateEvent::RolledBack);
        Report {
            device_id: self.config.device.id.clone(),
            target_name: journal.target_name.clone(),
            version: journal.version.clone(),
            from_version: journal.from_version.clone(),
            event,
            reason: journal.reason.clone().filter(|_| explained),
            bytes_downloaded: journal.bytes_downloaded,
            payload: journal.payload.clone(),
        }
    }

    /// Removes spooled deltas: they exist only while an update is installing. A failure
    /// here costs disk space, not correctness, so it is only logged.
    pub(super) fn clear_spool(&self) {
        if let Err(e) = crate::install::spool::clear(&self.config.payload.spool_dir) {
            warn!("could not remove spooled deltas: {e}");
        }
    }

    pub(super) fn try_slot(&mut self, slot: Slot) -> Result<()> {
        crash::point(Point::BeforeTrySlot);
        self.bootloader.try_slot_once(slot)?;
        crash::point(Point::AfterTrySlot);
        Ok(())
    }

    pub(super) fn mark_good(&mut self) -> Result<()> {
        crash::point(Point::BeforeMarkGood);
        self.bootloader.mark_good()?;
        crash::point(Point::AfterMarkGood);
        Ok(())
    }

    pub(super) fn roll_back_to(&mut self, slot: Slot) -> Result<()> {
        crash::point(Point::BeforeRollBack);
        self.bootloader.roll_back_to(slot)?;
        crash::point(Point::AfterRollBack);
        Ok(())
    }

    /// Runs the configured reboot command. On a real device it does not come back.
    pub(super) async fn reboot(&self) -> Result<()> {
        info!("rebooting");
        crash::point(Point::BeforeRebootCommand);
        let failed = |reason: String| Error::Command {
            what: "reboot".into(),
            reason,
        };
        let argv = &self.config.reboot.command;
        match command::run(argv, &self.config.base_dir, &[], REBOOT_COMMAND_TIMEOUT).await {
            Ok(Outcome::Exited { status, .. }) if status.success() => {
                crash::point(Point::AfterRebootCommand);
                Ok(())
            }
            Ok(Outcome::Exited {
                status,
                stderr_tail,
            }) => Err(failed(format!("{status}: {stderr_tail}"))),
            Ok(Outcome::TimedOut { .. }) => Err(failed("timed out".into())),
            Err(e) => Err(failed(e.to_string())),
        }
    }
}

/// The crash point right after the journal enters `phase`. `staged` has none: a cut
/// there leaves what a device that stops while held leaves, a state the hold tests
/// restart from.
fn journal_point(phase: Phase) -> Option<Point> {
    let point = match phase {
        Phase::Staged => return None,
        Phase::Installing => Point::AfterJournalInstalling,
        Phase::Switching => Point::AfterJournalSwitching,
        Phase::Installed => Point::AfterJournalInstalled,
        Phase::Trial => Point::AfterJournalTrial,
        Phase::Committing => Point::AfterJournalCommitting,
        Phase::Committed => Point::AfterJournalCommitted,
        Phase::RollingBack => Point::AfterJournalRollingBack,
        Phase::RolledBack => Point::AfterJournalRolledBack,
        Phase::Failed => Point::AfterJournalFailed,
    };
    Some(point)
}
