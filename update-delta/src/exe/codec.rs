//! The primitives of the transform section's payload: LEB128 varints, zigzag signed
//! numbers, the recently-used displacements, a bounds-checked reader, and the memory
//! budget that decoding charges.

use crate::ApplyError;

/// How many recent displacements a segment can name by position: code that moved
/// within moved code returns to a displacement seen a few segments before.
const RECENT: usize = 16;

/// The displacements last used, most recent first. A displacement is written as its
/// position among them, or as `RECENT` + zigzag(difference from the most recent).
#[derive(Default)]
pub(super) struct Recent {
    used: Vec<i64>,
}

impl Recent {
    pub(super) fn encode(&mut self, displacement: i64) -> u64 {
        let code = match self.used.iter().position(|&d| d == displacement) {
            Some(index) => index as u64,
            None => RECENT as u64 + zigzag(displacement.wrapping_sub(self.latest())),
        };
        self.remember(displacement);
        code
    }

    pub(super) fn decode(&mut self, code: u64) -> Result<i64, ApplyError> {
        let displacement = match usize::try_from(code) {
            Ok(index) if index < RECENT => *self
                .used
                .get(index)
                .ok_or_else(|| corrupt("names a displacement not yet used"))?,
            _ => self
                .latest()
                .checked_add(unzigzag(code - RECENT as u64))
                .ok_or_else(|| corrupt("displacement overflows"))?,
        };
        self.remember(displacement);
        Ok(displacement)
    }

    fn latest(&self) -> i64 {
        self.used.first().copied().unwrap_or(0)
    }

    fn remember(&mut self, displacement: i64) {
        self.used.retain(|&d| d != displacement);
        self.used.insert(0, displacement);
        self.used.truncate(RECENT);
    }
}

pub(super) struct Budget {
    pub left: u64,
    pub limit: u64,
}

impl Budget {
    pub(super) fn take(&mut self, bytes: u64) -> Result<(), ApplyError> {
        self.left = self
            .left
            .checked_sub(bytes)
            .ok_or_else(|| ApplyError::OverMemoryLimit {
                needed: self.limit.saturating_add(bytes - self.left),
                limit: self.limit,
            })?;
        Ok(())
    }
}

pub(super) struct Cursor<'a> {
    pub bytes: &'a [u8],
    pub at: usize,
}

impl Cursor<'_> {
    pub(super) fn byte(&mut self) -> Result<u8, ApplyError> {
        let byte = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| corrupt("payload ends early"))?;
        self.at += 1;
        Ok(byte)
    }

    pub(super) fn varint(&mut self) -> Result<u64, ApplyError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7F);
            if shift == 63 && bits > 1 {
                return Err(corrupt("varint overflows"));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(corrupt("varint too long"))
    }

    /// A count of entries of `entry_size` bytes in memory, charged to `budget`. Every
    /// entry takes at least two payload bytes, which bounds the count before any
    /// allocation.
    pub(super) fn count(
        &mut self,
        budget: &mut Budget,
        entry_size: usize,
    ) -> Result<usize, ApplyError> {
        let count = self.varint()?;
        if count > (self.bytes.len() - self.at) as u64 / 2 {
            return Err(corrupt("more entries than bytes"));
        }
        budget.take(count * entry_size as u64)?;
        Ok(count as usize)
    }
}

pub(super) fn put(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

pub(super) fn add(a: u64, b: u64) -> Result<u64, ApplyError> {
    a.checked_add(b).ok_or_else(|| corrupt("offset overflows"))
}

pub(super) fn corrupt(why: &str) -> ApplyError {
    ApplyError::Corrupt(format!("executable prediction: {why}"))
}
