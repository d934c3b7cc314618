//! Random-access reads of the base image (the device's active slot).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// The image a delta applies to, read at arbitrary offsets. Only its first
/// `Header::base_length` bytes are ever read (a slot may be larger than its image).
pub trait Base {
    /// Fills `buf` from `offset`; an error if the base ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl Base for File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FileExt::read_exact_at(self, buf, offset)
    }
}

impl Base for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| past_end())?;
        let end = start.checked_add(buf.len()).ok_or_else(past_end)?;
        let bytes = self.get(start..end).ok_or_else(past_end)?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

/// So a `&[u8]` (or any borrowed base) can itself be passed as `&dyn Base`.
impl<T: Base + ?Sized> Base for &T {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        (**self).read_exact_at(buf, offset)
    }
}

impl Base for Vec<u8> {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.as_slice().read_exact_at(buf, offset)
    }
}

fn past_end() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "read past the end of the base",
    )
}
