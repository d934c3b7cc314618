//! Applying a delta on the device: base by random reads, delta and result as streams.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use crate::exe::BasePrediction;
use crate::format::{Algorithm, Header};
use crate::{ApplyError, Base, copyadd, patchfrom};

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
/// The result's length and sha256 are verified against the header before `Ok`. The base
/// is not hashed first (that would read it twice): a wrong base yields a wrong result,
/// which the final check rejects.
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
    if header.apply_memory > limits.max_memory {
        return Err(ApplyError::OverMemoryLimit {
            needed: header.apply_memory,
            limit: limits.max_memory,
        });
    }
    let mut memory_left = header.apply_memory;
    let prediction = if header.transform_length > 0 {
        let mut section = (&mut *delta).take(u64::from(header.transform_length));
        let prediction = BasePrediction::read_from(&mut section, memory_left)?;
        let mut rest = [0u8; 1];
        if section.read(&mut rest).map_err(ApplyError::ReadDelta)? != 0 {
            return Err(ApplyError::Corrupt(
                "bytes left in the base transform section".into(),
            ));
        }
        memory_left = memory_left
            .checked_sub(prediction.memory_needed())
            .ok_or_else(|| {
                ApplyError::Corrupt("the base transform needs more memory than declared".into())
            })?;
        if prediction.base_length() != header.base_length {
            return Err(ApplyError::Corrupt(format!(
                "the base transform describes a base of {} bytes, the header one of {}",
                prediction.base_length(),
                header.base_length
            )));
        }
        Some(prediction)
    } else {
        None
    };
    let wrapped = prediction.as_ref().map(|prediction| prediction.wrap(base));
    let base: &dyn Base = match &wrapped {
        Some(wrapped) => wrapped,
        None => base,
    };
    let mut hashing = HashingWriter {
        inner: out,
        hasher: Sha256::new(),
        written: 0,
        limit: header.result_length,
    };
    let decode = match header.algorithm {
        Algorithm::CopyAdd => copyadd::apply,
        Algorithm::ZstdPatch => patchfrom::apply,
    };
    decode(
        base,
        header.base_length,
        header.result_length,
        delta,
        &mut hashing,
        memory_left,
    )?;
    hashing.inner.flush().map_err(ApplyError::WriteResult)?;
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
