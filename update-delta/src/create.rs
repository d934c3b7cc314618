//! Making a delta (release engineer's side: whole images in memory are fine here).

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::CreateError;
use crate::format::{Algorithm, Header};

/// Choices for [`create`].
#[derive(Clone, Debug)]
pub struct CreateOptions {
    /// The most memory [`crate::apply`] may need on the device for this delta; an
    /// algorithm that would need more is not used.
    pub apply_memory_budget: u64,
    /// zstd level of the patch streams.
    pub zstd_level: i32,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            apply_memory_budget: 8 << 20,
            zstd_level: 19,
        }
    }
}

/// What [`create`] wrote.
#[derive(Clone, Debug)]
pub struct Created {
    pub header: Header,
    /// Bytes written, header included.
    pub length: u64,
}

/// Writes a delta from `old` to `new` into `out`.
pub fn create(
    old: &[u8],
    new: &[u8],
    options: &CreateOptions,
    out: &mut dyn Write,
) -> Result<Created, CreateError> {
    let header = Header {
        algorithm: Algorithm::Literal,
        base_length: old.len() as u64,
        base_sha256: Sha256::digest(old).into(),
        result_length: new.len() as u64,
        result_sha256: Sha256::digest(new).into(),
    };
    let mut counted = CountingWriter {
        inner: out,
        count: 0,
    };
    header.write_to(&mut counted).map_err(CreateError::Write)?;
    let mut encoder =
        zstd::Encoder::new(&mut counted, options.zstd_level).map_err(CreateError::Compress)?;
    encoder.write_all(new).map_err(CreateError::Compress)?;
    encoder.finish().map_err(CreateError::Compress)?;
    let length = counted.count;
    Ok(Created { header, length })
}

struct CountingWriter<'a> {
    inner: &'a mut dyn Write,
    count: u64,
}

impl Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
