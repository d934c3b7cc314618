//! The spool: a delta is downloaded whole into a file under `[payload] spool_dir`, its
//! signed length and hashes checked, before a byte of it is applied. The file is the
//! download's durable progress: after a power cut its bytes are hashed again and the
//! download continues after them (a tail damaged by the cut fails the hash, and the
//! download starts once more from zero). Spool files exist only while an update is
//! installing; [`clear`] removes them when it ends, whichever way.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use update_core::hash::STREAM_BUFFER;

use crate::crash::{self, Point};
use crate::error::{Error, Result};
use crate::state::Journal;
use crate::tuf::{Kept, TargetSink};

/// Names of spool files start with this, so [`clear`] removes nothing else.
const PREFIX: &str = "ota-delta-";

/// The spool file of the delta whose signed sha256 is `sha256` (hex: a safe file name).
pub fn path(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(format!("{PREFIX}{}", sha256.to_ascii_lowercase()))
}

/// Removes every spool file in `dir` (a missing directory is nothing to remove).
pub fn clear(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("listing {}", dir.display()))(e)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::io(format!("listing {}", dir.display())))?;
        if entry.file_name().to_string_lossy().starts_with(PREFIX) {
            let path = entry.path();
            std::fs::remove_file(&path)
                .map_err(Error::io(format!("removing {}", path.display())))?;
        }
    }
    Ok(())
}

/// A spool file as a download's destination.
pub struct SpoolSink<'a> {
    path: PathBuf,
    out: BufWriter<File>,
    /// The target's signed length: a longer file is not a prefix of it.
    limit: u64,
    validator: Option<String>,
    journal: &'a mut Journal,
}

impl<'a> SpoolSink<'a> {
    /// Opens (creating `dir` and the file if needed) the spool file at `path` for a
    /// target of at most `limit` bytes, keeping what it holds for [`TargetSink::resume`].
    pub fn open(path: &Path, limit: u64, journal: &'a mut Journal) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(Error::io(format!(
                "creating spool directory {}",
                dir.display()
            )))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(Error::io(format!("opening spool file {}", path.display())))?;
        Ok(SpoolSink {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(STREAM_BUFFER, file),
            limit,
            validator: None,
            journal,
        })
    }

    /// Flushes the spooled download to the disk.
    pub fn finish(self) -> Result<()> {
        let context = format!("syncing spool file {}", self.path.display());
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(context.clone())(e.into_error()))?;
        file.sync_all().map_err(Error::io(context))
    }

    /// What an I/O error on the spool file was doing.
    fn doing(&self, what: &str) -> String {
        format!("{what} spool file {}", self.path.display())
    }
}

impl TargetSink for SpoolSink<'_> {
    fn resume(&mut self, hash: &mut dyn FnMut(&[u8])) -> Result<Kept> {
        let length = self
            .out
            .get_ref()
            .metadata()
            .map_err(Error::io(self.doing("reading")))?
            .len();
        if length == 0 || length > self.limit {
            self.restart()?;
            return Ok(Kept::Nothing);
        }
        let reading = Error::io(self.doing("reading"));
        let file = self.out.get_mut();
        file.seek(SeekFrom::Start(0))
            .map_err(Error::io("rewinding the spool file"))?;
        let mut buffer = vec![0u8; STREAM_BUFFER];
        let mut kept = (&*file).take(length);
        loop {
            match kept.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => hash(&buffer[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(reading(e)),
            }
        }
        file.seek(SeekFrom::Start(length))
            .map_err(Error::io("seeking in the spool file"))?;
        Ok(Kept::Hashed(length))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(Error::io(self.doing("writing")))?;
        self.journal.bytes_downloaded = self
            .journal
            .bytes_downloaded
            .saturating_add(bytes.len() as u64);
        crash::point(Point::DeltaChunkSpooled);
        Ok(())
    }

    fn restart(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(Error::io(self.doing("flushing")))?;
        let truncating = Error::io(self.doing("truncating"));
        let file = self.out.get_mut();
        file.set_len(0).map_err(truncating)?;
        file.seek(SeekFrom::Start(0))
            .map_err(Error::io("rewinding the spool file"))?;
        Ok(())
    }

    fn validator(&self) -> Option<&str> {
        self.validator.as_deref()
    }

    fn set_validator(&mut self, validator: Option<&str>) {
        self.validator = validator.map(str::to_string);
    }
}
