//! Synthetic programs for tests: functions made of filler instructions and references
//! (calls, branches to other functions, loads of data items), assembled for each ISA
//! into an ELF image; and the "next release" of a program, in which one function grew,
//! one moved to the end, one changed, one appeared, and data items shifted.

use std::collections::HashMap;

use super::elf_writer::{self, EM_AARCH64, EM_ARM, EM_X86_64, Section};
use crate::exe::isa::{Isa, Kind, Reference};

const TEXT: u64 = 0x40_1000;
const DATA: u64 = 0x80_0000;
const UNWIND: u64 = 0xA0_0000;
/// Every so many functions has its address in the data's pointer table.
const POINTED_TO: usize = 7;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Op {
    /// `units` filler instructions (bytes, words or half-words) drawn from `seed`.
    Filler {
        seed: u32,
        units: u8,
    },
    Call(u32),
    Branch(u32),
    Load(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Function {
    pub id: u32,
    pub ops: Vec<Op>,
}

#[derive(Clone, Debug)]
pub(super) struct Program {
    pub functions: Vec<Function>,
    /// `(id, size)` of each data item, in layout order.
    pub data: Vec<(u32, usize)>,
}

pub(super) struct Built {
    pub image: Vec<u8>,
    /// File offset and length of each function, by id.
    pub functions: HashMap<u32, (usize, usize)>,
    pub text_offset: usize,
    pub text_len: usize,
}

/// xorshift64*: reproducible pseudo-random numbers without a dependency.
pub(super) struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

impl Program {
    pub fn random(seed: u64, functions: u32, data: u32) -> Program {
        let mut rng = Rng(seed | 1);
        let functions = (0..functions)
            .map(|id| {
                let mut ops = vec![
                    Op::Call(rng.below(functions.into()) as u32),
                    Op::Load(rng.below(data.into()) as u32),
                ];
                for _ in 0..2 + rng.below(6) {
                    let target = rng.below(functions.into()) as u32;
                    let op = match rng.below(4) {
                        0 => Op::Call(target),
                        1 => Op::Branch(target),
                        2 => Op::Load(rng.below(data.into()) as u32),
                        _ => Op::Filler {
                            seed: rng.next() as u32,
                            units: 1 + rng.below(6) as u8,
                        },
                    };
                    ops.insert(rng.below(ops.len() as u64 + 1) as usize, op);
                }
                ops.insert(
                    0,
                    Op::Filler {
                        seed: rng.next() as u32,
                        units: 2,
                    },
                );
                Function { id, ops }
            })
            .collect();
        let data = (0..data)
            .map(|id| (id, 8 * (1 + rng.below(8) as usize)))
            .collect();
        Program { functions, data }
    }

    /// The next release, and the ids of the functions whose body changed: every 97th
    /// function (from the 4th) grew, every 89th (from the 18th) changed, the 11th moved to
    /// the end, a new one appeared at the 26th place, and two data items moved.
    pub fn next_release(&self) -> (Program, Vec<u32>) {
        let mut functions = self.functions.clone();
        let mut changed = vec![1000];
        for (index, function) in functions.iter_mut().enumerate() {
            if index % 97 == 3 {
                function.ops.insert(
                    1,
                    Op::Filler {
                        seed: 9999,
                        units: 3,
                    },
                );
                changed.push(function.id);
            } else if index % 89 == 17 {
                function.ops[0] = Op::Filler {
                    seed: 4242,
                    units: 5,
                };
                changed.push(function.id);
            }
        }
        let moved = functions.remove(10);
        functions.push(moved);
        let added = Function {
            id: 1000,
            ops: vec![Op::Call(5), Op::Load(2), Op::Filler { seed: 7, units: 4 }],
        };
        functions.insert(25, added);
        let mut data = self.data.clone();
        data.insert(5, (500, 24));
        data[12].1 += 16;
        (Program { functions, data }, changed)
    }
}

fn op_len(isa: Isa, op: &Op) -> usize {
    let unit = match isa {
        Isa::X86_64 => 1,
        Isa::Thumb => 2,
        Isa::Aarch64 | Isa::Arm => 4,
    };
    match (isa, op) {
        (_, Op::Filler { units, .. }) => usize::from(*units) * unit,
        (Isa::X86_64, Op::Call(_)) => 5,
        (Isa::X86_64, Op::Branch(_)) => 6,
        (Isa::X86_64, Op::Load(_)) => 7,
        (Isa::Aarch64, Op::Load(_)) => 8,
        (Isa::Arm, Op::Load(id)) if id % 2 == 1 => 12,
        _ => 4,
    }
}

fn filler(isa: Isa, seed: u32, units: u8) -> Vec<u8> {
    let mut rng = Rng(u64::from(seed) << 1 | 1);
    let mut bytes = Vec::new();
    for _ in 0..units {
        match isa {
            // push/pop and xchg: never a reference, never part of one.
            Isa::X86_64 => bytes.push([0x50, 0x90][rng.below(2) as usize] + rng.below(8) as u8),
            Isa::Aarch64 => {
                let word = 0xAA00_03E0 | (rng.below(31) as u32) << 16 | (1 + rng.below(28) as u32);
                bytes.extend_from_slice(&word.to_le_bytes());
            }
            Isa::Arm => {
                let word = 0xE1A0_0000 | (rng.below(13) as u32) << 12 | rng.below(13) as u32;
                bytes.extend_from_slice(&word.to_le_bytes());
            }
            Isa::Thumb => {
                let half = 0x4600 | (rng.below(16) as u16) << 3 | rng.below(8) as u16;
                bytes.extend_from_slice(&half.to_le_bytes());
            }
        }
    }
    bytes
}

/// The encoding template of a reference op: bytes, operand offset, kind.
fn template(isa: Isa, op: &Op) -> (Vec<u8>, usize, Kind) {
    let words = |words: &[u32]| {
        words
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<u8>>()
    };
    let halves = |halves: &[u16]| {
        halves
            .iter()
            .flat_map(|h| h.to_le_bytes())
            .collect::<Vec<u8>>()
    };
    let rel32 = Kind::X86Rel32 { tail: 4 };
    match (isa, op) {
        (Isa::X86_64, Op::Call(_)) => (vec![0xE8, 0, 0, 0, 0], 1, rel32),
        (Isa::X86_64, Op::Branch(_)) => (vec![0x0F, 0x84, 0, 0, 0, 0], 2, rel32),
        (Isa::X86_64, _) => (vec![0x48, 0x8D, 0x05, 0, 0, 0, 0], 3, rel32),
        (Isa::Aarch64, Op::Call(_)) => (words(&[0x9400_0000]), 0, Kind::A64Imm26),
        (Isa::Aarch64, Op::Branch(_)) => (words(&[0xB400_0001]), 0, Kind::A64Imm19),
        (Isa::Aarch64, _) => {
            let kind = Kind::A64AdrpPair {
                second: 1,
                scale: 0,
                add: true,
            };
            (words(&[0x9000_0000, 0x9100_0000]), 0, kind)
        }
        (Isa::Arm, Op::Call(_)) => (words(&[0xEB00_0000]), 0, Kind::A32Branch),
        (Isa::Arm, _) => (words(&[0x0A00_0000]), 0, Kind::A32Branch),
        (Isa::Thumb, Op::Call(_)) => (halves(&[0xF000, 0xD000]), 0, Kind::T32Branch24),
        (Isa::Thumb, _) => (halves(&[0xF000, 0x9000]), 0, Kind::T32Branch24),
    }
}

pub(super) fn build(isa: Isa, program: &Program) -> Built {
    let mut function_addresses = HashMap::new();
    let mut address = TEXT;
    for function in &program.functions {
        function_addresses.insert(function.id, address);
        address += function
            .ops
            .iter()
            .map(|op| op_len(isa, op) as u64)
            .sum::<u64>();
    }
    // A table of pointers to functions (in the order of the functions' ids, the same in
    // every release), then the data items.
    let wide = matches!(isa, Isa::X86_64 | Isa::Aarch64);
    let mut pointed: Vec<u32> = program
        .functions
        .iter()
        .map(|f| f.id)
        .filter(|id| *id < 1000)
        .collect();
    pointed.sort_unstable();
    let mut data = Vec::new();
    for id in pointed.iter().step_by(POINTED_TO) {
        let address = function_addresses[id];
        if wide {
            data.extend(address.to_le_bytes());
        } else {
            data.extend((address as u32).to_le_bytes());
        }
    }
    let mut data_addresses = HashMap::new();
    for &(id, size) in &program.data {
        data_addresses.insert(id, DATA + data.len() as u64);
        data.extend(filler(Isa::X86_64, id + 77, size as u8));
    }
    let mut text = Vec::new();
    let mut ranges = HashMap::new();
    for function in &program.functions {
        let start = text.len();
        for op in &function.ops {
            let here = TEXT + text.len() as u64;
            let target = match (isa, op) {
                (_, Op::Filler { seed, units }) => {
                    text.extend(filler(isa, *seed, *units));
                    continue;
                }
                // Position-independent: `ldr r0, [pc]; add r0, pc, r0` and the pool
                // word holding the offset from the add's pc to the item.
                (Isa::Arm, Op::Load(id)) if id % 2 == 1 => {
                    let offset = data_addresses[id].wrapping_sub(here + 4 + 8) as u32;
                    for word in [0xE59F_0000, 0xE08F_0000, offset] {
                        text.extend(u32::to_le_bytes(word));
                    }
                    continue;
                }
                // A literal pool word holding the item's address.
                (Isa::Arm, Op::Load(id)) => {
                    text.extend((data_addresses[id] as u32).to_le_bytes());
                    continue;
                }
                (Isa::Thumb, Op::Load(id)) => {
                    text.extend(filler(isa, *id, 2));
                    continue;
                }
                (_, Op::Load(id)) => data_addresses[id],
                (_, Op::Call(id) | Op::Branch(id)) => function_addresses[id],
            };
            let (mut bytes, at, kind) = template(isa, op);
            let source = here + at as u64;
            let reference = Reference {
                at,
                kind,
                source,
                target,
            };
            assert!(
                isa.encode(&mut bytes, &reference, source, target),
                "{isa:?} {op:?}"
            );
            text.extend(bytes);
        }
        ranges.insert(function.id, (start, text.len() - start));
    }
    let (machine, wide) = match isa {
        Isa::X86_64 => (EM_X86_64, true),
        Isa::Aarch64 => (EM_AARCH64, true),
        Isa::Arm | Isa::Thumb => (EM_ARM, false),
    };
    let text_len = text.len();
    let unwind = unwind_records(program, &function_addresses, &ranges);
    let sections = [
        Section {
            name: ".text",
            vaddr: TEXT,
            bytes: text,
            exec: true,
        },
        Section {
            name: ".data",
            vaddr: DATA,
            bytes: data,
            exec: false,
        },
        Section {
            name: ".eh_frame",
            vaddr: UNWIND,
            bytes: unwind,
            exec: false,
        },
    ];
    let (offsets, image) = elf_writer::elf(machine, wide, &sections, true);
    let text_offset = offsets[0] as usize;
    let functions = ranges
        .into_iter()
        .map(|(id, (start, len))| (id, (text_offset + start, len)))
        .collect();
    Built {
        image,
        functions,
        text_offset,
        text_len,
    }
}

/// `.eh_frame`-like records, one per function in layout order: length, CIE pointer
/// (none here), the offset from the field to the function, the function's length.
fn unwind_records(
    program: &Program,
    addresses: &HashMap<u32, u64>,
    ranges: &HashMap<u32, (usize, usize)>,
) -> Vec<u8> {
    let mut records = Vec::new();
    for function in &program.functions {
        let field = UNWIND + records.len() as u64 + 8;
        let offset = addresses[&function.id].wrapping_sub(field) as u32;
        let length = ranges[&function.id].1 as u32;
        for word in [12, 0, offset, length] {
            records.extend(u32::to_le_bytes(word));
        }
    }
    records
}
