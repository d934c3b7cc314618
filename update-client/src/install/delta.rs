//! The delta form: the delta is downloaded whole into the spool ([`super::spool`]) and
//! verified there (signed length and hashes) before a byte of it is used. Its header
//! must then name exactly the signed base (the running image) and result (the release's
//! image). The apply runs on a blocking thread: the running slot is the base, opened
//! read-only and read at random offsets; the inactive slot is written sequentially; the
//! delta is read as one stream; memory stays within `[payload] delta_memory`.
//!
//! There are no checkpoints during the apply: after a power cut the spooled delta is
//! hashed again (local, no download) and the apply starts again from byte 0, which
//! costs local I/O only. The spool file is removed once the slot is verified, and when
//! the delta fails (the caller then falls back to a full image).

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::Path;

use tracing::warn;
use update_core::firmware::DeltaBase;
use update_core::hash::STREAM_BUFFER;
use update_delta::{ApplyError, Header, Limits};

use super::Install;
use super::spool::{self, SpoolSink};
use crate::crash::{self, Point};
use crate::error::{Error, Result};
use crate::payload::Form;
use crate::slots::SlotWriter;
use crate::state::Journal;
use crate::tuf::signed_sha256;

impl Install<'_> {
    pub(super) async fn delta(&self, form: &Form, journal: &mut Journal) -> Result<()> {
        let sha256 = signed_sha256(&form.target_name, &form.target)?;
        let spooled = spool::path(&self.payload.spool_dir, sha256);
        let installed = self.spool_and_apply(form, &spooled, journal).await;
        let keep_spool = matches!(&installed, Err(e) if e.is_interruption());
        if !keep_spool {
            if let Err(e) = std::fs::remove_file(&spooled) {
                if e.kind() != io::ErrorKind::NotFound {
                    warn!(
                        "could not remove the spooled delta {}: {e}",
                        spooled.display()
                    );
                }
            }
        }
        installed
    }

    async fn spool_and_apply(
        &self,
        form: &Form,
        spooled: &Path,
        journal: &mut Journal,
    ) -> Result<()> {
        let url = self
            .updater
            .target_url(self.trusted, &form.target_name, &form.target)?;
        let mut sink = SpoolSink::open(spooled, form.target.length, journal)?;
        self.updater
            .download_resumable(&url, &form.target_name, &form.target, &mut sink)
            .await?;
        sink.finish()?;
        crash::point(Point::AfterDeltaSpooled);

        let refused = |source: ApplyError| Error::Delta {
            target: form.target_name.clone(),
            source,
        };
        let base =
            form.firmware.base.as_ref().ok_or_else(|| {
                refused(ApplyError::Corrupt("the signed delta names no base".into()))
            })?;
        let mut delta = open(spooled, "spooled delta")?;
        let header = Header::read_from(&mut delta).map_err(refused)?;
        self.check_header(&header, base).map_err(refused)?;

        let writer = self.open_slot(false)?;
        let running = open(self.slots.path(self.booted), "running slot")?;
        let limits = Limits {
            max_memory: self.payload.delta_memory,
            result_length: self.image.length,
        };
        let delta = open(spooled, "spooled delta")?;
        let (writer, applied) =
            tokio::task::spawn_blocking(move || apply(&running, delta, writer, &limits))
                .await
                .map_err(|e| Error::io("applying the delta")(io::Error::other(e)))?;
        applied.map_err(refused)?;
        crash::point(Point::AfterDeltaApplied);
        self.seal(writer, &form.target_name)
    }

    /// The header must describe the signed base and the signed result exactly.
    fn check_header(&self, header: &Header, base: &DeltaBase) -> Result<(), ApplyError> {
        if header.base_length != base.length
            || !header.base_sha256_hex().eq_ignore_ascii_case(&base.sha256)
        {
            return Err(ApplyError::BaseMismatch(format!(
                "the header names a {}-byte base with sha256 {}, the signed base is {} bytes with sha256 {}",
                header.base_length,
                header.base_sha256_hex(),
                base.length,
                base.sha256
            )));
        }
        if header.result_length != self.image.length
            || !header
                .result_sha256_hex()
                .eq_ignore_ascii_case(&self.image.sha256)
        {
            return Err(ApplyError::ResultMismatch(format!(
                "the header makes {} bytes with sha256 {}, the signed image is {} bytes with sha256 {}",
                header.result_length,
                header.result_sha256_hex(),
                self.image.length,
                self.image.sha256
            )));
        }
        Ok(())
    }
}

/// Runs the apply (blocking): base by random reads, delta and slot as streams. The
/// writer comes back whatever happened; only an `Ok` result may be sealed.
fn apply(
    running: &File,
    delta: File,
    writer: SlotWriter,
    limits: &Limits,
) -> (SlotWriter, Result<(), ApplyError>) {
    let mut delta = BufReader::with_capacity(STREAM_BUFFER, delta);
    let mut out = SlotOutput { writer };
    let applied = update_delta::apply(running, &mut delta, &mut out, limits).map(|_| ());
    (out.writer, applied)
}

/// The slot as the apply's `Write`.
struct SlotOutput {
    writer: SlotWriter,
}

impl Write for SlotOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer
            .write(buf)
            .map_err(|e| io::Error::other(e.to_string()))?;
        crash::point(Point::DeltaApplyChunkWritten);
        Ok(buf.len())
    }

    /// Nothing to do: [`Install::seal`] flushes and syncs the slot once the apply is done.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn open(path: &Path, what: &str) -> Result<File> {
    File::open(path).map_err(Error::io(format!("opening the {what} {}", path.display())))
}
