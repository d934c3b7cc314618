//! Reading and writing one copy of the environment where it lives: at an offset in a
//! regular file or a block device (written in place, never truncated or extended, then
//! flushed), or on an MTD flash device (see [`super::mtd`]).

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::path::{Path, PathBuf};

use super::error::UbootError;
use super::layout::CopyLocation;
use super::mtd::{FlashKind, MtdCopy};

const NOT_MTD: &str =
    "a character device that is not an MTD flash device (UBI volumes are not supported)";
const NEGATIVE_OFFSET_IN_FILE: &str =
    "a negative OFFSET counts back from the end of a block device; this is a regular file";

#[derive(Debug)]
enum Medium {
    /// A regular file or a block device.
    Plain,
    Mtd(MtdCopy),
}

/// One copy of the environment, checked against the device that holds it.
#[derive(Debug)]
pub struct CopyStorage {
    device: PathBuf,
    /// The device's canonical path, to recognise one device under two names.
    canonical: PathBuf,
    offset: u64,
    size: usize,
    medium: Medium,
}

impl CopyStorage {
    /// Looks at the device of `location` and checks that the copy fits on it.
    pub fn open(location: &CopyLocation) -> Result<CopyStorage, UbootError> {
        let device = &location.device;
        let unsupported = |reason: String| UbootError::Unsupported {
            device: device.clone(),
            reason,
        };
        let mut file = File::open(device).map_err(UbootError::io(format!(
            "opening the environment device {}",
            device.display()
        )))?;
        let metadata = file.metadata().map_err(io_error(device))?;
        let file_type = metadata.file_type();
        let (medium, offset) = if file_type.is_char_device() {
            let mtd = MtdCopy::probe(&file, location)
                .map_err(unsupported)?
                .ok_or_else(|| unsupported(NOT_MTD.into()))?;
            let offset = mtd.footprint().start;
            (Medium::Mtd(mtd), offset)
        } else if file_type.is_block_device() {
            let length = file.seek(SeekFrom::End(0)).map_err(io_error(device))?;
            let offset = plain_offset(location, length).map_err(unsupported)?;
            (Medium::Plain, offset)
        } else if file_type.is_file() {
            if location.offset < 0 {
                return Err(unsupported(NEGATIVE_OFFSET_IN_FILE.into()));
            }
            let offset = plain_offset(location, metadata.len()).map_err(unsupported)?;
            (Medium::Plain, offset)
        } else {
            return Err(unsupported(
                "neither a regular file, a block device nor an MTD device".into(),
            ));
        };
        let canonical = std::fs::canonicalize(device).map_err(io_error(device))?;
        Ok(CopyStorage {
            device: device.clone(),
            canonical,
            offset,
            size: location.size,
            medium,
        })
    }

    pub fn device(&self) -> &Path {
        &self.device
    }

    /// Whether the two copies share bytes (for MTD: erase blocks) of one device.
    pub fn overlaps(&self, other: &CopyStorage) -> bool {
        let (a, b) = (self.footprint(), other.footprint());
        self.canonical == other.canonical && a.start < b.end && b.start < a.end
    }

    /// Whether a flag byte can be rewritten in place, as the boolean scheme needs.
    pub fn can_rewrite_flag_in_place(&self) -> bool {
        !matches!(&self.medium, Medium::Mtd(mtd) if mtd.kind == FlashKind::Nand)
    }

    pub fn read(&self) -> Result<Vec<u8>, UbootError> {
        let file = File::open(&self.device).map_err(io_error(&self.device))?;
        match &self.medium {
            Medium::Plain => {
                let mut image = vec![0; self.size];
                file.read_exact_at(&mut image, self.offset).map(|()| image)
            }
            Medium::Mtd(mtd) => mtd.read(&file),
        }
        .map_err(UbootError::io(format!("reading {}", self.describe())))
    }

    /// Writes the whole copy and flushes it to the device.
    pub fn write(&self, image: &[u8]) -> Result<(), UbootError> {
        debug_assert_eq!(image.len(), self.size);
        let file = self.open_for_writing()?;
        match &self.medium {
            Medium::Plain => file
                .write_all_at(image, self.offset)
                .and_then(|()| file.sync_data()),
            Medium::Mtd(mtd) => mtd.write(&file, image),
        }
        .map_err(UbootError::io(format!("writing {}", self.describe())))
    }

    /// Overwrites the byte at `at` within the copy, in place, and flushes it.
    pub fn write_byte(&self, at: u64, byte: u8) -> Result<(), UbootError> {
        let file = self.open_for_writing()?;
        match &self.medium {
            Medium::Plain => file
                .write_all_at(&[byte], self.offset + at)
                .and_then(|()| file.sync_data()),
            Medium::Mtd(mtd) => mtd.write_byte(&file, at, byte),
        }
        .map_err(UbootError::io(format!("writing {}", self.describe())))
    }

    fn open_for_writing(&self) -> Result<File, UbootError> {
        // No create, no truncate: the device or file and its size were checked at open.
        OpenOptions::new()
            .write(true)
            .open(&self.device)
            .map_err(UbootError::io(format!(
                "opening {} for writing",
                self.device.display()
            )))
    }

    fn footprint(&self) -> Range<u64> {
        match &self.medium {
            Medium::Plain => self.offset..self.offset + self.size as u64,
            Medium::Mtd(mtd) => mtd.footprint(),
        }
    }

    fn describe(&self) -> String {
        format!(
            "the environment copy at {:#x} in {}",
            self.offset,
            self.device.display()
        )
    }
}

/// The copy's start in a file or block device of `length` bytes, if it fits.
fn plain_offset(location: &CopyLocation, length: u64) -> Result<u64, String> {
    let start = if location.offset < 0 {
        length.checked_sub(location.offset.unsigned_abs())
    } else {
        Some(location.offset.unsigned_abs())
    };
    start
        .filter(|start| {
            start
                .checked_add(location.size as u64)
                .is_some_and(|end| end <= length)
        })
        .ok_or_else(|| {
            format!(
                "a copy of {:#x} bytes at OFFSET {} does not fit in its {length} bytes",
                location.size, location.offset
            )
        })
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> UbootError {
    UbootError::io(format!("environment device {}", path.display()))
}
