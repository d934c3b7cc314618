//! zstd's patch mode as a delta algorithm: the result is one zstd frame compressed with the
//! whole base as a raw prefix dictionary (`zstd --patch-from`), long-distance matching on.
//! The decoder needs the base in memory, so the generator only makes it when the base and
//! the decoder fit the device's budget.
//!
//! Body: window log u8, then the frame (which must declare the result length).

use std::io::{self, Read, Write};

use zstd::zstd_safe::{self, CCtx, CParameter, DCtx, DParameter, InBuffer, OutBuffer};

use crate::memory::{self, IO_BUFFER};
use crate::zstream::read_fully;
use crate::{ApplyError, Base, CreateError};

/// zstd's largest frame header: enough to read the declared content size.
const FRAME_HEADER_MAX: usize = 18;

/// Bytes the decoder allocates for this base and result.
pub fn memory(window_log: u8, base_length: u64, result_length: u64) -> u64 {
    base_length + memory::zstd_stream(window_log, Some(result_length)) + 2 * IO_BUFFER
}

fn compress_error(code: usize) -> CreateError {
    CreateError::Compress(io::Error::other(zstd_safe::get_error_name(code)))
}

/// The body and the memory its decoder needs; None if that exceeds `budget`.
pub fn encode(
    old: &[u8],
    new: &[u8],
    level: i32,
    budget: u64,
) -> Result<Option<(Vec<u8>, u64)>, CreateError> {
    let window_log = memory::window_log_for(old.len() as u64 + new.len() as u64);
    let needed = memory(window_log, old.len() as u64, new.len() as u64);
    if needed > budget || window_log > 27 {
        return Ok(None);
    }
    let mut context = CCtx::try_create().ok_or_else(|| compress_error(0))?;
    for parameter in [
        CParameter::CompressionLevel(level),
        CParameter::WindowLog(u32::from(window_log)),
        CParameter::EnableLongDistanceMatching(true),
        CParameter::ChecksumFlag(false),
        CParameter::ContentSizeFlag(true),
    ] {
        context.set_parameter(parameter).map_err(compress_error)?;
    }
    context.ref_prefix(old).map_err(compress_error)?;
    let mut body = Vec::with_capacity(zstd_safe::compress_bound(new.len()) + 1);
    body.push(window_log);
    let mut frame = Vec::with_capacity(zstd_safe::compress_bound(new.len()));
    context.compress2(&mut frame, new).map_err(compress_error)?;
    body.extend_from_slice(&frame);
    Ok(Some((body, needed)))
}

/// Decodes the body from `delta` into `out`; refuses anything needing more than `memory_limit`.
pub fn apply(
    base: &dyn Base,
    base_length: u64,
    result_length: u64,
    delta: &mut dyn Read,
    out: &mut dyn Write,
    memory_limit: u64,
) -> Result<(), ApplyError> {
    let mut window_log = [0u8; 1];
    read_fully(delta, &mut window_log)?;
    let window_log = window_log[0];
    if !(memory::MIN_WINDOW_LOG..=memory::MAX_WINDOW_LOG).contains(&window_log) {
        return Err(ApplyError::Corrupt("bad zstd-patch window".into()));
    }
    if memory(window_log, base_length, result_length) > memory_limit {
        return Err(ApplyError::Corrupt(
            "the body needs more memory than the header declares".into(),
        ));
    }
    let mut prefix = vec![0u8; base_length as usize];
    base.read_exact_at(&mut prefix, 0)
        .map_err(|error| match error.kind() {
            io::ErrorKind::UnexpectedEof => {
                ApplyError::BaseMismatch("the base is shorter than the delta says".into())
            }
            _ => ApplyError::ReadBase(error),
        })?;
    // The frame must declare the result length, which caps zstd's buffer at it.
    let mut head = [0u8; FRAME_HEADER_MAX];
    let head_len = read_up_to(delta, &mut head)?;
    match zstd_safe::get_frame_content_size(&head[..head_len]) {
        Ok(Some(size)) if size == result_length => {}
        _ => {
            return Err(ApplyError::Corrupt(
                "the zstd frame does not declare the result length".into(),
            ));
        }
    }
    let mut context = DCtx::try_create()
        .ok_or_else(|| ApplyError::Corrupt("no memory for a zstd decoder".into()))?;
    let zstd_error =
        |code: usize| ApplyError::Corrupt(format!("zstd: {}", zstd_safe::get_error_name(code)));
    context
        .set_parameter(DParameter::WindowLogMax(u32::from(window_log)))
        .map_err(zstd_error)?;
    context.ref_prefix(&prefix).map_err(zstd_error)?;
    let mut input = vec![0u8; IO_BUFFER as usize];
    let mut output = vec![0u8; IO_BUFFER as usize];
    input[..head_len].copy_from_slice(&head[..head_len]);
    let (mut buffered, mut consumed) = (head_len, 0usize);
    let mut finished = false;
    loop {
        if consumed == buffered {
            buffered = read_up_to(delta, &mut input)?;
            consumed = 0;
            if buffered == 0 {
                break;
            }
        }
        if finished {
            return Err(ApplyError::Corrupt(
                "bytes after the end of the body".into(),
            ));
        }
        let mut in_buffer = InBuffer::around(&input[consumed..buffered]);
        let mut out_buffer = OutBuffer::around(&mut output[..]);
        let hint = context
            .decompress_stream(&mut out_buffer, &mut in_buffer)
            .map_err(zstd_error)?;
        let produced = out_buffer.pos();
        if in_buffer.pos() == 0 && produced == 0 && hint != 0 {
            return Err(ApplyError::Corrupt(
                "the zstd frame makes no progress".into(),
            ));
        }
        consumed += in_buffer.pos();
        out.write_all(&output[..produced])
            .map_err(ApplyError::WriteResult)?;
        finished = hint == 0;
        if finished {
            // Drain what zstd still holds of the finished frame.
            drain(&mut context, &mut output, out, zstd_error)?;
        }
    }
    if !finished {
        return Err(ApplyError::Corrupt(
            "the delta ends inside the zstd frame".into(),
        ));
    }
    Ok(())
}

fn drain(
    context: &mut DCtx<'_>,
    output: &mut [u8],
    out: &mut dyn Write,
    zstd_error: impl Fn(usize) -> ApplyError,
) -> Result<(), ApplyError> {
    loop {
        let mut out_buffer = OutBuffer::around(&mut output[..]);
        context
            .decompress_stream(&mut out_buffer, &mut InBuffer::around(&[]))
            .map_err(&zstd_error)?;
        let produced = out_buffer.pos();
        if produced == 0 {
            return Ok(());
        }
        out.write_all(&output[..produced])
            .map_err(ApplyError::WriteResult)?;
    }
}

/// Fills as much of `buf` as the stream has; fewer bytes only at its end.
fn read_up_to(input: &mut dyn Read, buf: &mut [u8]) -> Result<usize, ApplyError> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(ApplyError::ReadDelta(error)),
        }
    }
    Ok(filled)
}
