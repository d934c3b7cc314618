//! The zstd form: independent zstd frames, each decompressing to at most
//! `ZSTD_FRAME_MAX` of image, decoded into the slot as they stream (the compressed target
//! is hashed on the way, as any download). The decoder's window is capped at that frame
//! size, so a hostile frame cannot make it allocate more.
//!
//! Checkpoints come only at frame ends, where the decoder holds no state: the slot is
//! synced, then the journal records the synced prefix and the compressed offset of the
//! frame end (`zstd_offset`). After a power cut the prefix is read back and hashed, and
//! the download continues at that offset with a fresh decoder. The compressed bytes
//! before it are gone, so that download cannot check the target's own hashes
//! ([`Kept::Consumed`]); the slot's sha256 against the signed image decides instead, and
//! a mismatch then starts the download once more from byte 0, fully checked.

use tracing::{info, warn};
use update_core::firmware::ZSTD_FRAME_MAX;
use update_core::hash::STREAM_BUFFER;
use zstd::stream::raw::{DParameter, Decoder, InBuffer, Operation, OutBuffer};

use super::{Install, checkpoint_interval};
use crate::crash::{self, Point};
use crate::error::{Error, Result};
use crate::payload::Form;
use crate::slots::SlotWriter;
use crate::state::{Journal, StateDir, WrittenPrefix};
use crate::tuf::{Kept, TargetSink};

/// log2 of the largest window a frame may ask for: `ZSTD_FRAME_MAX` (4 MiB).
const WINDOW_LOG_MAX: u32 = ZSTD_FRAME_MAX.trailing_zeros();

impl Install<'_> {
    pub(super) async fn zstd(&self, form: &Form, journal: &mut Journal) -> Result<()> {
        let url = self
            .updater
            .target_url(self.trusted, &form.target_name, &form.target)?;
        let mut started_over = false;
        loop {
            let writer = self.open_slot(journal.written.is_some())?;
            let mut sink = ZstdSink::new(writer, journal, self.state, self.image.length)?;
            let downloaded = self
                .updater
                .download_resumable(&url, &form.target_name, &form.target, &mut sink)
                .await;
            let resumed = sink.resumed;
            let installed = match downloaded {
                Ok(()) => sink
                    .finish(&form.target_name)
                    .and_then(|writer| self.seal(writer, &form.target_name)),
                Err(e) => {
                    if e.is_transient() && sink.at_frame_end {
                        if let Err(checkpoint) = sink.checkpoint() {
                            warn!("could not record the download's progress: {checkpoint}");
                        }
                    }
                    Err(e)
                }
            };
            match installed {
                Err(e @ Error::TargetMismatch { .. }) if resumed && !started_over => {
                    warn!(
                        "the resumed zstd download does not make the signed image ({e}): downloading it again from the start"
                    );
                    started_over = true;
                    journal.clear_progress();
                }
                installed => return installed,
            }
        }
    }
}

/// The slot being written through a zstd decoder, journaling progress at frame ends.
struct ZstdSink<'a> {
    writer: SlotWriter,
    decoder: Decoder<'static>,
    output: Vec<u8>,
    journal: &'a mut Journal,
    state: &'a StateDir,
    image_length: u64,
    interval: u64,
    next_checkpoint: u64,
    /// Compressed bytes consumed: the position in the target.
    consumed: u64,
    /// The decoder is between frames (nothing of a frame is held).
    at_frame_end: bool,
    /// The download continued after a journaled frame end.
    resumed: bool,
}

impl<'a> ZstdSink<'a> {
    fn new(
        writer: SlotWriter,
        journal: &'a mut Journal,
        state: &'a StateDir,
        image_length: u64,
    ) -> Result<Self> {
        let interval = checkpoint_interval(image_length);
        Ok(ZstdSink {
            writer,
            decoder: new_decoder()?,
            output: vec![0; STREAM_BUFFER],
            journal,
            state,
            image_length,
            interval,
            next_checkpoint: interval,
            consumed: 0,
            at_frame_end: true,
            resumed: false,
        })
    }

    /// Syncs the slot, then records the synced prefix and the frame end it stops at.
    fn checkpoint(&mut self) -> Result<()> {
        let (length, sha256) = self.writer.sync()?;
        crash::point(Point::AfterZstdCheckpointSync);
        self.journal.written = Some(WrittenPrefix { length, sha256 });
        self.journal.zstd_offset = Some(self.consumed);
        self.state.save_journal(self.journal)?;
        crash::point(Point::AfterJournalZstdProgress);
        self.next_checkpoint = length.saturating_add(self.interval);
        Ok(())
    }

    /// The slot, once the whole target went through; it must end at a frame end.
    fn finish(self, what: &str) -> Result<SlotWriter> {
        if !self.at_frame_end {
            return Err(corrupt(what, "the compressed image ends inside a frame"));
        }
        Ok(self.writer)
    }

    /// Decodes `input` into the slot, checkpointing at frame ends that are due.
    fn decode(&mut self, bytes: &[u8]) -> Result<()> {
        let mut input = InBuffer::around(bytes);
        let mut output = std::mem::take(&mut self.output);
        let decoded = loop {
            let before = input.pos();
            let mut out = OutBuffer::around(&mut output[..]);
            let hint = match self.decoder.run(&mut input, &mut out) {
                Ok(hint) => hint,
                Err(e) => break Err(corrupt("the compressed image", &e.to_string())),
            };
            let produced = out.pos();
            let progressed = produced > 0 || input.pos() > before;
            self.consumed += (input.pos() - before) as u64;
            if let Err(e) = self.put(&output[..produced]) {
                break Err(e);
            }
            // A call that did nothing (flushing an output that was exactly full) says
            // nothing about frames: after a frame end its hint is the next header's size.
            if progressed {
                self.at_frame_end = hint == 0;
                if self.at_frame_end && self.checkpoint_due() {
                    if let Err(e) = self.checkpoint() {
                        break Err(e);
                    }
                }
            }
            if input.pos() == bytes.len() && produced < output.len() {
                break Ok(());
            }
            if !progressed {
                break Err(corrupt(
                    "the compressed image",
                    "the decoder made no progress",
                ));
            }
        };
        self.output = output;
        decoded
    }

    fn checkpoint_due(&self) -> bool {
        let position = self.writer.position();
        position >= self.next_checkpoint && position < self.image_length
    }

    /// Writes decoded bytes, never past the signed image length.
    fn put(&mut self, decoded: &[u8]) -> Result<()> {
        if decoded.is_empty() {
            return Ok(());
        }
        let end = self.writer.position().saturating_add(decoded.len() as u64);
        if end > self.image_length {
            return Err(corrupt(
                "the compressed image",
                "it decompresses to more than the signed image length",
            ));
        }
        self.writer.write(decoded)?;
        crash::point(Point::ZstdChunkWritten);
        Ok(())
    }
}

impl TargetSink for ZstdSink<'_> {
    fn resume(&mut self, _hash: &mut dyn FnMut(&[u8])) -> Result<Kept> {
        let (Some(prefix), Some(offset)) = (self.journal.written.clone(), self.journal.zstd_offset)
        else {
            self.restart()?;
            return Ok(Kept::Nothing);
        };
        let kept = prefix.length <= self.image_length
            && self
                .writer
                .resume_after(prefix.length, &prefix.sha256, &mut |_| {})?;
        if !kept {
            warn!(
                written = prefix.length,
                "the slot no longer holds the journaled prefix: downloading from the start"
            );
            self.restart()?;
            return Ok(Kept::Nothing);
        }
        info!(
            written = prefix.length,
            compressed = offset,
            "resuming the compressed download at a frame end"
        );
        self.consumed = offset;
        self.next_checkpoint = prefix.length.saturating_add(self.interval);
        self.resumed = true;
        Ok(Kept::Consumed(offset))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.journal.bytes_downloaded = self
            .journal
            .bytes_downloaded
            .saturating_add(bytes.len() as u64);
        self.decode(bytes)
    }

    fn restart(&mut self) -> Result<()> {
        self.writer.restart()?;
        self.decoder = new_decoder()?;
        self.journal.written = None;
        self.journal.zstd_offset = None;
        self.consumed = 0;
        self.at_frame_end = true;
        self.resumed = false;
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

fn new_decoder() -> Result<Decoder<'static>> {
    let mut decoder = Decoder::new().map_err(Error::io("setting up the zstd decoder"))?;
    decoder
        .set_parameter(DParameter::WindowLogMax(WINDOW_LOG_MAX))
        .map_err(Error::io("limiting the zstd decoder's window"))?;
    Ok(decoder)
}

fn corrupt(what: &str, reason: &str) -> Error {
    Error::TargetMismatch {
        what: what.to_string(),
        reason: format!("corrupt zstd data: {reason}"),
    }
}

#[cfg(test)]
mod tests;
