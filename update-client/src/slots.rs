//! The A/B slot pair: paths to block devices or plain files.
//!
//! Only the inactive slot is ever opened for writing; asking for the booted one is refused
//! here, whatever the caller believed. Block devices are written in place (never
//! truncated or created); a plain-file slot is replaced by the image. A write can resume
//! after a synced prefix once that prefix is read back and matches its recorded hash.
//! After writing, the data is flushed to the device and read back, and only a matching
//! sha256 lets the caller go on to switch the bootloader.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use update_core::api::Slot;
use update_core::hash::{STREAM_BUFFER, StreamHasher, hash_reader, hash_reader_prefix};

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct Slots {
    a: PathBuf,
    b: PathBuf,
}

impl Slots {
    pub fn new(a: &Path, b: &Path) -> Self {
        Slots {
            a: a.to_path_buf(),
            b: b.to_path_buf(),
        }
    }

    pub fn path(&self, slot: Slot) -> &Path {
        match slot {
            Slot::A => &self.a,
            Slot::B => &self.b,
        }
    }

    /// Opens `target` for writing an image of `length` bytes from its start. Refuses the
    /// booted slot, and a block device too small for the image.
    pub fn open_for_install(&self, target: Slot, booted: Slot, length: u64) -> Result<SlotWriter> {
        self.open(target, booted, length, true)
    }

    /// Opens `target` like [`Slots::open_for_install`], keeping what it holds, so that
    /// [`SlotWriter::resume_after`] can continue after a written prefix.
    pub fn open_for_resume(&self, target: Slot, booted: Slot, length: u64) -> Result<SlotWriter> {
        self.open(target, booted, length, false)
    }

    fn open(&self, target: Slot, booted: Slot, length: u64, truncate: bool) -> Result<SlotWriter> {
        if target == booted {
            return Err(slot_error(
                target,
                "is the booted slot; refusing to write it",
            ));
        }
        if same_file(self.path(target), self.path(booted)) {
            return Err(slot_error(target, "is the same file as the booted slot"));
        }
        let path = self.path(target);
        let is_block_device = std::fs::metadata(path)
            .map(|m| m.file_type().is_block_device())
            .unwrap_or(false);
        let opening = Error::io(format!("opening slot {target} ({})", path.display()));
        let mut file = if is_block_device {
            OpenOptions::new().read(true).write(true).open(path)
        } else {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(truncate)
                .open(path)
        }
        .map_err(opening)?;
        if is_block_device {
            let capacity = file
                .seek(SeekFrom::End(0))
                .and_then(|size| file.seek(SeekFrom::Start(0)).map(|_| size))
                .map_err(Error::io(format!("sizing slot {target}")))?;
            if capacity < length {
                return Err(slot_error(
                    target,
                    &format!("holds {capacity} bytes, the image needs {length}"),
                ));
            }
        }
        Ok(SlotWriter {
            slot: target,
            out: BufWriter::with_capacity(STREAM_BUFFER, file),
            hasher: StreamHasher::new(),
            plain_file: !is_block_device,
        })
    }

    /// Length and sha256 of the first `length` bytes of `slot`, or the whole slot.
    pub fn hash(&self, slot: Slot, length: Option<u64>) -> Result<(u64, String)> {
        let path = self.path(slot);
        let file = File::open(path).map_err(Error::io(format!(
            "opening slot {slot} ({})",
            path.display()
        )))?;
        let result = match length {
            Some(length) => hash_reader_prefix(file, length),
            None => hash_reader(file),
        };
        result.map_err(Error::io(format!("reading slot {slot}")))
    }

    /// Reads back the first `length` bytes of `slot` and checks them against `sha256`.
    pub fn verify(&self, slot: Slot, length: u64, sha256: &str) -> Result<()> {
        let (read, actual) = self.hash(slot, Some(length))?;
        if read != length {
            return Err(slot_error(
                slot,
                &format!("holds {read} bytes, expected {length}"),
            ));
        }
        if !actual.eq_ignore_ascii_case(sha256) {
            return Err(slot_error(
                slot,
                "read-back sha256 differs from the image's",
            ));
        }
        Ok(())
    }
}

/// Writes an image into a slot through a 64 KiB buffer, hashing what it writes.
pub struct SlotWriter {
    slot: Slot,
    out: BufWriter<File>,
    hasher: StreamHasher,
    /// A plain file is cut to what was written; a block device keeps its size.
    plain_file: bool,
}

impl SlotWriter {
    /// Bytes of the image written so far (from the slot's start).
    pub fn position(&self) -> u64 {
        self.hasher.length()
    }

    /// Re-reads the slot's first `length` bytes (streaming, 64 KiB at a time), passing
    /// them to `also`. If they hash to `sha256`, writing continues after them and this
    /// returns true; otherwise nothing changes and it returns false (`also` has then seen
    /// bytes that must be forgotten). Call before any write.
    pub fn resume_after(
        &mut self,
        length: u64,
        sha256: &str,
        also: &mut dyn FnMut(&[u8]),
    ) -> Result<bool> {
        let slot = self.slot;
        let reading = || Error::io(format!("reading back slot {slot}"));
        let file = self.out.get_mut();
        file.seek(SeekFrom::Start(0)).map_err(reading())?;
        let mut hasher = StreamHasher::new();
        let mut buffer = vec![0u8; STREAM_BUFFER];
        let mut prefix = (&*file).take(length);
        loop {
            match prefix.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buffer[..n]);
                    also(&buffer[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(reading()(e)),
            }
        }
        let (read, actual) = hasher.clone().finish();
        if read != length || !actual.eq_ignore_ascii_case(sha256) {
            file.seek(SeekFrom::Start(0)).map_err(reading())?;
            return Ok(false);
        }
        if self.plain_file {
            // Whatever followed the synced prefix is not part of the image.
            file.set_len(length)
                .map_err(Error::io(format!("truncating slot {slot}")))?;
        }
        file.seek(SeekFrom::Start(length)).map_err(reading())?;
        self.hasher = hasher;
        Ok(true)
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.out
            .write_all(bytes)
            .map_err(Error::io(format!("writing slot {}", self.slot)))?;
        self.hasher.update(bytes);
        Ok(())
    }

    /// Flushes what was written to the device; returns its length and sha256.
    pub fn sync(&mut self) -> Result<(u64, String)> {
        let slot = self.slot;
        self.out
            .flush()
            .map_err(Error::io(format!("flushing slot {slot}")))?;
        self.out
            .get_ref()
            .sync_data()
            .map_err(Error::io(format!("syncing slot {slot}")))?;
        Ok(self.hasher.clone().finish())
    }

    /// Forgets everything written: the next write goes to the slot's start.
    pub fn restart(&mut self) -> Result<()> {
        let slot = self.slot;
        self.out
            .flush()
            .map_err(Error::io(format!("flushing slot {slot}")))?;
        let file = self.out.get_mut();
        if self.plain_file {
            file.set_len(0)
                .map_err(Error::io(format!("truncating slot {slot}")))?;
        }
        file.seek(SeekFrom::Start(0))
            .map_err(Error::io(format!("rewinding slot {slot}")))?;
        self.hasher = StreamHasher::new();
        Ok(())
    }

    /// Flushes everything to the device; returns length and sha256 of what was written.
    pub fn finish(self) -> Result<(u64, String)> {
        let slot = self.slot;
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(format!("flushing slot {slot}"))(e.into_error()))?;
        file.sync_all()
            .map_err(Error::io(format!("syncing slot {slot}")))?;
        Ok(self.hasher.finish())
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn slot_error(slot: Slot, reason: &str) -> Error {
    Error::Slot {
        slot: slot.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use update_core::hash::sha256_hex;

    fn slots(dir: &Path) -> Slots {
        Slots::new(&dir.join("a.img"), &dir.join("b.img"))
    }

    #[test]
    fn writes_the_inactive_slot_and_verifies_by_reading_back() {
        let dir = tempfile::tempdir().unwrap();
        let slots = slots(dir.path());
        std::fs::write(slots.path(Slot::B), vec![7u8; 500_000]).unwrap();
        let image: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let mut writer = slots.open_for_install(Slot::B, Slot::A, 200_000).unwrap();
        for chunk in image.chunks(10_000) {
            writer.write(chunk).unwrap();
        }
        let (length, sha256) = writer.finish().unwrap();
        assert_eq!((length, sha256.clone()), (200_000, sha256_hex(&image)));
        slots.verify(Slot::B, 200_000, &sha256).unwrap();
        assert_eq!(std::fs::read(slots.path(Slot::B)).unwrap(), image);
        assert!(
            slots
                .verify(Slot::B, 200_000, &sha256_hex(b"other"))
                .is_err()
        );
        assert!(slots.verify(Slot::B, 200_001, &sha256).is_err());
    }

    #[test]
    fn resumes_after_a_matching_prefix_and_starts_over_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let slots = slots(dir.path());
        let image: Vec<u8> = (0..300_000u32).map(|i| (i % 249) as u8).collect();
        let mut writer = slots.open_for_install(Slot::B, Slot::A, 300_000).unwrap();
        writer.write(&image[..100_000]).unwrap();
        let (length, prefix_sha256) = writer.sync().unwrap();
        assert_eq!(length, 100_000);
        // Unsynced bytes past the prefix, as a power cut may leave them.
        writer.write(&[0xee; 5000]).unwrap();
        drop(writer);

        let mut writer = slots.open_for_resume(Slot::B, Slot::A, 300_000).unwrap();
        let mut seen = Vec::new();
        let resumed = writer
            .resume_after(100_000, &prefix_sha256, &mut |b| seen.extend_from_slice(b))
            .unwrap();
        assert!(resumed);
        assert_eq!(seen, image[..100_000]);
        assert_eq!(writer.position(), 100_000);
        writer.write(&image[100_000..]).unwrap();
        assert_eq!(writer.finish().unwrap(), (300_000, sha256_hex(&image)));
        assert_eq!(std::fs::read(slots.path(Slot::B)).unwrap(), image);

        let mut writer = slots.open_for_resume(Slot::B, Slot::A, 300_000).unwrap();
        let other = sha256_hex(b"another prefix");
        assert!(!writer.resume_after(100_000, &other, &mut |_| {}).unwrap());
        assert!(
            !writer
                .resume_after(400_000, &prefix_sha256, &mut |_| {})
                .unwrap()
        );
        writer.restart().unwrap();
        writer.write(b"fresh").unwrap();
        assert_eq!(writer.finish().unwrap().0, 5);
        assert_eq!(std::fs::read(slots.path(Slot::B)).unwrap(), b"fresh");
    }

    #[test]
    fn refuses_to_open_the_booted_slot() {
        let dir = tempfile::tempdir().unwrap();
        let slots = slots(dir.path());
        std::fs::write(slots.path(Slot::A), b"factory").unwrap();
        assert!(slots.open_for_install(Slot::A, Slot::A, 1).is_err());
        assert!(slots.open_for_resume(Slot::A, Slot::A, 1).is_err());
        assert_eq!(std::fs::read(slots.path(Slot::A)).unwrap(), b"factory");
    }

    #[test]
    fn refuses_a_slot_that_is_the_booted_file_under_another_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.img"), b"factory").unwrap();
        std::os::unix::fs::symlink(dir.path().join("a.img"), dir.path().join("b.img")).unwrap();
        let slots = slots(dir.path());
        assert!(slots.open_for_install(Slot::B, Slot::A, 1).is_err());
        assert_eq!(std::fs::read(slots.path(Slot::A)).unwrap(), b"factory");
    }
}
