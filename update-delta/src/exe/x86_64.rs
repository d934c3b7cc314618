//! x86-64 references: `E8`/`E9` call/jmp rel32, `0F 8x` Jcc rel32, and RIP-relative
//! disp32 memory operands (ModRM mod=00 rm=101) of the common one-, two- and three-byte
//! and VEX opcodes.
//!
//! The scan is a linear sweep, not a disassembly: at each byte it tries to read an
//! instruction that carries a reference; a candidate whose target is implausible is
//! rejected and the sweep moves on by one byte, an accepted one is skipped whole. It
//! only ever reads forward from the candidate's first byte (plus one or two prefix bytes
//! before it), so it is a function of the scanned bytes alone.

use super::isa::{Kind, Reference, Targets, scaled_offset};

/// What follows a ModRM byte of an opcode: whether the opcode takes a ModRM at all and
/// the size of its immediate.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Operands {
    None,
    ModRm,
    ModRmImm8,
    /// imm32, or imm16 under an operand-size (66) prefix.
    ModRmImmZ,
    /// Group 3 (F6): imm8 for /0 and /1 (TEST), nothing otherwise.
    Group3Byte,
    /// Group 3 (F7): immZ for /0 and /1 (TEST), nothing otherwise.
    Group3Full,
}

fn one_byte(opcode: u8) -> Operands {
    match opcode {
        0x00..=0x03 | 0x08..=0x0B | 0x10..=0x13 | 0x18..=0x1B => Operands::ModRm,
        0x20..=0x23 | 0x28..=0x2B | 0x30..=0x33 | 0x38..=0x3B => Operands::ModRm,
        0x63 | 0x84..=0x8B | 0x8D | 0x8F | 0xD0..=0xD3 | 0xD8..=0xDF | 0xFE | 0xFF => {
            Operands::ModRm
        }
        0x6B | 0x80 | 0x83 | 0xC0 | 0xC1 | 0xC6 => Operands::ModRmImm8,
        0x69 | 0x81 | 0xC7 => Operands::ModRmImmZ,
        0xF6 => Operands::Group3Byte,
        0xF7 => Operands::Group3Full,
        _ => Operands::None,
    }
}

/// Opcodes of the `0F` map (and of VEX map 1).
fn two_byte(opcode: u8) -> Operands {
    match opcode {
        0x10..=0x18 | 0x1F | 0x28..=0x2F | 0x40..=0x6F | 0x74..=0x7F => Operands::ModRm,
        0x90..=0x9F | 0xA3 | 0xAB | 0xAF | 0xB0 | 0xB1 | 0xB3 | 0xB6..=0xB8 => Operands::ModRm,
        0xBB..=0xBF | 0xC0 | 0xC1 | 0xC3 | 0xC7 | 0xD0..=0xFE => Operands::ModRm,
        0x70..=0x73 | 0xA4 | 0xAC | 0xBA | 0xC2 | 0xC4..=0xC6 => Operands::ModRmImm8,
        _ => Operands::None,
    }
}

/// A candidate instruction at some position: where its disp32/rel32 operand starts,
/// how many bytes from there to the end of the instruction, and whether its target
/// must be code (a branch) or any loaded address (a data reference).
struct Candidate {
    operand: usize,
    tail: u8,
    branch: bool,
}

fn immediate_size(operands: Operands, modrm: u8, operand_size_prefix: bool) -> Option<u8> {
    let immz = if operand_size_prefix { 2 } else { 4 };
    let test = (modrm >> 3) & 7 < 2;
    match operands {
        Operands::None => None,
        Operands::ModRm => Some(0),
        Operands::ModRmImm8 => Some(1),
        Operands::ModRmImmZ => Some(immz),
        Operands::Group3Byte => Some(if test { 1 } else { 0 }),
        Operands::Group3Full => Some(if test { immz } else { 0 }),
    }
}

fn is_rip_relative(modrm: u8) -> bool {
    modrm & 0xC7 == 0x05
}

/// A RIP-relative operand: ModRM at `modrm_at`, then disp32, then the immediate.
fn rip_relative(
    code: &[u8],
    modrm_at: usize,
    operands: Operands,
    prefix66: bool,
) -> Option<Candidate> {
    let modrm = *code.get(modrm_at)?;
    if !is_rip_relative(modrm) {
        return None;
    }
    let immediate = immediate_size(operands, modrm, prefix66)?;
    Some(Candidate {
        operand: modrm_at + 1,
        tail: 4 + immediate,
        branch: false,
    })
}

/// Whether an operand-size prefix precedes the opcode at `at` (possibly before a REX).
fn has_prefix66(code: &[u8], at: usize) -> bool {
    match at.checked_sub(1).map(|i| code[i]) {
        Some(0x66) => true,
        Some(0x40..=0x4F) => at >= 2 && code[at - 2] == 0x66,
        _ => false,
    }
}

fn candidate_at(code: &[u8], at: usize) -> Option<Candidate> {
    let opcode = code[at];
    match opcode {
        0xE8 | 0xE9 => Some(Candidate {
            operand: at + 1,
            tail: 4,
            branch: true,
        }),
        0x0F => {
            let second = *code.get(at + 1)?;
            match second {
                0x80..=0x8F => Some(Candidate {
                    operand: at + 2,
                    tail: 4,
                    branch: true,
                }),
                0x38 => rip_relative(code, at + 3, Operands::ModRm, false),
                0x3A => rip_relative(code, at + 3, Operands::ModRmImm8, false),
                _ => rip_relative(code, at + 2, two_byte(second), has_prefix66(code, at)),
            }
        }
        // Two-byte VEX: C5 [R vvvv L pp] opcode ModRM, always map 0F.
        0xC5 => rip_relative(code, at + 3, two_byte(*code.get(at + 2)?), false),
        // Three-byte VEX: C4 [RXB mmmmm] [W vvvv L pp] opcode ModRM.
        0xC4 => {
            let operands = match *code.get(at + 1)? & 0x1F {
                1 => two_byte(*code.get(at + 3)?),
                2 => Operands::ModRm,
                3 => Operands::ModRmImm8,
                _ => return None,
            };
            rip_relative(code, at + 4, operands, false)
        }
        _ => rip_relative(code, at + 1, one_byte(opcode), has_prefix66(code, at)),
    }
}

pub(super) fn scan(code: &[u8], vaddr: u64, targets: &Targets, found: &mut dyn FnMut(Reference)) {
    let mut at = 0;
    while at < code.len() {
        if let Some(candidate) = candidate_at(code, at) {
            let end = candidate.operand + usize::from(candidate.tail);
            if end <= code.len() {
                let operand = &code[candidate.operand..candidate.operand + 4];
                let displacement =
                    i32::from_le_bytes([operand[0], operand[1], operand[2], operand[3]]);
                let source = vaddr.wrapping_add(candidate.operand as u64);
                let target = source
                    .wrapping_add(u64::from(candidate.tail))
                    .wrapping_add_signed(i64::from(displacement));
                let plausible = if candidate.branch {
                    targets.is_code(target)
                } else {
                    targets.is_loaded(target)
                };
                if plausible {
                    found(Reference {
                        at: candidate.operand,
                        kind: Kind::X86Rel32 {
                            tail: candidate.tail,
                        },
                        source,
                        target,
                    });
                    at = end;
                    continue;
                }
            }
        }
        at += 1;
    }
}

pub(super) fn encode(code: &mut [u8], reference: &Reference, source: u64, target: u64) -> bool {
    let Kind::X86Rel32 { tail } = reference.kind else {
        return false;
    };
    let Some(displacement) = scaled_offset(source.wrapping_add(u64::from(tail)), target, 1, 32)
    else {
        return false;
    };
    match code.get_mut(reference.at..reference.at + 4) {
        Some(operand) => {
            operand.copy_from_slice(&(displacement as i32).to_le_bytes());
            true
        }
        None => false,
    }
}

pub(super) fn blank(code: &mut [u8], reference: &Reference) {
    if let Some(operand) = code.get_mut(reference.at..reference.at + 4) {
        operand.fill(0);
    }
}
