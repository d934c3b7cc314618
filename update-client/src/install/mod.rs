//! Writing a verified release into the inactive slot, resumably, from whichever signed
//! form was chosen (`crate::payload`):
//!
//! - [`raw`]: the image itself, streamed into the slot with journaled checkpoints;
//! - [`zstd`]: the compressed image, decompressed into the slot as it streams, with
//!   checkpoints at frame ends;
//! - [`delta`]: a delta, downloaded whole into a spool file ([`spool`]) and verified,
//!   then applied with the running slot as its base.
//!
//! Whatever the form, the slot is then flushed, the bytes written are compared with the
//! signed image (length and sha256) and read back once more ([`Install::seal`]) before
//! the caller may switch anything. A failure leaves the slot dirty but the device
//! untouched (the bootloader still points at the running slot).

mod delta;
mod raw;
pub mod spool;
mod zstd;

use update_core::api::{PayloadKind, Slot};
use update_core::firmware::ImageInfo;
use update_core::hash::STREAM_BUFFER;
use update_core::trust::TrustedMetadata;

use crate::config::PayloadConfig;
use crate::crash::{self, Point};
use crate::error::{Error, Result};
use crate::payload::Form;
use crate::slots::{SlotWriter, Slots};
use crate::state::{Journal, StateDir};
use crate::tuf::Updater;

/// Most bytes written between two durable checkpoints.
const MAX_CHECKPOINT_INTERVAL: u64 = 4 << 20;

/// Bytes between checkpoints for an image of `length` bytes: an eighth of it, at least
/// one read buffer and at most 4 MiB. A power cut costs at most that much download again.
pub fn checkpoint_interval(length: u64) -> u64 {
    (length / 8).clamp(STREAM_BUFFER as u64, MAX_CHECKPOINT_INTERVAL)
}

/// One install: which verified release goes into which slot.
pub struct Install<'a> {
    pub updater: &'a Updater,
    pub trusted: &'a TrustedMetadata,
    /// The image every form of the release makes (signed length and sha256).
    pub image: &'a ImageInfo,
    pub slots: &'a Slots,
    pub to_slot: Slot,
    pub booted: Slot,
    /// Where `journal` is saved at each checkpoint.
    pub state: &'a StateDir,
    pub payload: &'a PayloadConfig,
}

impl Install<'_> {
    /// Downloads `form`, writes the slot and verifies it, continuing the progress the
    /// journal records for this form. The journal counts the bytes downloaded, also when
    /// the install fails; after a network error it records how far it got, so the next
    /// attempt resumes.
    pub async fn run(&self, form: &Form, journal: &mut Journal) -> Result<()> {
        match form.kind {
            PayloadKind::Raw => self.raw(form, journal).await,
            PayloadKind::Zstd => self.zstd(form, journal).await,
            PayloadKind::Delta => self.delta(form, journal).await,
        }
    }

    /// Opens the slot to write the image from its start, or keeping what it holds so a
    /// journaled prefix can be resumed.
    fn open_slot(&self, keep: bool) -> Result<SlotWriter> {
        let length = self.image.length;
        if keep {
            self.slots
                .open_for_resume(self.to_slot, self.booted, length)
        } else {
            self.slots
                .open_for_install(self.to_slot, self.booted, length)
        }
    }

    /// Flushes the slot to the device, compares what was written with the signed image,
    /// then reads the slot back and compares again.
    fn seal(&self, writer: SlotWriter, what: &str) -> Result<()> {
        let (written, sha256) = writer.finish()?;
        crash::point(Point::AfterSlotSync);
        if written != self.image.length || !sha256.eq_ignore_ascii_case(&self.image.sha256) {
            return Err(Error::TargetMismatch {
                what: what.to_string(),
                reason: "written image differs from the signed firmware image".into(),
            });
        }
        self.slots
            .verify(self.to_slot, self.image.length, &self.image.sha256)?;
        crash::point(Point::AfterSlotReadBack);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_come_every_eighth_within_bounds() {
        assert_eq!(checkpoint_interval(1000), STREAM_BUFFER as u64);
        assert_eq!(checkpoint_interval(8 << 20), 1 << 20);
        assert_eq!(checkpoint_interval(4 << 30), MAX_CHECKPOINT_INTERVAL);
    }
}
