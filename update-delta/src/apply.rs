//! Applying a delta on the device: base by random reads, delta and result as streams.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use crate::format::{Algorithm, Header};
use crate::{ApplyError, Base};

/// Bounds on what a (possibly hostile) delta may make [`apply`] do.
#[derive(Clone, Debug)]
pub struct Limits {
    /// The most memory the decoder may allocate for this delta (windows, buffers).
    pub max_memory: u64,
    /// The signed length of the result: the header must agree, and no more is written.
    pub result_length: u64,
}

/// What [`apply`] did.
#[derive(Clone, Debug)]
pub struct Applied {
    pub header: Header,
    /// Bytes written to the output (equal to the result length).
    pub written: u64,
}

/// Reads the delta from `delta`, the base through `base`, writes the result to `out`.
/// The result's length and sha256 are verified against the header before `Ok`.
pub fn apply(
    base: &dyn Base,
    delta: &mut dyn Read,
    out: &mut dyn Write,
    limits: &Limits,
) -> Result<Applied, ApplyError> {
    let header = Header::read_from(delta)?;
    if header.result_length != limits.result_length {
        return Err(ApplyError::ResultMismatch(format!(
            "the delta makes {} bytes, {} are expected",
            header.result_length, limits.result_length
        )));
    }
    let mut hashing = HashingWriter {
        inner: out,
        hasher: Sha256::new(),
        written: 0,
        limit: header.result_length,
    };
    match header.algorithm {
        Algorithm::Literal => {
            let _ = base;
            let mut decoder = zstd::Decoder::new(delta).map_err(ApplyError::ReadDelta)?;
            decoder.window_log_max(20).map_err(ApplyError::ReadDelta)?;
            io::copy(&mut decoder, &mut hashing).map_err(|e| match e.kind() {
                io::ErrorKind::WriteZero => {
                    ApplyError::Corrupt("the delta makes too many bytes".into())
                }
                _ => ApplyError::ReadDelta(e),
            })?;
        }
    }
    let written = hashing.written;
    let digest: [u8; 32] = hashing.hasher.finalize().into();
    if written != header.result_length || digest != header.result_sha256 {
        return Err(ApplyError::ResultMismatch(format!(
            "{written} bytes with sha256 {}",
            hex::encode(digest)
        )));
    }
    Ok(Applied { header, written })
}

struct HashingWriter<'a> {
    inner: &'a mut dyn Write,
    hasher: Sha256,
    written: u64,
    limit: u64,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() as u64 > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "past the result length",
            ));
        }
        self.inner.write_all(buf)?;
        self.hasher.update(buf);
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
