//! Applying a copy-add body in one forward pass: per chunk, decompress its three segments
//! into bounded buffers, then run its controls (base read at random offsets, result
//! written in order). Every count from the delta is checked before it is used.

use std::io::{Read, Write};

use super::runs::{Run, Runs};
use super::{PARAMS_LEN, Params};
use crate::memory::IO_BUFFER;
use crate::varint;
use crate::zstream::{SegmentDecoder, read_fully};
use crate::{ApplyError, Base};

fn corrupt(what: &str) -> ApplyError {
    ApplyError::Corrupt(what.into())
}

/// Writes the `result_length` bytes the body read from `delta` describes to `out`, reading
/// only `base[..base_length]`; allocates at most `memory_limit` bytes or refuses.
pub fn apply(
    base: &dyn Base,
    base_length: u64,
    result_length: u64,
    delta: &mut dyn Read,
    out: &mut dyn Write,
    memory_limit: u64,
) -> Result<(), ApplyError> {
    let mut raw_params = [0u8; PARAMS_LEN];
    read_fully(delta, &mut raw_params)?;
    let params = Params::from_bytes(&raw_params)?;
    if params.memory() > memory_limit {
        return Err(corrupt(
            "the body needs more memory than the header declares",
        ));
    }
    let mut streams = [
        SegmentDecoder::new(params.control_window_log)?,
        SegmentDecoder::new(params.diff_window_log)?,
        SegmentDecoder::new(params.extra_window_log)?,
    ];
    let mut buffers = [
        vec![0u8; params.control_chunk_max as usize],
        vec![0u8; params.diff_chunk_max as usize],
        vec![0u8; params.chunk_output_max as usize],
    ];
    let mut runner = Runner {
        base,
        base_length,
        old_cursor: 0,
        left: result_length,
        base_buffer: vec![0u8; IO_BUFFER as usize],
        out,
    };
    while runner.left > 0 {
        let mut lengths = [(0u64, 0u64); 3];
        for length in &mut lengths {
            *length = (varint::read_u64(delta)?, varint::read_u64(delta)?);
        }
        let mut used = [0usize; 3];
        for (((stream, buffer), (raw, compressed)), used) in streams
            .iter_mut()
            .zip(&mut buffers)
            .zip(lengths)
            .zip(&mut used)
        {
            if raw > buffer.len() as u64 {
                return Err(corrupt("a chunk is larger than its limits"));
            }
            *used = raw as usize;
            stream.segment(delta, compressed, &mut buffer[..*used])?;
        }
        let [controls, diff, extra] = &buffers;
        runner.chunk(
            &controls[..used[0]],
            Runs::new(&diff[..used[1]]),
            &extra[..used[2]],
        )?;
    }
    let mut trailing = [0u8; 1];
    if delta.read(&mut trailing).map_err(ApplyError::ReadDelta)? != 0 {
        return Err(corrupt("bytes after the end of the body"));
    }
    Ok(())
}

/// Runs controls against the base, writing the result.
struct Runner<'a> {
    base: &'a dyn Base,
    base_length: u64,
    old_cursor: u64,
    /// Result bytes still to write.
    left: u64,
    base_buffer: Vec<u8>,
    out: &'a mut dyn Write,
}

impl Runner<'_> {
    fn chunk(
        &mut self,
        mut controls: &[u8],
        mut diff: Runs<'_>,
        mut extra: &[u8],
    ) -> Result<(), ApplyError> {
        while !controls.is_empty() {
            let add = varint::take_u64(&mut controls)?;
            let literal = varint::take_u64(&mut controls)?;
            let seek = varint::take_i64(&mut controls)?;
            let output = add
                .checked_add(literal)
                .filter(|&output| output <= self.left);
            if output.is_none() || literal > extra.len() as u64 {
                return Err(corrupt(
                    "a control makes more bytes than its chunk or the result has",
                ));
            }
            self.add(add, &mut diff)?;
            let (copied, extra_rest) = extra.split_at(literal as usize);
            self.out
                .write_all(copied)
                .map_err(ApplyError::WriteResult)?;
            self.left -= literal;
            extra = extra_rest;
            self.old_cursor = self
                .old_cursor
                .checked_add_signed(seek)
                .filter(|&cursor| cursor <= self.base_length)
                .ok_or_else(|| corrupt("a seek leaves the base"))?;
        }
        if !diff.is_finished() || !extra.is_empty() {
            return Err(corrupt("a chunk has bytes its controls do not use"));
        }
        Ok(())
    }

    /// `len` base bytes from the cursor plus the next `len` diff bytes, written out.
    fn add(&mut self, len: u64, diff: &mut Runs<'_>) -> Result<(), ApplyError> {
        if self
            .old_cursor
            .checked_add(len)
            .is_none_or(|end| end > self.base_length)
        {
            return Err(corrupt("a control reads past the end of the base"));
        }
        let mut left = len;
        while left > 0 {
            let piece = left.min(self.base_buffer.len() as u64) as usize;
            let bytes = &mut self.base_buffer[..piece];
            self.base
                .read_exact_at(bytes, self.old_cursor)
                .map_err(|error| match error.kind() {
                    std::io::ErrorKind::UnexpectedEof => {
                        ApplyError::BaseMismatch("the base is shorter than the delta says".into())
                    }
                    _ => ApplyError::ReadBase(error),
                })?;
            let mut at = 0;
            while at < piece {
                match diff.next(piece - at)? {
                    Run::Zeros(len) => at += len,
                    Run::Literal(literal) => {
                        for (byte, add) in bytes[at..].iter_mut().zip(literal) {
                            *byte = byte.wrapping_add(*add);
                        }
                        at += literal.len();
                    }
                }
            }
            self.out.write_all(bytes).map_err(ApplyError::WriteResult)?;
            self.old_cursor += piece as u64;
            self.left -= piece as u64;
            left -= piece as u64;
        }
        Ok(())
    }
}
