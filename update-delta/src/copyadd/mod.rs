//! The bsdiff-class algorithm ("copy-add"): the result is a sequence of controls, each
//! "add `add` bytes (base byte + diff byte) from the base cursor, then copy `extra`
//! literal bytes, then move the base cursor by `seek`". Controls, diff bytes (in run form,
//! [`runs`]) and extra bytes are three zstd streams, cut into chunks of bounded output so
//! the decoder holds one chunk of each at a time (`docs/delta-format.md`).

mod decode;
mod encode;
mod runs;

pub use decode::apply;
pub use encode::encode;

use crate::ApplyError;
use crate::memory::{self, IO_BUFFER};

/// Input buffer of each of the three stream decoders.
pub const SEGMENT_INPUT: u64 = 16 << 10;
/// Body parameters: three window logs, a zero byte, three u32.
pub const PARAMS_LEN: usize = 16;

/// The body's parameters, which fix everything the decoder allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    pub control_window_log: u8,
    pub diff_window_log: u8,
    pub extra_window_log: u8,
    /// The most extra (literal) bytes one chunk has; the encoder also cuts chunks so no
    /// chunk makes more result bytes than this.
    pub chunk_output_max: u32,
    /// The most control bytes one chunk has.
    pub control_chunk_max: u32,
    /// The most diff bytes (in run form) one chunk has.
    pub diff_chunk_max: u32,
}

impl Params {
    /// Bytes the decoder allocates for a body with these parameters.
    pub fn memory(&self) -> u64 {
        let streams: u64 = [
            self.control_window_log,
            self.diff_window_log,
            self.extra_window_log,
        ]
        .into_iter()
        .map(|log| memory::zstd_stream(log, None) + SEGMENT_INPUT)
        .sum();
        streams
            + u64::from(self.chunk_output_max)
            + u64::from(self.control_chunk_max)
            + u64::from(self.diff_chunk_max)
            + IO_BUFFER
    }

    pub fn to_bytes(self) -> [u8; PARAMS_LEN] {
        let mut bytes = [0u8; PARAMS_LEN];
        bytes[0] = self.control_window_log;
        bytes[1] = self.diff_window_log;
        bytes[2] = self.extra_window_log;
        bytes[4..8].copy_from_slice(&self.chunk_output_max.to_le_bytes());
        bytes[8..12].copy_from_slice(&self.control_chunk_max.to_le_bytes());
        bytes[12..16].copy_from_slice(&self.diff_chunk_max.to_le_bytes());
        bytes
    }

    pub fn from_bytes(bytes: &[u8; PARAMS_LEN]) -> Result<Params, ApplyError> {
        let u32_at = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let logs_valid = bytes[..3]
            .iter()
            .all(|log| (memory::MIN_WINDOW_LOG..=memory::MAX_WINDOW_LOG).contains(log));
        if !logs_valid || bytes[3] != 0 {
            return Err(ApplyError::Corrupt("bad copy-add parameters".into()));
        }
        Ok(Params {
            control_window_log: bytes[0],
            diff_window_log: bytes[1],
            extra_window_log: bytes[2],
            chunk_output_max: u32_at(4),
            control_chunk_max: u32_at(8),
            diff_chunk_max: u32_at(12),
        })
    }

    /// Parameters whose decoder fits in `budget` bytes, with windows as large as the budget
    /// allows but no larger than their streams (a window larger than its stream is wasted
    /// device memory); None if even the smallest windows do not fit.
    pub fn for_budget(
        budget: u64,
        chunking: Chunking,
        diff_chunk_max: u32,
        totals: [u64; 3],
    ) -> Option<Params> {
        let make = |logs: [u8; 3]| Params {
            control_window_log: logs[0],
            diff_window_log: logs[1],
            extra_window_log: logs[2],
            chunk_output_max: chunking.output_max,
            control_chunk_max: chunking.control_max,
            diff_chunk_max,
        };
        let mut logs = [memory::MIN_WINDOW_LOG; 3];
        if make(logs).memory() > budget {
            return None;
        }
        let useful = totals.map(memory::window_log_for);
        // Grow the windows in turn, the literal stream first (it gains most from a long
        // window), while the budget allows.
        loop {
            let mut grown = false;
            for stream in [2, 1, 0] {
                if logs[stream] >= useful[stream] {
                    continue;
                }
                let mut trial = logs;
                trial[stream] += 1;
                if make(trial).memory() <= budget {
                    logs = trial;
                    grown = true;
                }
            }
            if !grown {
                return Some(make(logs));
            }
        }
    }
}

/// How the encoder cuts chunks, chosen from the budget before the streams are known.
#[derive(Clone, Copy, Debug)]
pub struct Chunking {
    pub output_max: u32,
    pub control_max: u32,
}

impl Chunking {
    pub fn for_budget(budget: u64) -> Chunking {
        if budget >= 4 << 20 {
            Chunking {
                output_max: 256 << 10,
                control_max: 64 << 10,
            }
        } else {
            Chunking {
                output_max: 32 << 10,
                control_max: 8 << 10,
            }
        }
    }

    /// A chunk is closed once its controls reach this: one more control entry (three
    /// varints, at most 30 bytes) cannot take them past `control_max`.
    pub fn control_soft_cap(&self) -> usize {
        self.control_max as usize - 32
    }
}
