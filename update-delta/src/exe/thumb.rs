//! 32-bit ARM references in Thumb-2 state: BL, BLX (immediate), B.W (T4, 25-bit
//! offset) and conditional B.W (T3, 21-bit offset), relative to the instruction + 4.

use super::isa::{Kind, Reference, Targets, read_u16, scaled_offset, sign_extend, write_u16};

const PC_AHEAD: u64 = 4;

fn bit(value: u16, index: u32) -> u64 {
    u64::from((value >> index) & 1)
}

/// `Some((kind, target))` for a 32-bit branch whose half-words are `first`, `second`.
fn decode(first: u16, second: u16, address: u64) -> Option<(Kind, u64)> {
    if first & 0xF800 != 0xF000 {
        return None;
    }
    let sign = bit(first, 10);
    let (j1, j2) = (bit(second, 13), bit(second, 11));
    let pc = address.wrapping_add(PC_AHEAD);
    let imm11 = u64::from(second & 0x7FF);
    match second & 0xD000 {
        0xD000 | 0x9000 | 0xC000 => {
            let (i1, i2) = (1 ^ j1 ^ sign, 1 ^ j2 ^ sign);
            let imm10 = u64::from(first & 0x3FF);
            let halves = (sign << 23) | (i1 << 22) | (i2 << 21) | (imm10 << 11) | imm11;
            let offset = sign_extend(halves, 24) * 2;
            if second & 0xD000 == 0xC000 {
                // BLX to A32 code: the target is word aligned, H must be 0.
                (second & 1 == 0).then(|| (Kind::T32Blx, (pc & !3).wrapping_add_signed(offset)))
            } else {
                Some((Kind::T32Branch24, pc.wrapping_add_signed(offset)))
            }
        }
        0x8000 => {
            if (first >> 6) & 0xE == 0xE {
                return None;
            }
            let imm6 = u64::from(first & 0x3F);
            let halves = (sign << 19) | (j2 << 18) | (j1 << 17) | (imm6 << 11) | imm11;
            Some((
                Kind::T32Branch20,
                pc.wrapping_add_signed(sign_extend(halves, 20) * 2),
            ))
        }
        _ => None,
    }
}

pub(super) fn scan(code: &[u8], vaddr: u64, targets: &Targets, found: &mut dyn FnMut(Reference)) {
    let mut at = (vaddr & 1) as usize;
    while let (Some(first), Some(second)) = (read_u16(code, at), read_u16(code, at + 2)) {
        let source = vaddr.wrapping_add(at as u64);
        if let Some((kind, target)) = decode(first, second, source)
            && targets.is_code(target)
        {
            found(Reference {
                at,
                kind,
                source,
                target,
            });
            at += 4;
        } else {
            at += 2;
        }
    }
}

/// How many half-word pairs in `code` look like a BL into code: the evidence that the
/// code is Thumb-2 rather than A32.
pub(super) fn count_calls(code: &[u8], vaddr: u64, targets: &Targets) -> usize {
    let mut calls = 0;
    scan(code, vaddr, targets, &mut |reference| {
        if read_u16(code, reference.at + 2).is_some_and(|second| second & 0xD000 == 0xD000) {
            calls += 1;
        }
    });
    calls
}

/// Writes the S, J1, J2 bits and the low offset bits shared by every 32-bit branch.
fn write_branch(code: &mut [u8], at: usize, first: u16, second: u16) -> bool {
    write_u16(code, at, first) && write_u16(code, at + 2, second)
}

pub(super) fn encode(code: &mut [u8], reference: &Reference, source: u64, target: u64) -> bool {
    let at = reference.at;
    let (Some(first), Some(second)) = (read_u16(code, at), read_u16(code, at + 2)) else {
        return false;
    };
    let pc = source.wrapping_add(PC_AHEAD);
    let long = |pc: u64, align: i64| -> Option<(u16, u16)> {
        let halves = scaled_offset(pc, target, align, 25 - align.trailing_zeros())?
            << (align.trailing_zeros() - 1);
        let halves = halves as u64;
        let sign = (halves >> 23) & 1;
        let (j1, j2) = (
            1 ^ ((halves >> 22) & 1) ^ sign,
            1 ^ ((halves >> 21) & 1) ^ sign,
        );
        let first = (first & 0xF800) | (sign << 10) as u16 | ((halves >> 11) & 0x3FF) as u16;
        let second =
            (second & 0xD000) | (j1 << 13) as u16 | (j2 << 11) as u16 | (halves & 0x7FF) as u16;
        Some((first, second))
    };
    let encoded = match reference.kind {
        Kind::T32Branch24 => long(pc, 2),
        Kind::T32Blx => long(pc & !3, 4),
        Kind::T32Branch20 => scaled_offset(pc, target, 2, 20).map(|halves| {
            let halves = halves as u64;
            let first = (first & 0xFBC0)
                | (((halves >> 19) & 1) << 10) as u16
                | ((halves >> 11) & 0x3F) as u16;
            let j1 = (halves >> 17) & 1;
            let j2 = (halves >> 18) & 1;
            let second =
                (second & 0xD000) | (j1 << 13) as u16 | (j2 << 11) as u16 | (halves & 0x7FF) as u16;
            (first, second)
        }),
        _ => None,
    };
    encoded.is_some_and(|(first, second)| write_branch(code, at, first, second))
}

pub(super) fn blank(code: &mut [u8], reference: &Reference) {
    let at = reference.at;
    if let (Some(first), Some(second)) = (read_u16(code, at), read_u16(code, at + 2)) {
        let keep_first = if reference.kind == Kind::T32Branch20 {
            0xFBC0
        } else {
            0xF800
        };
        write_branch(code, at, first & keep_first, second & 0xD000);
    }
}
