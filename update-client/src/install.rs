//! Writing a verified release into the inactive slot, resumably.
//!
//! The download streams straight into the slot through a 64 KiB buffer while it is
//! hashed; the image is never held in memory. Every [`checkpoint_interval`] bytes the slot
//! is synced and then the journal records the synced prefix (its length and sha256) and
//! the server's validator, so an interrupted install — a dropped connection, a power cut
//! — continues from there: the prefix is read back and hashed (it must still match), and
//! the rest comes with an HTTP Range request. A wrong length or hash stops the install
//! and leaves the slot dirty but the device untouched (the bootloader still points at the
//! running slot). A good download is flushed to the device and read back once more
//! before the caller may switch anything.

use tracing::{info, warn};
use update_core::api::Slot;
use update_core::firmware::Firmware;
use update_core::hash::STREAM_BUFFER;
use update_core::schema::TargetFile;
use update_core::trust::TrustedMetadata;

use crate::crash::{self, Point};
use crate::error::{Error, Result};
use crate::slots::{SlotWriter, Slots};
use crate::state::{Journal, StateDir, WrittenPrefix};
use crate::tuf::{TargetSink, Updater};

/// Most bytes written between two durable checkpoints.
const MAX_CHECKPOINT_INTERVAL: u64 = 4 << 20;

/// Bytes between checkpoints for an image of `length` bytes: an eighth of it, at least
/// one read buffer and at most 4 MiB. A power cut costs at most that much download again.
pub fn checkpoint_interval(length: u64) -> u64 {
    (length / 8).clamp(STREAM_BUFFER as u64, MAX_CHECKPOINT_INTERVAL)
}

/// One install: which verified target goes into which slot.
pub struct Install<'a> {
    pub updater: &'a Updater,
    pub trusted: &'a TrustedMetadata,
    pub target_name: &'a str,
    pub target: &'a TargetFile,
    pub firmware: &'a Firmware,
    pub slots: &'a Slots,
    pub to_slot: Slot,
    pub booted: Slot,
    /// Where `journal` is saved at each checkpoint.
    pub state: &'a StateDir,
}

impl Install<'_> {
    /// Downloads, writes and verifies, continuing after `journal.written` if the slot
    /// still holds it. The journal counts the bytes downloaded, also when the install
    /// fails; after a network error it records how far the slot is written, so the next
    /// attempt resumes.
    pub async fn run(&self, journal: &mut Journal) -> Result<()> {
        let url = self
            .updater
            .target_url(self.trusted, self.target_name, self.target)?;
        let image = &self.firmware.image;
        let writer = if journal.written.is_some() {
            self.slots
                .open_for_resume(self.to_slot, self.booted, image.length)?
        } else {
            self.slots
                .open_for_install(self.to_slot, self.booted, image.length)?
        };
        let interval = checkpoint_interval(image.length);
        let mut sink = SlotSink {
            writer,
            journal,
            state: self.state,
            image_length: image.length,
            interval,
            next_checkpoint: interval,
        };
        let downloaded = self
            .updater
            .download_resumable(&url, self.target_name, self.target, &mut sink)
            .await;
        if let Err(e) = downloaded {
            if e.is_transient() {
                if let Err(checkpoint) = sink.checkpoint() {
                    warn!("could not record the download's progress: {checkpoint}");
                }
            }
            return Err(e);
        }
        let SlotSink { writer, .. } = sink;
        let (written, sha256) = writer.finish()?;
        crash::point(Point::AfterSlotSync);
        if written != image.length || !sha256.eq_ignore_ascii_case(&image.sha256) {
            return Err(Error::TargetMismatch {
                what: self.target_name.to_string(),
                reason: "written image differs from the signed firmware image".into(),
            });
        }
        self.slots
            .verify(self.to_slot, image.length, &image.sha256)?;
        crash::point(Point::AfterSlotReadBack);
        Ok(())
    }
}

/// The slot being written, as a download's destination, journaling its progress.
struct SlotSink<'a> {
    writer: SlotWriter,
    journal: &'a mut Journal,
    state: &'a StateDir,
    image_length: u64,
    interval: u64,
    next_checkpoint: u64,
}

impl SlotSink<'_> {
    /// Syncs the slot, then records the synced prefix: a power cut in between only
    /// loses progress.
    fn checkpoint(&mut self) -> Result<()> {
        let (length, sha256) = self.writer.sync()?;
        crash::point(Point::AfterSlotCheckpointSync);
        self.journal.written = Some(WrittenPrefix { length, sha256 });
        self.state.save_journal(self.journal)?;
        crash::point(Point::AfterJournalProgress);
        self.next_checkpoint = length.saturating_add(self.interval);
        Ok(())
    }
}

impl TargetSink for SlotSink<'_> {
    fn resume(&mut self, hash: &mut dyn FnMut(&[u8])) -> Result<u64> {
        let Some(prefix) = self.journal.written.clone() else {
            return Ok(0);
        };
        let kept = prefix.length <= self.image_length
            && self
                .writer
                .resume_after(prefix.length, &prefix.sha256, hash)?;
        if !kept {
            warn!(
                written = prefix.length,
                "the slot no longer holds the journaled prefix: downloading from the start"
            );
            self.restart()?;
            return Ok(0);
        }
        info!(written = prefix.length, "resuming the download");
        self.next_checkpoint = prefix.length.saturating_add(self.interval);
        Ok(prefix.length)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer.write(bytes)?;
        self.journal.bytes_downloaded = self
            .journal
            .bytes_downloaded
            .saturating_add(bytes.len() as u64);
        crash::point(Point::SlotChunkWritten);
        let position = self.writer.position();
        if position >= self.next_checkpoint && position < self.image_length {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// The journal keeps its last prefix until the next checkpoint: a cut before then
    /// finds the slot no longer matching it, and starts over too.
    fn restart(&mut self) -> Result<()> {
        self.writer.restart()?;
        self.journal.written = None;
        self.next_checkpoint = self.interval;
        Ok(())
    }

    fn validator(&self) -> Option<&str> {
        self.journal.validator.as_deref()
    }

    fn set_validator(&mut self, validator: Option<&str>) {
        self.journal.validator = validator.map(str::to_string);
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
