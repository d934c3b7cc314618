//! What every instruction set has in common: a reference (an instruction operand that
//! encodes a target address relative to the instruction), the plausibility check on its
//! target, and the dispatch of scanning, re-encoding and blanking to the per-ISA modules.

use super::{aarch64, arm, data, thumb, x86_64};

/// The instruction sets whose references are predicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    X86_64,
    Aarch64,
    /// 32-bit ARM in A32 (ARM) state.
    Arm,
    /// 32-bit ARM in Thumb-2 state.
    Thumb,
}

impl Isa {
    pub(crate) fn id(self) -> u8 {
        match self {
            Isa::X86_64 => 1,
            Isa::Aarch64 => 2,
            Isa::Arm => 3,
            Isa::Thumb => 4,
        }
    }

    pub(crate) fn from_id(id: u8) -> Option<Isa> {
        match id {
            1 => Some(Isa::X86_64),
            2 => Some(Isa::Aarch64),
            3 => Some(Isa::Arm),
            4 => Some(Isa::Thumb),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::X86_64 => "x86-64",
            Isa::Aarch64 => "aarch64",
            Isa::Arm => "arm (A32)",
            Isa::Thumb => "arm (Thumb-2)",
        }
    }

    /// Calls `found` for every reference in `code` (whose first byte is at `vaddr`), in
    /// increasing order of position. Reads nothing outside `code`: the result is a
    /// function of `code`, `vaddr` and `targets` alone.
    pub(crate) fn scan(
        self,
        code: &[u8],
        vaddr: u64,
        targets: &Targets,
        found: &mut dyn FnMut(Reference),
    ) {
        match self {
            Isa::X86_64 => x86_64::scan(code, vaddr, targets, found),
            Isa::Aarch64 => aarch64::scan(code, vaddr, targets, found),
            Isa::Arm => arm::scan(code, vaddr, targets, found),
            Isa::Thumb => thumb::scan(code, vaddr, targets, found),
        }
    }

    /// Re-encodes `reference` (found in a scan of the same bytes) so that it points from
    /// `source` to `target`. Returns false, changing nothing, when the encoding cannot
    /// express that (out of range, misaligned).
    pub(crate) fn encode(
        self,
        code: &mut [u8],
        reference: &Reference,
        source: u64,
        target: u64,
    ) -> bool {
        if reference.kind.is_data() {
            return data::encode(code, reference, source, target);
        }
        match self {
            Isa::X86_64 => x86_64::encode(code, reference, source, target),
            Isa::Aarch64 => aarch64::encode(code, reference, source, target),
            Isa::Arm => arm::encode(code, reference, source, target),
            Isa::Thumb => thumb::encode(code, reference, source, target),
        }
    }

    /// Zeroes the operand bits of `reference`, so that code which moved matches itself.
    pub(crate) fn blank(self, code: &mut [u8], reference: &Reference) {
        if reference.kind.is_data() {
            return data::blank(code, reference);
        }
        match self {
            Isa::X86_64 => x86_64::blank(code, reference),
            Isa::Aarch64 => aarch64::blank(code, reference),
            Isa::Arm => arm::blank(code, reference),
            Isa::Thumb => thumb::blank(code, reference),
        }
    }
}

/// The encoding of one reference; each ISA module knows its own kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// x86-64: a little-endian disp32 relative to the end of the instruction, which is
    /// `tail` bytes after the operand's first byte.
    X86Rel32 { tail: u8 },
    /// AArch64 B/BL: imm26 words.
    A64Imm26,
    /// AArch64 B.cond, CBZ/CBNZ, LDR (literal): imm19 words at bit 5.
    A64Imm19,
    /// AArch64 TBZ/TBNZ: imm14 words at bit 5.
    A64Imm14,
    /// AArch64 ADR: a 21-bit byte offset.
    A64Adr,
    /// AArch64 ADRP whose low 12 bits are supplied by no recognised instruction.
    A64Adrp,
    /// AArch64 ADRP plus the ADD (`scale` 0 and `add`) or load/store (imm12 scaled by
    /// 2^`scale`) `second` instructions later that supplies the low 12 bits.
    A64AdrpPair { second: u8, scale: u8, add: bool },
    /// A32 B/BL (any condition): imm24 words relative to the instruction + 8.
    A32Branch,
    /// A32 BLX (immediate): imm24 words plus the H half-word bit, switching to Thumb.
    A32Blx,
    /// A32 literal pool word holding `target - source`, where the source is the pc of
    /// the `add rT, pc, rT` that uses it (elsewhere than the word).
    A32PoolOffset,
    /// Thumb-2 BL and B.W (T4): a 25-bit offset relative to the instruction + 4.
    T32Branch24,
    /// Thumb-2 BLX (immediate): like BL, relative to Align(instruction + 4, 4).
    T32Blx,
    /// Thumb-2 conditional B.W (T3): a 21-bit offset.
    T32Branch20,
    /// Data: an absolute address of `width` bytes.
    Pointer { width: u8 },
    /// Data: a 32-bit offset from the field (the reference's source) to the target.
    FieldRelative32,
    /// Data: a 32-bit offset from the start of the table (the reference's source).
    RegionRelative32,
    /// Data: ARM's prel31, a 31-bit offset from the field; bit 31 is not part of it.
    Prel31,
}

impl Kind {
    /// A short name of the family of encodings, for reports.
    pub(crate) fn family(self) -> &'static str {
        match self {
            Kind::X86Rel32 { .. } => "x86 rel32",
            Kind::A64Imm26 | Kind::A64Imm19 | Kind::A64Imm14 => "a64 branch/literal",
            Kind::A64Adr | Kind::A64Adrp | Kind::A64AdrpPair { .. } => "a64 adr/adrp",
            Kind::A32Branch | Kind::A32Blx => "a32 branch",
            Kind::A32PoolOffset => "a32 pool offset",
            Kind::T32Branch24 | Kind::T32Blx | Kind::T32Branch20 => "t32 branch",
            Kind::Pointer { .. } => "pointer",
            Kind::FieldRelative32 | Kind::RegionRelative32 => "unwind offset",
            Kind::Prel31 => "prel31",
        }
    }

    /// Whether the reference is found and encoded by the ISA-independent data scan.
    pub(crate) fn is_data(self) -> bool {
        matches!(
            self,
            Kind::Pointer { .. } | Kind::FieldRelative32 | Kind::RegionRelative32 | Kind::Prel31
        )
    }

    /// Whether the reference's source is the address of the reference itself (a
    /// table-relative offset's source is the table, a pool offset's is its add).
    pub(crate) fn source_is_field(self) -> bool {
        !matches!(self, Kind::RegionRelative32 | Kind::A32PoolOffset)
    }
}

/// One recognised reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reference {
    /// Offset in the scanned bytes of the first byte of the encoding (x86-64: of the
    /// operand; fixed-width ISAs: of the instruction).
    pub at: usize,
    pub kind: Kind,
    /// Virtual address of the byte at `at`.
    pub source: u64,
    /// Virtual address the reference points to.
    pub target: u64,
}

impl Reference {
    /// How many bytes from `at` the encoding spans (operand or instruction words).
    pub(crate) fn span(&self) -> usize {
        match self.kind {
            Kind::X86Rel32 { .. } => 4,
            Kind::A64AdrpPair { second, .. } => 4 * (usize::from(second) + 1),
            Kind::Pointer { width } => usize::from(width),
            _ => 4,
        }
    }
}

/// Where references may plausibly point: a candidate whose target is outside is not a
/// reference. Branches must land in code, data references in a loaded segment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Targets {
    /// Sorted, non-overlapping `[start, end)` virtual address ranges of code.
    pub code: Vec<(u64, u64)>,
    /// Sorted, non-overlapping `[start, end)` virtual address ranges of loaded memory.
    pub loaded: Vec<(u64, u64)>,
}

impl Targets {
    pub(crate) fn new(mut code: Vec<(u64, u64)>, mut loaded: Vec<(u64, u64)>) -> Targets {
        Targets {
            code: normalise(&mut code),
            loaded: normalise(&mut loaded),
        }
    }

    pub(crate) fn is_code(&self, address: u64) -> bool {
        contains(&self.code, address)
    }

    pub(crate) fn is_loaded(&self, address: u64) -> bool {
        contains(&self.loaded, address)
    }

    /// Whether a word holding `value` is plausibly an absolute pointer: into loaded
    /// memory, not below the code (small integers are far more common there than
    /// pointers to the headers, particularly in position-independent images loaded at 0).
    pub(crate) fn is_pointer(&self, value: u64) -> bool {
        self.code.first().is_some_and(|&(start, _)| value >= start) && self.is_loaded(value)
    }
}

fn contains(ranges: &[(u64, u64)], address: u64) -> bool {
    let after = ranges.partition_point(|&(start, _)| start <= address);
    after > 0 && address < ranges[after - 1].1
}

/// Sorts ranges and merges the overlapping or touching ones; drops empty ones.
fn normalise(ranges: &mut [(u64, u64)]) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for &(start, end) in ranges.iter().filter(|(start, end)| start < end) {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Sign-extends the low `bits` bits of `value`.
pub(crate) fn sign_extend(value: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((value << shift) as i64) >> shift
}

/// `target - source` when it is a multiple of `align` and fits a signed field of
/// `bits` bits once divided by `align`; the quotient.
pub(crate) fn scaled_offset(source: u64, target: u64, align: i64, bits: u32) -> Option<i64> {
    let offset = (target as i64).wrapping_sub(source as i64);
    if offset % align != 0 {
        return None;
    }
    let scaled = offset / align;
    let limit = 1i64 << (bits - 1);
    (-limit..limit).contains(&scaled).then_some(scaled)
}

pub(crate) fn read_u32(code: &[u8], at: usize) -> Option<u32> {
    let bytes = code.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

pub(crate) fn write_u32(code: &mut [u8], at: usize, value: u32) -> bool {
    match at.checked_add(4).and_then(|end| code.get_mut(at..end)) {
        Some(bytes) => {
            bytes.copy_from_slice(&value.to_le_bytes());
            true
        }
        None => false,
    }
}

pub(crate) fn read_u16(code: &[u8], at: usize) -> Option<u16> {
    let bytes = code.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([bytes[0], bytes[1]]))
}

pub(crate) fn write_u16(code: &mut [u8], at: usize, value: u16) -> bool {
    match at.checked_add(2).and_then(|end| code.get_mut(at..end)) {
        Some(bytes) => {
            bytes.copy_from_slice(&value.to_le_bytes());
            true
        }
        None => false,
    }
}
