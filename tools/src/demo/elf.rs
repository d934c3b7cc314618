//! A small synthetic x86-64 ELF program for the demo images, in two releases: the newer
//! one inserts functions and strings and edits a few function bodies, so most code moves
//! and every call or RIP-relative reference across a moved region changes its
//! displacement, as in a real rebuild. That is the case executable-aware deltas handle.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Load address of the program.
const BASE_ADDRESS: u64 = 0x40_0000;
/// Offset of `.text` in the file (after the ELF and program headers).
const TEXT_OFFSET: usize = 0x1000;
const FUNCTION_ALIGN: usize = 16;

/// One instruction, with references by identity so they survive moves.
#[derive(Clone)]
enum Instruction {
    /// `call rel32` to a function.
    Call(usize),
    /// `lea rax, [rip + disp32]` to a string.
    LoadString(usize),
    /// Position-independent bytes (moves, arithmetic).
    Plain(Vec<u8>),
}

#[derive(Clone)]
struct Function {
    id: usize,
    body: Vec<Instruction>,
}

struct Program {
    functions: Vec<Function>,
    /// (id, bytes), in layout order.
    strings: Vec<(usize, Vec<u8>)>,
}

/// The program of about `text_size` bytes of code from `seed`; `successor` gives the
/// next release of the same program.
pub fn program(seed: u64, text_size: usize, successor: bool) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut program = base_program(&mut rng, text_size);
    if successor {
        let mut edits = StdRng::seed_from_u64(seed ^ 0x0e1f_ed17);
        edit(&mut program, &mut edits);
    }
    encode(&program)
}

fn base_program(rng: &mut StdRng, text_size: usize) -> Program {
    let string_count = (text_size / 256).max(4);
    let strings = (0..string_count)
        .map(|id| {
            (
                id,
                format!("message {id}: value=%d state=%s\n\0").into_bytes(),
            )
        })
        .collect();
    let function_count = (text_size / 96).max(4);
    let functions = (0..function_count)
        .map(|id| random_function(rng, id, function_count, string_count))
        .collect();
    Program { functions, strings }
}

fn random_function(rng: &mut StdRng, id: usize, functions: usize, strings: usize) -> Function {
    let length = rng.gen_range(4..24);
    let body = (0..length)
        .map(|_| match rng.gen_range(0..10) {
            0..=2 => Instruction::Call(rng.gen_range(0..functions)),
            3 => Instruction::LoadString(rng.gen_range(0..strings)),
            _ => Instruction::Plain(plain_instruction(rng)),
        })
        .collect();
    Function { id, body }
}

fn plain_instruction(rng: &mut StdRng) -> Vec<u8> {
    match rng.gen_range(0..6u8) {
        0 => vec![0x89, 0xc7],                                   // mov edi, eax
        1 => vec![0x31, 0xc0],                                   // xor eax, eax
        2 => vec![0x48, 0x83, 0xec, rng.gen_range(1..16u8) * 8], // sub rsp, imm8
        3 => vec![0x8b, 0x45, 0xf0 + rng.gen_range(0..4u8) * 4], // mov eax, [rbp-x]
        4 => vec![0x83, 0xf8, rng.gen_range(0..=255u8)],         // cmp eax, imm8
        _ => vec![0x01, 0xd0],                                   // add eax, edx
    }
}

/// The next release: a few new functions and strings inserted, some bodies changed.
fn edit(program: &mut Program, rng: &mut StdRng) {
    let (mut next_function, string_count) = (program.functions.len(), program.strings.len());
    for _ in 0..3 {
        let at = rng.gen_range(0..program.functions.len());
        for _ in 0..rng.gen_range(1..4) {
            let function = random_function(rng, next_function, next_function, string_count);
            program.functions.insert(at, function);
            next_function += 1;
        }
    }
    let changes = program.functions.len() / 25;
    for _ in 0..changes {
        let index = rng.gen_range(0..program.functions.len());
        let body = &mut program.functions[index].body;
        let at = rng.gen_range(0..body.len());
        body.insert(at, Instruction::Plain(plain_instruction(rng)));
    }
    let at = rng.gen_range(0..program.strings.len());
    let text = b"new message: retry limit reached\n\0".to_vec();
    program.strings.insert(at, (string_count, text));
}

fn encode(program: &Program) -> Vec<u8> {
    // Layout first: every function's and string's address, then the bytes.
    let mut function_at = Vec::new();
    let mut offset = TEXT_OFFSET;
    for function in &program.functions {
        set(&mut function_at, function.id, BASE_ADDRESS + offset as u64);
        offset = align(offset + function_length(function), FUNCTION_ALIGN);
    }
    let rodata_offset = align(offset, 16);
    let mut string_at = Vec::new();
    let mut rodata_length = 0;
    for (id, bytes) in &program.strings {
        let at = BASE_ADDRESS + (rodata_offset + rodata_length) as u64;
        set(&mut string_at, *id, at);
        rodata_length += bytes.len();
    }

    let mut out = vec![0u8; TEXT_OFFSET];
    for function in &program.functions {
        out.extend_from_slice(&[0x55, 0x48, 0x89, 0xe5]); // push rbp; mov rbp, rsp
        for instruction in &function.body {
            let here = BASE_ADDRESS + out.len() as u64;
            match instruction {
                Instruction::Call(target) => {
                    out.push(0xe8);
                    out.extend_from_slice(&displacement(function_at[*target], here + 5));
                }
                Instruction::LoadString(string) => {
                    out.extend_from_slice(&[0x48, 0x8d, 0x05]);
                    out.extend_from_slice(&displacement(string_at[*string], here + 7));
                }
                Instruction::Plain(bytes) => out.extend_from_slice(bytes),
            }
        }
        out.extend_from_slice(&[0x5d, 0xc3]); // pop rbp; ret
        out.resize(align(out.len(), FUNCTION_ALIGN), 0xcc);
    }
    let text_length = out.len() - TEXT_OFFSET;
    out.resize(rodata_offset, 0);
    for (_, bytes) in &program.strings {
        out.extend_from_slice(bytes);
    }
    let entry = program
        .functions
        .first()
        .map_or(BASE_ADDRESS + TEXT_OFFSET as u64, |f| function_at[f.id]);
    let layout = Layout {
        entry,
        text_length,
        rodata_offset,
        rodata_length,
    };
    finish_elf(out, &layout)
}

fn function_length(function: &Function) -> usize {
    let body: usize = function
        .body
        .iter()
        .map(|instruction| match instruction {
            Instruction::Call(_) => 5,
            Instruction::LoadString(_) => 7,
            Instruction::Plain(bytes) => bytes.len(),
        })
        .sum();
    4 + body + 2
}

fn set(table: &mut Vec<u64>, id: usize, value: u64) {
    if table.len() <= id {
        table.resize(id + 1, 0);
    }
    table[id] = value;
}

fn displacement(target: u64, next_instruction: u64) -> [u8; 4] {
    (target.wrapping_sub(next_instruction) as u32).to_le_bytes()
}

fn align(value: usize, to: usize) -> usize {
    value.div_ceil(to) * to
}

struct Layout {
    entry: u64,
    text_length: usize,
    rodata_offset: usize,
    rodata_length: usize,
}

/// Appends the section name table and the section headers, and writes the ELF and
/// program headers at the start of `image`.
fn finish_elf(mut image: Vec<u8>, layout: &Layout) -> Vec<u8> {
    let loaded = image.len() as u64;
    let names_offset = image.len();
    image.extend_from_slice(b"\0.text\0.rodata\0.shstrtab\0");
    let names_length = image.len() - names_offset;
    image.resize(align(image.len(), 8), 0);
    let section_headers = image.len() as u64;
    let address = |offset: usize| BASE_ADDRESS + offset as u64;
    let sections = [
        [0u64; 8],
        section(
            1,
            1,
            6,
            address(TEXT_OFFSET),
            TEXT_OFFSET,
            layout.text_length,
            16,
        ),
        section(
            7,
            1,
            2,
            address(layout.rodata_offset),
            layout.rodata_offset,
            layout.rodata_length,
            16,
        ),
        section(15, 3, 0, 0, names_offset, names_length, 1),
    ];
    for words in sections {
        for word in words {
            image.extend_from_slice(&word.to_le_bytes());
        }
    }

    let mut header = Vec::with_capacity(120);
    header.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    header.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    header.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    header.extend_from_slice(&1u32.to_le_bytes());
    header.extend_from_slice(&layout.entry.to_le_bytes());
    header.extend_from_slice(&64u64.to_le_bytes()); // program headers follow
    header.extend_from_slice(&section_headers.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
    for value in [64u16, 56, 1, 64, 4, 3] {
        header.extend_from_slice(&value.to_le_bytes());
    }
    header.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    header.extend_from_slice(&5u32.to_le_bytes()); // R + X
    for value in [0, BASE_ADDRESS, BASE_ADDRESS, loaded, loaded, 0x1000] {
        header.extend_from_slice(&value.to_le_bytes());
    }
    image[..header.len()].copy_from_slice(&header);
    image
}

/// A section header as eight little-endian u64 words (name and type share the first,
/// link and info the sixth).
fn section(
    name: u32,
    kind: u32,
    flags: u64,
    address: u64,
    offset: usize,
    size: usize,
    align: u64,
) -> [u64; 8] {
    let name_and_type = u64::from(name) | (u64::from(kind) << 32);
    [
        name_and_type,
        flags,
        address,
        offset as u64,
        size as u64,
        0,
        align,
        0,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u64_at(bytes: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn the_program_is_an_elf_that_moves_in_its_successor() {
        let old = program(5, 64 * 1024, false);
        let new = program(5, 64 * 1024, true);
        assert_eq!(old, program(5, 64 * 1024, false));
        for image in [&old, &new] {
            assert!(image.starts_with(b"\x7fELF\x02\x01"));
            assert_eq!(u16::from_le_bytes([image[18], image[19]]), 62);
            let section_headers = u64_at(image, 0x28) as usize;
            assert_eq!(section_headers + 4 * 64, image.len());
            let text_offset = u64_at(image, section_headers + 64 + 24) as usize;
            assert_eq!(text_offset, TEXT_OFFSET);
            // The entry point is the first function's prologue.
            let entry = (u64_at(image, 24) - BASE_ADDRESS) as usize;
            assert_eq!(&image[entry..entry + 4], &[0x55, 0x48, 0x89, 0xe5]);
            // Every call lands on a function's prologue.
            let text_end = text_offset + u64_at(image, section_headers + 64 + 32) as usize;
            let mut at = text_offset;
            let mut calls = 0;
            while at + 5 <= text_end {
                if image[at] == 0xe8 && image[at - 1] != 0x0f {
                    let rel = i32::from_le_bytes(image[at + 1..at + 5].try_into().unwrap());
                    let target = (at as i64 + 5 + i64::from(rel)) as usize;
                    if image.get(target..target + 4) == Some(&[0x55, 0x48, 0x89, 0xe5]) {
                        calls += 1;
                    }
                }
                at += 1;
            }
            assert!(calls > 100, "{calls} calls found");
        }
        assert!(new.len() > old.len());
        // Moved code: the old text's second half is not at the same offset any more.
        let half = old.len() / 2;
        assert_ne!(&old[half..half + 256], &new[half..half + 256]);
    }
}
