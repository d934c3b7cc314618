//! AArch64 references: B/BL (imm26), B.cond, CBZ/CBNZ and LDR (literal) (imm19),
//! TBZ/TBNZ (imm14), ADR, and ADRP together with the ADD or load/store that supplies
//! the low 12 bits of its address when one follows within a few instructions.

use super::isa::{Kind, Reference, Targets, read_u32, scaled_offset, sign_extend, write_u32};

/// How far after an ADRP its low-12-bits consumer is looked for, in instructions.
const PAIR_WINDOW: usize = 4;
const PAGE: u64 = 0xFFF;

fn field(word: u32, shift: u32, bits: u32) -> u64 {
    u64::from((word >> shift) & ((1 << bits) - 1))
}

fn with_field(word: u32, shift: u32, bits: u32, value: i64) -> u32 {
    let mask = ((1u32 << bits) - 1) << shift;
    (word & !mask) | (((value as u32) << shift) & mask)
}

/// The 21-bit immediate of ADR/ADRP (immhi at bit 5, immlo at bit 29).
fn adr_immediate(word: u32) -> i64 {
    sign_extend((field(word, 5, 19) << 2) | field(word, 29, 2), 21)
}

fn with_adr_immediate(word: u32, value: i64) -> u32 {
    with_field(with_field(word, 29, 2, value & 3), 5, 19, value >> 2)
}

/// The consumer of an ADRP's register: ADD (immediate, 64-bit, unshifted) or a
/// load/store (unsigned immediate); `Some((scale, is_add))`.
fn low_bits_consumer(word: u32, register: u32) -> Option<(u8, bool)> {
    if (word >> 5) & 0x1F != register {
        return None;
    }
    if word & 0xFFC0_0000 == 0x9100_0000 {
        return Some((0, true));
    }
    if word & 0x3B00_0000 == 0x3900_0000 {
        let size = (word >> 30) as u8;
        let vector_128 = word & (1 << 26) != 0 && word & (1 << 23) != 0;
        return Some((if vector_128 { 4 } else { size }, false));
    }
    None
}

/// The ADRP at `at` (register `rd`) paired with its consumer, if one follows closely.
fn pair(code: &[u8], at: usize, word: u32) -> Option<(u8, u8, bool, u64)> {
    let register = word & 0x1F;
    for distance in 1..=PAIR_WINDOW {
        let next = read_u32(code, at + 4 * distance)?;
        if let Some((scale, add)) = low_bits_consumer(next, register) {
            let low = field(next, 10, 12) << scale;
            return Some((distance as u8, scale, add, low));
        }
        // The register is probably overwritten, or control flow leaves: stop looking.
        if next & 0x1F == register || next & 0x7C00_0000 == 0x1400_0000 {
            return None;
        }
    }
    None
}

fn decode(code: &[u8], at: usize, word: u32, address: u64) -> Option<(Kind, u64, bool)> {
    let relative = |offset: i64| address.wrapping_add_signed(offset);
    if word & 0x7C00_0000 == 0x1400_0000 {
        return Some((
            Kind::A64Imm26,
            relative(sign_extend(field(word, 0, 26), 26) * 4),
            true,
        ));
    }
    if word & 0xFF00_0010 == 0x5400_0000 || word & 0x7E00_0000 == 0x3400_0000 {
        return Some((
            Kind::A64Imm19,
            relative(sign_extend(field(word, 5, 19), 19) * 4),
            true,
        ));
    }
    if word & 0x7E00_0000 == 0x3600_0000 {
        return Some((
            Kind::A64Imm14,
            relative(sign_extend(field(word, 5, 14), 14) * 4),
            true,
        ));
    }
    if word & 0x3B00_0000 == 0x1800_0000 {
        return Some((
            Kind::A64Imm19,
            relative(sign_extend(field(word, 5, 19), 19) * 4),
            false,
        ));
    }
    if word & 0x9F00_0000 == 0x1000_0000 {
        return Some((Kind::A64Adr, relative(adr_immediate(word)), false));
    }
    if word & 0x9F00_0000 == 0x9000_0000 {
        let page = (address & !PAGE).wrapping_add_signed(adr_immediate(word) << 12);
        return Some(match pair(code, at, word) {
            Some((second, scale, add, low)) => (
                Kind::A64AdrpPair { second, scale, add },
                page.wrapping_add(low),
                false,
            ),
            None => (Kind::A64Adrp, page, false),
        });
    }
    None
}

pub(super) fn scan(code: &[u8], vaddr: u64, targets: &Targets, found: &mut dyn FnMut(Reference)) {
    let mut at = (vaddr.wrapping_neg() & 3) as usize;
    while let Some(word) = read_u32(code, at) {
        let source = vaddr.wrapping_add(at as u64);
        if let Some((kind, target, branch)) = decode(code, at, word, source) {
            let plausible = if branch {
                targets.is_code(target)
            } else {
                targets.is_loaded(target)
            };
            if plausible {
                found(Reference {
                    at,
                    kind,
                    source,
                    target,
                });
            }
        }
        at += 4;
    }
}

pub(super) fn encode(code: &mut [u8], reference: &Reference, source: u64, target: u64) -> bool {
    let at = reference.at;
    let Some(word) = read_u32(code, at) else {
        return false;
    };
    let encoded = match reference.kind {
        Kind::A64Imm26 => scaled_offset(source, target, 4, 26).map(|v| with_field(word, 0, 26, v)),
        Kind::A64Imm19 => scaled_offset(source, target, 4, 19).map(|v| with_field(word, 5, 19, v)),
        Kind::A64Imm14 => scaled_offset(source, target, 4, 14).map(|v| with_field(word, 5, 14, v)),
        Kind::A64Adr => scaled_offset(source, target, 1, 21).map(|v| with_adr_immediate(word, v)),
        Kind::A64Adrp => scaled_offset(source & !PAGE, target & !PAGE, 1 << 12, 21)
            .map(|v| with_adr_immediate(word, v)),
        Kind::A64AdrpPair { second, scale, .. } => {
            let consumer_at = at + 4 * usize::from(second);
            let (Some(pages), Some(consumer)) = (
                scaled_offset(source & !PAGE, target & !PAGE, 1 << 12, 21),
                read_u32(code, consumer_at),
            ) else {
                return false;
            };
            let low = target & PAGE;
            if low & ((1 << scale) - 1) != 0 {
                return false;
            }
            let consumer = with_field(consumer, 10, 12, (low >> scale) as i64);
            if !write_u32(code, consumer_at, consumer) {
                return false;
            }
            Some(with_adr_immediate(word, pages))
        }
        _ => None,
    };
    encoded.is_some_and(|word| write_u32(code, at, word))
}

pub(super) fn blank(code: &mut [u8], reference: &Reference) {
    let at = reference.at;
    let Some(word) = read_u32(code, at) else {
        return;
    };
    let blanked = match reference.kind {
        Kind::A64Imm26 => with_field(word, 0, 26, 0),
        Kind::A64Imm19 => with_field(word, 5, 19, 0),
        Kind::A64Imm14 => with_field(word, 5, 14, 0),
        Kind::A64Adr | Kind::A64Adrp => with_adr_immediate(word, 0),
        Kind::A64AdrpPair { second, .. } => {
            let consumer_at = at + 4 * usize::from(second);
            if let Some(consumer) = read_u32(code, consumer_at) {
                write_u32(code, consumer_at, with_field(consumer, 10, 12, 0));
            }
            with_adr_immediate(word, 0)
        }
        _ => word,
    };
    write_u32(code, at, blanked);
}
