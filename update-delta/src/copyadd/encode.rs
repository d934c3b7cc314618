//! Writing a copy-add body: covers become controls, controls are cut at chunk boundaries,
//! and each chunk's controls, diff bytes and extra bytes go to their own zstd stream.

use super::{Chunking, Params, runs};
use crate::CreateError;
use crate::matching::Match;
use crate::varint;
use crate::zstream::SegmentEncoder;

/// A run of result bytes: from the base (plus diff bytes) or literal.
#[derive(Clone, Copy, Debug)]
enum Piece {
    Add { old: usize, new: usize, len: usize },
    Extra { new: usize, len: usize },
}

#[derive(Default)]
struct Chunk {
    controls: Vec<u8>,
    pieces: Vec<Piece>,
    diff_len: usize,
    extra_len: usize,
}

/// Cuts the controls of `covers` into chunks of at most `chunk_output_max` result bytes.
struct Planner {
    chunk_output_max: usize,
    control_soft_cap: usize,
    chunks: Vec<Chunk>,
    current: Chunk,
}

impl Planner {
    fn output(&self) -> usize {
        self.current.diff_len + self.current.extra_len
    }

    fn close(&mut self) {
        let chunk = std::mem::take(&mut self.current);
        if !chunk.controls.is_empty() {
            self.chunks.push(chunk);
        }
    }

    /// One control entry, entirely inside the current chunk.
    fn emit(&mut self, add: (usize, usize, usize), extra: (usize, usize), seek: i64) {
        let chunk = &mut self.current;
        varint::put_u64(&mut chunk.controls, add.2 as u64);
        varint::put_u64(&mut chunk.controls, extra.1 as u64);
        varint::put_i64(&mut chunk.controls, seek);
        if add.2 > 0 {
            chunk.pieces.push(Piece::Add {
                old: add.0,
                new: add.1,
                len: add.2,
            });
            chunk.diff_len += add.2;
        }
        if extra.1 > 0 {
            chunk.pieces.push(Piece::Extra {
                new: extra.0,
                len: extra.1,
            });
            chunk.extra_len += extra.1;
        }
        let full = chunk.controls.len() >= self.control_soft_cap;
        if full || self.output() == self.chunk_output_max {
            self.close();
        }
    }

    /// Add `add.2` bytes at old `add.0` / new `add.1`, then `extra.1` literal bytes at new
    /// `extra.0`, then seek; split at chunk boundaries (the parts before a cut seek 0).
    fn push(&mut self, mut add: (usize, usize, usize), mut extra: (usize, usize), seek: i64) {
        loop {
            let room = self.chunk_output_max - self.output();
            if add.2 + extra.1 <= room {
                self.emit(add, extra, seek);
                return;
            }
            if add.2 >= room {
                self.emit((add.0, add.1, room), (extra.0, 0), 0);
                add = (add.0 + room, add.1 + room, add.2 - room);
            } else {
                let taken = room - add.2;
                self.emit(add, (extra.0, taken), 0);
                add = (add.0 + add.2, add.1 + add.2, 0);
                extra = (extra.0 + taken, extra.1 - taken);
            }
        }
    }
}

fn plan(new_len: usize, covers: &[Match], chunking: Chunking) -> Vec<Chunk> {
    let mut planner = Planner {
        chunk_output_max: chunking.output_max as usize,
        control_soft_cap: chunking.control_soft_cap(),
        chunks: Vec::new(),
        current: Chunk::default(),
    };
    let first = covers
        .first()
        .map_or((new_len, 0), |c| (c.new as usize, c.old as usize));
    if first.0 > 0 || first.1 > 0 {
        planner.push((0, 0, 0), (0, first.0), first.1 as i64);
    }
    for (index, cover) in covers.iter().enumerate() {
        let (old, new, len) = (cover.old as usize, cover.new as usize, cover.len as usize);
        let (next_new, next_old) = covers.get(index + 1).map_or((new_len, old + len), |next| {
            (next.new as usize, next.old as usize)
        });
        let seek = next_old as i64 - (old + len) as i64;
        planner.push((old, new, len), (new + len, next_new - (new + len)), seek);
    }
    planner.close();
    planner.chunks
}

/// The body for `covers` of `new` by `old` (sorted, non-overlapping, inside both), and the
/// memory its decoder needs; None if no parameters fit `budget`.
pub fn encode(
    old: &[u8],
    new: &[u8],
    covers: &[Match],
    level: i32,
    budget: u64,
) -> Result<Option<(Vec<u8>, u64)>, CreateError> {
    let chunking = Chunking::for_budget(budget);
    let chunks = plan(new.len(), covers, chunking);
    let mut diff = Vec::new();
    let streams: Vec<[Vec<u8>; 3]> = chunks
        .iter()
        .map(|chunk| {
            let mut diff_runs = Vec::new();
            let mut extra = Vec::with_capacity(chunk.extra_len);
            diff.clear();
            for piece in &chunk.pieces {
                match *piece {
                    Piece::Add {
                        old: o,
                        new: n,
                        len,
                    } => diff.extend(
                        new[n..n + len]
                            .iter()
                            .zip(&old[o..o + len])
                            .map(|(a, b)| a.wrapping_sub(*b)),
                    ),
                    Piece::Extra { new: n, len } => extra.extend_from_slice(&new[n..n + len]),
                }
            }
            runs::encode(&diff, &mut diff_runs);
            [chunk.controls.clone(), diff_runs, extra]
        })
        .collect();
    let totals = streams.iter().fold([0u64; 3], |sum, chunk| {
        [0, 1, 2].map(|stream| sum[stream] + chunk[stream].len() as u64)
    });
    let diff_chunk_max = streams
        .iter()
        .map(|chunk| chunk[1].len())
        .max()
        .unwrap_or(0);
    let Ok(diff_chunk_max) = u32::try_from(diff_chunk_max) else {
        return Ok(None);
    };
    let Some(params) = Params::for_budget(budget, chunking, diff_chunk_max, totals) else {
        return Ok(None);
    };
    let mut encoders = [
        SegmentEncoder::new(level, params.control_window_log, totals[0])?,
        SegmentEncoder::new(level, params.diff_window_log, totals[1])?,
        SegmentEncoder::new(level, params.extra_window_log, totals[2])?,
    ];
    let mut body = params.to_bytes().to_vec();
    for (index, raw) in streams.iter().enumerate() {
        let last = index + 1 == streams.len();
        let mut segments = Vec::with_capacity(3);
        for (encoder, data) in encoders.iter_mut().zip(raw) {
            segments.push(encoder.segment(data, last)?);
        }
        for (data, segment) in raw.iter().zip(&segments) {
            varint::put_u64(&mut body, data.len() as u64);
            varint::put_u64(&mut body, segment.len() as u64);
        }
        for segment in &segments {
            body.extend_from_slice(segment);
        }
    }
    Ok(Some((body, params.memory())))
}
