//! Environments on raw flash (`/dev/mtdN` character devices), which must be erased a
//! whole erase block at a time before they are written.
//!
//! A copy starts at an erase-block boundary and occupies `SECTORS` erase blocks (default:
//! as many as its size needs). On NAND, bad blocks inside that range are skipped, as
//! U-Boot's `fw_env.c` does; the copy's bytes fill the good blocks in order. Blocks are
//! unlocked before and locked after each erase unless the config turns that off. Writes
//! to an MTD character device reach the flash before `write` returns, so there is no
//! separate flush.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use super::layout::CopyLocation;

const MTD_NORFLASH: u8 = 3;
const MTD_NANDFLASH: u8 = 4;
const MTD_MLCNANDFLASH: u8 = 8;

/// `struct mtd_info_user` of `<mtd/mtd-abi.h>`.
#[repr(C)]
#[derive(Default)]
struct MtdInfoUser {
    kind: u8,
    _flags: u32,
    size: u32,
    erase_size: u32,
    write_size: u32,
    _oob_size: u32,
    _padding: u64,
}

/// `struct erase_info_user` of `<mtd/mtd-abi.h>`.
#[repr(C)]
struct EraseInfoUser {
    start: u32,
    length: u32,
}

const MEMGETINFO: libc::Ioctl = libc::_IOR::<MtdInfoUser>(b'M' as u32, 1);
const MEMERASE: libc::Ioctl = libc::_IOW::<EraseInfoUser>(b'M' as u32, 2);
const MEMLOCK: libc::Ioctl = libc::_IOW::<EraseInfoUser>(b'M' as u32, 5);
const MEMUNLOCK: libc::Ioctl = libc::_IOW::<EraseInfoUser>(b'M' as u32, 6);
const MEMGETBADBLOCK: libc::Ioctl = libc::_IOW::<libc::loff_t>(b'M' as u32, 11);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashKind {
    Nor,
    Nand,
}

/// One copy of the environment on an MTD device.
#[derive(Clone, Debug)]
pub struct MtdCopy {
    pub kind: FlashKind,
    offset: u64,
    size: usize,
    erase_size: u64,
    write_size: u64,
    blocks: u64,
    lock: bool,
}

impl MtdCopy {
    /// The copy at `location` on the MTD device `file`; `Ok(None)` if `file` is not one.
    pub fn probe(file: &File, location: &CopyLocation) -> Result<Option<MtdCopy>, String> {
        let mut info = MtdInfoUser::default();
        // SAFETY: MEMGETINFO writes one `mtd_info_user`, which `info` is, laid out as C does.
        if unsafe { libc::ioctl(file.as_raw_fd(), MEMGETINFO, &mut info) } != 0 {
            return Ok(None);
        }
        let kind = match info.kind {
            MTD_NORFLASH => FlashKind::Nor,
            MTD_NANDFLASH | MTD_MLCNANDFLASH => FlashKind::Nand,
            other => return Err(format!("MTD type {other} is neither NOR nor NAND flash")),
        };
        let device_erase = u64::from(info.erase_size);
        let erase_size = location.sector_size.unwrap_or(device_erase);
        if device_erase == 0 || erase_size % device_erase != 0 {
            return Err(format!(
                "SECTOR_SIZE {erase_size:#x} is not a multiple of the erase block size {device_erase:#x}"
            ));
        }
        let offset = u64::try_from(location.offset)
            .map_err(|_| "a negative OFFSET is not supported on MTD devices".to_string())?;
        if offset % erase_size != 0 {
            return Err(format!(
                "OFFSET {offset:#x} does not start an erase block ({erase_size:#x})"
            ));
        }
        let needed = (location.size as u64).div_ceil(erase_size);
        let blocks = location.sectors.unwrap_or(needed);
        if blocks < needed {
            return Err(format!(
                "SECTORS {blocks} cannot hold {:#x} bytes",
                location.size
            ));
        }
        blocks
            .checked_mul(erase_size)
            .and_then(|span| span.checked_add(offset))
            .filter(|&end| end <= u64::from(info.size))
            .ok_or_else(|| {
                format!(
                    "the copy runs past the end of the device ({:#x})",
                    info.size
                )
            })?;
        Ok(Some(MtdCopy {
            kind,
            offset,
            size: location.size,
            erase_size,
            write_size: u64::from(info.write_size.max(1)),
            blocks,
            lock: location.mtd_lock,
        }))
    }

    /// The byte range the copy may occupy (whole erase blocks: erasing destroys them all).
    pub fn footprint(&self) -> std::ops::Range<u64> {
        self.offset..self.offset + self.blocks * self.erase_size
    }

    pub fn read(&self, file: &File) -> io::Result<Vec<u8>> {
        let mut image = vec![0; self.size];
        let mut filled = 0;
        for block in self.good_blocks(file)? {
            let chunk = (self.size - filled).min(self.erase_size as usize);
            file.read_exact_at(&mut image[filled..filled + chunk], block)?;
            filled += chunk;
        }
        Ok(image)
    }

    /// Erases and programs the copy's blocks with `image`.
    pub fn write(&self, file: &File, image: &[u8]) -> io::Result<()> {
        let mut written = 0;
        for block in self.good_blocks(file)? {
            let chunk = &image[written..(written + self.erase_size as usize).min(image.len())];
            // NAND programs whole pages: fill the last one with the erased value.
            let mut padded = chunk.to_vec();
            padded.resize(chunk.len().next_multiple_of(self.write_size as usize), 0xff);
            self.with_unlocked(file, block, || {
                erase(file, block, self.erase_size)?;
                file.write_all_at(&padded, block)
            })?;
            written += chunk.len();
        }
        Ok(())
    }

    /// Programs one byte without an erase (NOR only: programming clears bits, so a flag
    /// can go from 1 to 0 in place).
    pub fn write_byte(&self, file: &File, at: u64, byte: u8) -> io::Result<()> {
        let position = self.offset + at;
        let block = position - position % self.erase_size;
        self.with_unlocked(file, block, || file.write_all_at(&[byte], position))
    }

    /// The first good erase blocks of the range, as many as the copy needs.
    fn good_blocks(&self, file: &File) -> io::Result<Vec<u64>> {
        let needed = (self.size as u64).div_ceil(self.erase_size) as usize;
        let mut good = Vec::with_capacity(needed);
        for block in self.footprint().step_by(self.erase_size as usize) {
            if good.len() == needed {
                break;
            }
            if self.kind == FlashKind::Nor || !is_bad_block(file, block)? {
                good.push(block);
            }
        }
        if good.len() < needed {
            return Err(io::Error::other(format!(
                "too many bad blocks between {:#x} and {:#x}",
                self.footprint().start,
                self.footprint().end
            )));
        }
        Ok(good)
    }

    /// Runs `action` on an unlocked block. Lock and unlock are best effort, as in
    /// libubootenv: many chips have no lock at all and refuse both.
    fn with_unlocked<T>(
        &self,
        file: &File,
        block: u64,
        action: impl FnOnce() -> io::Result<T>,
    ) -> io::Result<T> {
        if self.lock {
            let _ = erase_ioctl(file, MEMUNLOCK, block, self.erase_size);
        }
        let result = action();
        if self.lock {
            let _ = erase_ioctl(file, MEMLOCK, block, self.erase_size);
        }
        result
    }
}

fn erase(file: &File, start: u64, length: u64) -> io::Result<()> {
    erase_ioctl(file, MEMERASE, start, length)
}

fn erase_ioctl(file: &File, request: libc::Ioctl, start: u64, length: u64) -> io::Result<()> {
    let too_far = || io::Error::other("MTD offset beyond 4 GiB");
    let range = EraseInfoUser {
        start: u32::try_from(start).map_err(|_| too_far())?,
        length: u32::try_from(length).map_err(|_| too_far())?,
    };
    // SAFETY: these requests read one `erase_info_user`, which `range` is.
    if unsafe { libc::ioctl(file.as_raw_fd(), request, &range) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn is_bad_block(file: &File, start: u64) -> io::Result<bool> {
    let offset = libc::loff_t::try_from(start).map_err(io::Error::other)?;
    // SAFETY: MEMGETBADBLOCK reads one `loff_t`, which `offset` is.
    match unsafe { libc::ioctl(file.as_raw_fd(), MEMGETBADBLOCK, &offset) } {
        0 => Ok(false),
        result if result > 0 => Ok(true),
        _ => Err(io::Error::last_os_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_layouts_match_the_kernel_abi() {
        assert_eq!(size_of::<MtdInfoUser>(), 32);
        assert_eq!(size_of::<EraseInfoUser>(), 8);
    }

    /// The request numbers of `<mtd/mtd-abi.h>` on the generic ioctl encoding (x86, Arm,
    /// RISC-V); `libc` encodes them for the other architectures.
    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
    fn request_numbers_match_the_kernel_headers() {
        // `Ioctl` is an unsigned long with glibc, an int with musl: compare the 32 bits.
        let bits = |request: libc::Ioctl| request as u32;
        assert_eq!(bits(MEMGETINFO), 0x8020_4d01);
        assert_eq!(bits(MEMERASE), 0x4008_4d02);
        assert_eq!(bits(MEMLOCK), 0x4008_4d05);
        assert_eq!(bits(MEMUNLOCK), 0x4008_4d06);
        assert_eq!(bits(MEMGETBADBLOCK), 0x4008_4d0b);
    }

    #[test]
    fn a_regular_file_is_not_an_mtd_device() {
        let file = tempfile::tempfile().unwrap();
        let location = CopyLocation {
            device: "/tmp/x".into(),
            offset: 0,
            size: 0x4000,
            sector_size: None,
            sectors: None,
            mtd_lock: true,
        };
        assert!(MtdCopy::probe(&file, &location).unwrap().is_none());
    }
}
