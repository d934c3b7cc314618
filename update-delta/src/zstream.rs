//! zstd on both sides, through zstd-safe's streaming contexts: a stream the generator
//! compresses in flushed segments (one per chunk), and the decoder's exact decompression
//! of one segment into a buffer of its declared size.

use std::io::{self, Read};

use zstd::zstd_safe::zstd_sys::ZSTD_EndDirective as EndDirective;
use zstd::zstd_safe::{self, CCtx, CParameter, DCtx, DParameter, InBuffer, OutBuffer};

use crate::memory::IO_BUFFER;
use crate::{ApplyError, CreateError};

fn compress_error(code: usize) -> CreateError {
    CreateError::Compress(io::Error::other(zstd_safe::get_error_name(code)))
}

fn corrupt(code: usize) -> ApplyError {
    ApplyError::Corrupt(format!("zstd: {}", zstd_safe::get_error_name(code)))
}

/// One continuous zstd frame, emitted as a sequence of independently flushed segments.
pub struct SegmentEncoder {
    context: CCtx<'static>,
}

impl SegmentEncoder {
    pub fn new(level: i32, window_log: u8, total: u64) -> Result<Self, CreateError> {
        let mut context = CCtx::try_create().ok_or_else(|| compress_error(0))?;
        for parameter in [
            CParameter::CompressionLevel(level),
            CParameter::WindowLog(u32::from(window_log)),
            CParameter::EnableLongDistanceMatching(window_log >= 20),
            CParameter::ChecksumFlag(false),
            CParameter::ContentSizeFlag(true),
        ] {
            context.set_parameter(parameter).map_err(compress_error)?;
        }
        context
            .set_pledged_src_size(Some(total))
            .map_err(compress_error)?;
        Ok(SegmentEncoder { context })
    }

    /// Compresses `data` and flushes (or, if `last`, ends the frame): the returned bytes
    /// decode to exactly `data` given everything emitted before.
    pub fn segment(&mut self, data: &[u8], last: bool) -> Result<Vec<u8>, CreateError> {
        let directive = if last {
            EndDirective::ZSTD_e_end
        } else {
            EndDirective::ZSTD_e_flush
        };
        let mut compressed = Vec::with_capacity(zstd_safe::compress_bound(data.len()) + 64);
        let mut input = InBuffer::around(data);
        loop {
            if compressed.capacity() - compressed.len() < 1024 {
                compressed.reserve(64 << 10);
            }
            let position = compressed.len();
            let mut output = OutBuffer::around_pos(&mut compressed, position);
            let remaining = self
                .context
                .compress_stream2(&mut output, &mut input, directive)
                .map_err(compress_error)?;
            if remaining == 0 && input.pos() == data.len() {
                return Ok(compressed);
            }
        }
    }
}

/// A streaming decoder whose window is capped, fed one declared segment at a time.
pub struct SegmentDecoder {
    context: DCtx<'static>,
    input: Vec<u8>,
}

impl SegmentDecoder {
    pub fn new(window_log: u8) -> Result<Self, ApplyError> {
        let mut context = DCtx::try_create()
            .ok_or_else(|| ApplyError::Corrupt("no memory for a zstd decoder".into()))?;
        context
            .set_parameter(DParameter::WindowLogMax(u32::from(window_log)))
            .map_err(corrupt)?;
        Ok(SegmentDecoder {
            context,
            input: vec![0; IO_BUFFER as usize],
        })
    }

    /// Decompresses the next `compressed_len` bytes of `delta` into exactly `target`:
    /// an error if they decode to fewer or more bytes.
    pub fn segment(
        &mut self,
        delta: &mut dyn Read,
        compressed_len: u64,
        target: &mut [u8],
    ) -> Result<(), ApplyError> {
        if compressed_len == 0 {
            // A flush with nothing new emits nothing; zstd must not be called then (calls
            // without input or output count towards its no-progress error).
            return match target.is_empty() {
                true => Ok(()),
                false => Err(ApplyError::Corrupt(
                    "an empty segment declares bytes".into(),
                )),
            };
        }
        let mut unread = compressed_len;
        let (mut filled, mut buffered, mut consumed) = (0usize, 0usize, 0usize);
        loop {
            if consumed == buffered && unread > 0 {
                buffered = unread.min(self.input.len() as u64) as usize;
                read_fully(delta, &mut self.input[..buffered])?;
                unread -= buffered as u64;
                consumed = 0;
            }
            let mut input = InBuffer::around(&self.input[consumed..buffered]);
            let mut output = OutBuffer::around_pos(&mut target[..], filled);
            self.context
                .decompress_stream(&mut output, &mut input)
                .map_err(corrupt)?;
            let progressed = input.pos() > 0 || output.pos() > filled;
            consumed += input.pos();
            filled = output.pos();
            if !progressed {
                if consumed < buffered || unread > 0 {
                    return Err(ApplyError::Corrupt(
                        "a segment decodes to more bytes than declared".into(),
                    ));
                }
                break;
            }
        }
        if filled != target.len() {
            return Err(ApplyError::Corrupt(
                "a segment decodes to fewer bytes than declared".into(),
            ));
        }
        let mut probe = [0u8; 1];
        let mut output = OutBuffer::around(&mut probe[..]);
        self.context
            .decompress_stream(&mut output, &mut InBuffer::around(&[]))
            .map_err(corrupt)?;
        if output.pos() != 0 {
            return Err(ApplyError::Corrupt(
                "a segment decodes to more bytes than declared".into(),
            ));
        }
        Ok(())
    }
}

pub fn read_fully(input: &mut dyn Read, buf: &mut [u8]) -> Result<(), ApplyError> {
    input.read_exact(buf).map_err(|error| match error.kind() {
        io::ErrorKind::UnexpectedEof => ApplyError::Corrupt("the delta ends early".into()),
        _ => ApplyError::ReadDelta(error),
    })
}
