//! References outside instructions: absolute pointers (relocation tables, symbol
//! values, pointer tables), 32-bit offsets relative to the field or to the start of
//! their table (unwind tables), and ARM's prel31 (`.ARM.exidx`). The same
//! instruction-set-independent word scan serves every architecture.

use super::isa::{Kind, Reference, Targets, read_u32, scaled_offset, sign_extend, write_u32};
use super::region::{Content, Region};

/// Calls `found` for every plausible reference in `bytes`, the part of `region` from
/// file offset `offset`.
pub(super) fn scan(
    region: &Region,
    offset: u64,
    bytes: &[u8],
    targets: &Targets,
    found: &mut dyn FnMut(Reference),
) {
    let content = region.content;
    let region_vaddr = region.vaddr;
    let vaddr = region_vaddr.wrapping_add(offset - region.offset);
    let width = match content {
        Content::Pointers64 => 8,
        Content::Code => return,
        _ => 4,
    };
    // Alignment follows the file offset, which is the vaddr modulo the page size.
    let mut at = (offset.wrapping_neg() % width) as usize;
    let width = width as usize;
    while let Some(field) = bytes.get(at..at + width) {
        let source = vaddr.wrapping_add(at as u64);
        let mut word = [0u8; 8];
        word[..width].copy_from_slice(field);
        let value = u64::from_le_bytes(word);
        let relative = sign_extend(value, 32);
        let reference = match content {
            Content::Pointers64 | Content::Pointers32 => targets.is_pointer(value).then_some((
                Kind::Pointer { width: width as u8 },
                source,
                value,
            )),
            Content::FieldRelative32 => {
                let target = source.wrapping_add_signed(relative);
                targets
                    .is_code(target)
                    .then_some((Kind::FieldRelative32, source, target))
            }
            Content::RegionRelative32 => {
                let target = region_vaddr.wrapping_add_signed(relative);
                targets
                    .is_loaded(target)
                    .then_some((Kind::RegionRelative32, region_vaddr, target))
            }
            Content::Prel31 => {
                let target = source.wrapping_add_signed(sign_extend(value, 31));
                (value & 0x8000_0000 == 0 && targets.is_loaded(target)).then_some((
                    Kind::Prel31,
                    source,
                    target,
                ))
            }
            Content::Code => None,
        };
        if let Some((kind, source, target)) = reference {
            found(Reference {
                at,
                kind,
                source,
                target,
            });
        }
        at += width;
    }
}

pub(super) fn encode(bytes: &mut [u8], reference: &Reference, source: u64, target: u64) -> bool {
    let at = reference.at;
    match reference.kind {
        Kind::Pointer { width: 8 } => match bytes.get_mut(at..at + 8) {
            Some(field) => {
                field.copy_from_slice(&target.to_le_bytes());
                true
            }
            None => false,
        },
        Kind::Pointer { .. } => {
            u32::try_from(target).is_ok_and(|value| write_u32(bytes, at, value))
        }
        Kind::FieldRelative32 | Kind::RegionRelative32 => scaled_offset(source, target, 1, 32)
            .is_some_and(|value| write_u32(bytes, at, value as u32)),
        Kind::Prel31 => match (scaled_offset(source, target, 1, 31), read_u32(bytes, at)) {
            (Some(value), Some(word)) => write_u32(
                bytes,
                at,
                (word & 0x8000_0000) | (value as u32 & 0x7FFF_FFFF),
            ),
            _ => false,
        },
        _ => false,
    }
}

pub(super) fn blank(bytes: &mut [u8], reference: &Reference) {
    let at = reference.at;
    let kept = match reference.kind {
        Kind::Prel31 => read_u32(bytes, at).map_or(0, |word| word & 0x8000_0000),
        _ => 0,
    };
    if let Some(field) = bytes.get_mut(at..at + reference.span()) {
        field.fill(0);
    }
    if kept != 0 {
        write_u32(bytes, at, kept);
    }
}
