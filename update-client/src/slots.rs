//! The A/B slot pair: paths to block devices or plain files.
//!
//! Only the inactive slot is ever opened for writing; asking for the booted one is refused
//! here, whatever the caller believed. Block devices are written in place (never
//! truncated or created); a plain-file slot is replaced by the image. After writing, the
//! data is flushed to the device and read back, and only a matching sha256 lets the
//! caller go on to switch the bootloader.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
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

    /// Opens `target` for writing an image of `length` bytes. Refuses the booted slot,
    /// and a block device too small for the image.
    pub fn open_for_install(&self, target: Slot, booted: Slot, length: u64) -> Result<SlotWriter> {
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
        let file = if is_block_device {
            let mut device = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(Error::io(format!(
                    "opening slot {target} ({})",
                    path.display()
                )))?;
            let capacity = device
                .seek(SeekFrom::End(0))
                .and_then(|size| device.seek(SeekFrom::Start(0)).map(|_| size))
                .map_err(Error::io(format!("sizing slot {target}")))?;
            if capacity < length {
                return Err(slot_error(
                    target,
                    &format!("holds {capacity} bytes, the image needs {length}"),
                ));
            }
            device
        } else {
            OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)
                .map_err(Error::io(format!(
                    "opening slot {target} ({})",
                    path.display()
                )))?
        };
        Ok(SlotWriter {
            slot: target,
            out: BufWriter::with_capacity(STREAM_BUFFER, file),
            hasher: StreamHasher::new(),
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
}

impl SlotWriter {
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        self.out
            .write_all(bytes)
            .map_err(Error::io(format!("writing slot {}", self.slot)))
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
    fn refuses_to_open_the_booted_slot() {
        let dir = tempfile::tempdir().unwrap();
        let slots = slots(dir.path());
        std::fs::write(slots.path(Slot::A), b"factory").unwrap();
        assert!(slots.open_for_install(Slot::A, Slot::A, 1).is_err());
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
