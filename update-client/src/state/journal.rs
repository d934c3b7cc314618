//! `journal.json`: the install journal, one update at a time, with explicit phases.
//!
//! Order of operations, and what a power cut (or SIGKILL) after each step leaves. The
//! bootloader's primary slot only ever points at the new slot while a bounded trial is
//! armed, so at every instant a committed, bootable slot is selected or will be fallen
//! back to by the bootloader itself. A report that goes with a phase is queued in the
//! outbox *before* the phase is written, so a cut in between sends it again rather than
//! never (docs/client.md, "Update sequence and power cuts", has the crash points).
//!
//! | step | journal | effect of a cut right after it |
//! | --- | --- | --- |
//! | 1 write `Installing` (report `downloading`) | Installing | old slot runs; the next start resumes the download if the release is still assigned, else reports `failure` |
//! | 2 clear the target slot in `slots.json`, stream image into it; every few MiB sync the slot, then journal the synced prefix (`written`) and the server's validator | Installing | as 1: the resumed download re-reads and hashes `written`, then continues from there with HTTP Range |
//! | 2 (zstd form) as 2, decompressing; checkpoints only at frame ends, also journaling the compressed offset (`zstd_offset`) | Installing | as 1: the slot prefix is re-read and hashed, the download continues at `zstd_offset` |
//! | 2 (delta form) download the delta into the spool file, check its header, apply it into the slot (no checkpoints) | Installing | as 1: the spooled bytes are re-hashed and the download continues after them; the apply starts again from byte 0 |
//! | 2' a form fails: journal the next form (`payload`, progress cleared) and install it | Installing | as 1, with the form the journal names |
//! | 3 sync, read back, record the slot in `slots.json`, write `Switching` | Switching | next start on the old slot re-verifies the slot and redoes 4 |
//! | 4 bootloader: try new slot | Switching | power-on boots the new slot: treated as `Installed` |
//! | 5 write `Installed` (report `installed`), run reboot | Installed | old slot + primary new: reboot again; new slot: trial |
//! | 6 (new slot) write `Trial` (report `booted-new` once), health check | Trial | power-on falls back once the boot limit is used: `rolled-back` |
//! | 7 healthy: write `Committing`, bootloader mark good, write `Committed` (report `success`) | Committing | new slot: finish the commit; old slot: fell back, `rolled-back` |
//! | 7' unhealthy: write `RollingBack`, bootloader back to old slot, reboot | RollingBack | new slot: redo the roll-back; old slot: report `rolled-back` |
//! | 8 (old slot) remember the release as failed, write `RolledBack` (report `rolled-back`) | RolledBack | nothing left to do |
//!
//! [`plan_recovery`] is that table's right-hand column as code.

use serde::{Deserialize, Serialize};
use update_core::api::{Payload, PendingUpdate, Slot, UpdateEvent};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Writing the image into the inactive slot.
    Installing,
    /// Image verified in the slot and recorded; the server holds the switch (maintenance
    /// window, install cap). The bootloader was not touched.
    Staged,
    /// Image verified in the slot; arming the bootloader's trial.
    Switching,
    /// Trial armed; waiting for the reboot into the new slot.
    Installed,
    /// Booted the new slot on trial; health check under way.
    Trial,
    /// Health check passed; committing the new slot in the bootloader.
    Committing,
    /// Terminal: the new slot is committed.
    Committed,
    /// Health check failed; switching the bootloader back and rebooting.
    RollingBack,
    /// Terminal: back on the old slot after a failed trial.
    RolledBack,
    /// Terminal: the update stopped before the bootloader was switched.
    Failed,
}

impl Phase {
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Committed | Phase::RolledBack | Phase::Failed)
    }
}

/// One update, from the decision to install to its terminal phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub target_name: String,
    pub version: semver::Version,
    pub from_version: semver::Version,
    pub from_slot: Slot,
    pub to_slot: Slot,
    /// Signed sha256 of the release's raw target (names the release in `failed.json`),
    /// whichever form of it is downloaded.
    pub target_sha256: String,
    /// Signed length and sha256 of the image written to `to_slot`.
    pub image_length: u64,
    pub image_sha256: String,
    pub phase: Phase,
    /// The last event reported (or queued) for this update.
    pub last_event: UpdateEvent,
    /// Bytes received from the network for this update, over every attempt.
    pub bytes_downloaded: u64,
    /// Why the update failed or is rolling back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// While `installing`: the prefix of `to_slot` already written and synced, where a
    /// resumed download continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<WrittenPrefix>,
    /// While `installing`: the validator (ETag, else Last-Modified) of the server's copy
    /// the written prefix came from, sent back as `If-Range`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator: Option<String>,
    /// The form being installed (delta, zstd or raw) and why; every report of the update
    /// carries it. A fallback replaces it (and the progress above) before its download.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
    /// While installing the zstd form: the offset in the compressed target of the frame
    /// end that `written` ends at, where a resumed download continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zstd_offset: Option<u64>,
}

/// The first `length` bytes of a slot, synced to it, whose sha256 is `sha256`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenPrefix {
    pub length: u64,
    pub sha256: String,
}

impl Journal {
    /// Forgets how far the current form's download got: the next one starts at byte 0.
    pub fn clear_progress(&mut self) {
        self.written = None;
        self.validator = None;
        self.zstd_offset = None;
    }

    /// What a check-in tells the server about an update still in progress.
    pub fn pending_update(&self) -> Option<PendingUpdate> {
        (!self.phase.is_terminal()).then(|| PendingUpdate {
            target_name: self.target_name.clone(),
            version: self.version.clone(),
            last_event: self.last_event,
        })
    }
}

/// What the agent must do at start for a journal left by an earlier run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// Terminal journal: nothing.
    Nothing,
    /// Interrupted while writing the new slot: resume the download when the server
    /// still assigns the release (else report failure and forget the attempt).
    ResumeInstall,
    /// A verified image waits in the new slot for the server to lift its hold: nothing
    /// until the next check-in.
    AwaitHold,
    /// Interrupted before the switch but running the slot being written (which the
    /// agent never arms before it is complete): report failure, forget the attempt.
    DiscardInstall,
    /// Interrupted while arming the trial: verify the slot again and arm it.
    ResumeSwitch,
    /// Trial armed but the old slot still runs and the bootloader still points at the
    /// new one: the reboot did not happen yet.
    Reboot,
    /// Running the new slot on trial: report `booted-new` (once) and run the health check.
    StartTrial,
    /// Healthy, commit interrupted: commit again.
    FinishCommit,
    /// Roll-back interrupted before its reboot: switch back and reboot again.
    RedoRollBack,
    /// Running the old slot after the health check failed: report `rolled-back`.
    FinishRollBack,
    /// The bootloader fell back to the old slot by itself (the new slot did not commit
    /// within the boot limit): report `rolled-back`.
    BootloaderFellBack,
}

/// Decides the recovery for `journal` from which slot booted and which the bootloader
/// will boot next.
pub fn plan_recovery(journal: &Journal, booted: Slot, primary: Slot) -> Recovery {
    let on_new = booted == journal.to_slot;
    match journal.phase {
        Phase::Committed | Phase::RolledBack | Phase::Failed => Recovery::Nothing,
        Phase::Installing | Phase::Staged if on_new => Recovery::DiscardInstall,
        Phase::Staged => Recovery::AwaitHold,
        Phase::Installing => Recovery::ResumeInstall,
        Phase::Switching if on_new => Recovery::StartTrial,
        Phase::Switching => Recovery::ResumeSwitch,
        Phase::Installed | Phase::Trial if on_new => Recovery::StartTrial,
        Phase::Installed if primary == journal.to_slot => Recovery::Reboot,
        Phase::Installed | Phase::Trial => Recovery::BootloaderFellBack,
        Phase::Committing if on_new => Recovery::FinishCommit,
        Phase::Committing => Recovery::BootloaderFellBack,
        Phase::RollingBack if on_new => Recovery::RedoRollBack,
        Phase::RollingBack => Recovery::FinishRollBack,
    }
}

#[cfg(test)]
mod tests;
