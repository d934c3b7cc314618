//! The raw form: the download streams straight into the slot through a 64 KiB buffer
//! while it is hashed; the image is never held in memory. Every
//! [`checkpoint_interval`](super::checkpoint_interval) bytes the slot is synced and then
//! the journal records the synced prefix (its length and sha256) and the server's
//! validator, so an interrupted install — a dropped connection, a power cut — continues
//! from there: the prefix is read back and hashed (it must still match), and the rest
//! comes with an HTTP Range request. A wrong length or hash stops the install.

use tracing::{info, warn};

use super::{Install, checkpoint_interval};
use crate::crash::{self, Point};
use crate::error::Result;
use crate::payload::Form;
use crate::slots::SlotWriter;
use crate::state::{Journal, StateDir, WrittenPrefix};
use crate::tuf::{Kept, TargetSink};

impl Install<'_> {
    /// Downloads the raw image into the slot, continuing after `journal.written` if the
    /// slot still holds it.
    pub(super) async fn raw(&self, form: &Form, journal: &mut Journal) -> Result<()> {
        let url = self
            .updater
            .target_url(self.trusted, &form.target_name, &form.target)?;
        let writer = self.open_slot(journal.written.is_some())?;
        let interval = checkpoint_interval(self.image.length);
        let mut sink = SlotSink {
            writer,
            journal,
            state: self.state,
            image_length: self.image.length,
            interval,
            next_checkpoint: interval,
        };
        let downloaded = self
            .updater
            .download_resumable(&url, &form.target_name, &form.target, &mut sink)
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
        self.seal(writer, &form.target_name)
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
    fn resume(&mut self, hash: &mut dyn FnMut(&[u8])) -> Result<Kept> {
        let Some(prefix) = self.journal.written.clone() else {
            return Ok(Kept::Nothing);
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
            return Ok(Kept::Nothing);
        }
        info!(written = prefix.length, "resuming the download");
        self.next_checkpoint = prefix.length.saturating_add(self.interval);
        Ok(Kept::Hashed(prefix.length))
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
