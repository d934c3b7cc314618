//! 32-bit ARM references in A32 (ARM) state: B and BL under any condition, and BLX
//! (immediate), all a signed 24-bit word offset relative to the instruction + 8; and
//! in the literal pools between functions, absolute addresses, and the offsets that
//! position-independent code loads (`ldr rT, [pc, #imm]`) and adds to the pc
//! (`add rT, pc, rT`) a few instructions later.

use std::collections::BTreeSet;

use super::isa::{Kind, Reference, Targets, read_u32, scaled_offset, sign_extend, write_u32};

const PC_AHEAD: u64 = 8;
const IMM24: u32 = 0x00FF_FFFF;

/// `Some((kind, target))` for a B/BL/BLX word at `address`.
fn decode(word: u32, address: u64) -> Option<(Kind, u64)> {
    if (word >> 25) & 7 != 0b101 {
        return None;
    }
    let offset = sign_extend(u64::from(word & IMM24), 24) * 4;
    let pc = address.wrapping_add(PC_AHEAD);
    if word >> 28 == 0xF {
        let half = i64::from((word >> 24) & 1) * 2;
        Some((Kind::A32Blx, pc.wrapping_add_signed(offset + half)))
    } else {
        Some((Kind::A32Branch, pc.wrapping_add_signed(offset)))
    }
}

/// How far after the load its `add rT, pc, rT` is looked for, in instructions.
const ADD_WINDOW: usize = 4;

/// For `ldr rT, [pc, #+imm]` at `at` followed closely by `add rT, pc, rT`: the offset of
/// the pool word and the address of the add.
fn pool_load(code: &[u8], at: usize, word: u32) -> Option<(usize, usize)> {
    // LDR (literal), any condition, adding a word-aligned offset.
    if word & 0x0FFF_0003 != 0x059F_0000 {
        return None;
    }
    let register = (word >> 12) & 0xF;
    let pool = at + PC_AHEAD as usize + (word & 0xFFF) as usize;
    read_u32(code, pool)?;
    let add = 0x008F_0000 | register << 12 | register;
    (1..=ADD_WINDOW)
        .map(|distance| at + 4 * distance)
        .find(|&next| read_u32(code, next).is_some_and(|w| w & 0x0FFF_FFFF == add))
        .map(|next| (pool, next))
}

pub(super) fn scan(code: &[u8], vaddr: u64, targets: &Targets, found: &mut dyn FnMut(Reference)) {
    let mut at = (vaddr.wrapping_neg() & 3) as usize;
    // Pool words ahead, already reported by the load that uses them.
    let mut claimed: BTreeSet<usize> = BTreeSet::new();
    while let Some(word) = read_u32(code, at) {
        let source = vaddr.wrapping_add(at as u64);
        while claimed.first().is_some_and(|&pool| pool < at) {
            claimed.pop_first();
        }
        if claimed.first() == Some(&at) {
            at += 4;
            continue;
        }
        if let Some((pool, add)) = pool_load(code, at, word)
            && !claimed.contains(&pool)
            && let Some(offset) = read_u32(code, pool)
        {
            let pc = vaddr.wrapping_add((add as u64).wrapping_add(PC_AHEAD));
            let target = pc.wrapping_add_signed(i64::from(offset as i32));
            if targets.is_loaded(target) {
                claimed.insert(pool);
                found(Reference {
                    at: pool,
                    kind: Kind::A32PoolOffset,
                    source: pc,
                    target,
                });
            }
            at += 4;
            continue;
        }
        let reference = match decode(word, source) {
            Some((kind, target)) => targets.is_code(target).then_some((kind, target)),
            // A literal pool entry holding an address (code that is not position
            // independent loads addresses from pools between functions).
            None => {
                let value = u64::from(word);
                targets
                    .is_pointer(value)
                    .then_some((Kind::Pointer { width: 4 }, value))
            }
        };
        if let Some((kind, target)) = reference {
            found(Reference {
                at,
                kind,
                source,
                target,
            });
        }
        at += 4;
    }
}

/// How many words in `code` look like an unconditional BL into code: the evidence that
/// the code is A32 rather than Thumb-2.
pub(super) fn count_calls(code: &[u8], vaddr: u64, targets: &Targets) -> usize {
    let mut calls = 0;
    scan(code, vaddr, targets, &mut |reference| {
        if code.get(reference.at + 3) == Some(&0xEB) {
            calls += 1;
        }
    });
    calls
}

pub(super) fn encode(code: &mut [u8], reference: &Reference, source: u64, target: u64) -> bool {
    let Some(word) = read_u32(code, reference.at) else {
        return false;
    };
    let pc = source.wrapping_add(PC_AHEAD);
    let encoded = match reference.kind {
        Kind::A32Branch => {
            scaled_offset(pc, target, 4, 24).map(|words| (word & !IMM24) | (words as u32 & IMM24))
        }
        // The source is already the pc of the add.
        Kind::A32PoolOffset => scaled_offset(source, target, 1, 32).map(|offset| offset as u32),
        Kind::A32Blx => scaled_offset(pc, target, 2, 25).map(|halves| {
            let half = (halves as u32 & 1) << 24;
            (word & !(IMM24 | 1 << 24)) | half | ((halves >> 1) as u32 & IMM24)
        }),
        _ => None,
    };
    encoded.is_some_and(|word| write_u32(code, reference.at, word))
}

pub(super) fn blank(code: &mut [u8], reference: &Reference) {
    let operand_bits = match reference.kind {
        Kind::A32PoolOffset => u32::MAX,
        Kind::A32Blx => IMM24 | 1 << 24,
        _ => IMM24,
    };
    if let Some(word) = read_u32(code, reference.at) {
        write_u32(code, reference.at, word & !operand_bits);
    }
}
