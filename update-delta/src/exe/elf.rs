//! Recognising an executable by its content: a little-endian ELF32/ELF64 executable or
//! shared object for x86-64, AArch64 or 32-bit ARM, its code regions (executable
//! sections, or executable segments when the section headers are gone) and its loaded
//! segments (to convert file offsets to virtual addresses). Generator side only: the
//! device never parses ELF, it follows the tables stored in the delta.

use object::elf::{self as consts, PF_X, SHF_ALLOC, SHF_EXECINSTR, SectionType};
use object::read::elf::{ElfFile32, ElfFile64};
use object::{Architecture, LittleEndian, Object, ObjectKind, ObjectSection, ObjectSegment};
use object::{SectionFlags, SegmentFlags};

use super::isa::{Isa, Targets};
use super::region::{Content, Region};
use super::{arm, thumb};

/// More regions than this is not a plausible executable (and would bloat the delta).
const MAX_REGIONS: usize = 1024;

/// A `PT_LOAD` segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Load {
    pub offset: u64,
    pub file_size: u64,
    pub vaddr: u64,
    pub memory_size: u64,
}

/// The machine family named by `e_machine`; 32-bit ARM is split into A32 and Thumb-2
/// by looking at the code ([`Elf::isa`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Machine {
    X86_64,
    Aarch64,
    Arm,
}

#[derive(Clone, Debug)]
pub(crate) struct Elf {
    pub machine: Machine,
    /// Sorted by offset, non-overlapping, inside the file.
    pub regions: Vec<Region>,
    pub loads: Vec<Load>,
}

impl Elf {
    /// `None` unless `data` is a well-formed little-endian ELF executable or shared
    /// object of a supported machine with some code.
    pub(crate) fn parse(data: &[u8]) -> Option<Elf> {
        if data.len() < 16 || &data[..4] != b"\x7fELF" || data[5] != 1 {
            return None;
        }
        match data[4] {
            1 => from_object(
                &ElfFile32::<LittleEndian>::parse(data).ok()?,
                data.len() as u64,
            ),
            2 => from_object(
                &ElfFile64::<LittleEndian>::parse(data).ok()?,
                data.len() as u64,
            ),
            _ => None,
        }
    }

    /// The virtual address of the byte at file `offset`, if a segment loads it.
    pub(crate) fn vaddr_of(&self, offset: u64) -> Option<u64> {
        self.loads
            .iter()
            .find(|load| offset >= load.offset && offset - load.offset < load.file_size)
            .map(|load| load.vaddr.wrapping_add(offset - load.offset))
    }

    pub(crate) fn code(&self) -> impl Iterator<Item = &Region> {
        self.regions.iter().filter(|r| r.content == Content::Code)
    }

    pub(crate) fn targets(&self) -> Targets {
        Targets::new(
            self.code()
                .map(|r| (r.vaddr, r.vaddr.saturating_add(r.len)))
                .collect(),
            self.loads
                .iter()
                .map(|l| (l.vaddr, l.vaddr.saturating_add(l.memory_size)))
                .collect(),
        )
    }

    /// The instruction set of the code: 32-bit ARM is whichever of A32 and Thumb-2 has
    /// more plausible calls (a BL into code), as compilers emit one state per binary.
    pub(crate) fn isa(&self, data: &[u8]) -> Isa {
        match self.machine {
            Machine::X86_64 => Isa::X86_64,
            Machine::Aarch64 => Isa::Aarch64,
            Machine::Arm => {
                let targets = self.targets();
                let (mut a32, mut t32) = (0, 0);
                for region in self.code() {
                    let bytes = &data[region.offset as usize..region.end() as usize];
                    a32 += arm::count_calls(bytes, region.vaddr, &targets);
                    t32 += thumb::count_calls(bytes, region.vaddr, &targets);
                }
                if t32 > a32 { Isa::Thumb } else { Isa::Arm }
            }
        }
    }
}

fn from_object<'data>(file: &impl Object<'data>, file_len: u64) -> Option<Elf> {
    let machine = match file.architecture() {
        Architecture::X86_64 if file.is_64() => Machine::X86_64,
        Architecture::Aarch64 if file.is_64() => Machine::Aarch64,
        Architecture::Arm if !file.is_64() => Machine::Arm,
        _ => return None,
    };
    if !matches!(file.kind(), ObjectKind::Executable | ObjectKind::Dynamic) {
        return None;
    }
    let inside = |offset: u64, len: u64| offset.checked_add(len).is_some_and(|end| end <= file_len);
    let mut loads = Vec::new();
    for segment in file.segments() {
        let (offset, file_size) = segment.file_range();
        if !inside(offset, file_size) || segment.address().checked_add(segment.size()).is_none() {
            return None;
        }
        loads.push(Load {
            offset,
            file_size,
            vaddr: segment.address(),
            memory_size: segment.size(),
        });
    }
    let pointers = if file.is_64() {
        Content::Pointers64
    } else {
        Content::Pointers32
    };
    let mut regions: Vec<Region> = file
        .sections()
        .filter_map(|section| {
            let SectionFlags::Elf { sh_flags, sh_type } = section.flags() else {
                return None;
            };
            let (offset, len) = section.file_range()?;
            let alloc = sh_flags.contains(SHF_ALLOC);
            let content = if sh_flags.contains(SHF_EXECINSTR) {
                Content::Code
            } else {
                data_content(section.name().unwrap_or(""), sh_type, alloc, file.is_64())?
            };
            let vaddr = if alloc { section.address() } else { 0 };
            Some(Region {
                offset,
                len,
                vaddr,
                content,
            })
        })
        .collect();
    if !regions.iter().any(|r| r.content == Content::Code) {
        regions = file
            .segments()
            .map(|segment| {
                let (offset, len) = segment.file_range();
                let exec = matches!(segment.flags(), SegmentFlags::Elf { p_flags, .. } if p_flags.contains(PF_X));
                let content = if exec { Content::Code } else { pointers };
                Region { offset, len, vaddr: segment.address(), content }
            })
            .collect();
    }
    regions
        .retain(|r| r.len > 0 && inside(r.offset, r.len) && r.vaddr.checked_add(r.len).is_some());
    let regions = disjoint(regions);
    let has_code = regions.iter().any(|r| r.content == Content::Code);
    (has_code && regions.len() <= MAX_REGIONS).then_some(Elf {
        machine,
        regions,
        loads,
    })
}

/// How a non-executable section with file contents is scanned, if at all.
fn data_content(name: &str, kind: SectionType, alloc: bool, wide: bool) -> Option<Content> {
    let pointers = if wide {
        Content::Pointers64
    } else {
        Content::Pointers32
    };
    match name {
        ".eh_frame" => return Some(Content::FieldRelative32),
        ".eh_frame_hdr" => return Some(Content::RegionRelative32),
        // Go's function table: offsets from the text start, not pointers.
        ".gopclntab" => return None,
        _ => {}
    }
    if kind == consts::SHT_ARM_EXIDX {
        return Some(Content::Prel31);
    }
    let tables = [
        consts::SHT_SYMTAB,
        consts::SHT_DYNSYM,
        consts::SHT_RELA,
        consts::SHT_REL,
        consts::SHT_DYNAMIC,
        consts::SHT_INIT_ARRAY,
        consts::SHT_FINI_ARRAY,
        consts::SHT_PREINIT_ARRAY,
    ];
    let pointer_data = (kind == consts::SHT_PROGBITS && alloc) || tables.contains(&kind);
    pointer_data.then_some(pointers)
}

/// Sorts regions by offset, drops any that overlaps an earlier one, and joins those
/// contiguous in both the file and memory.
fn disjoint(mut regions: Vec<Region>) -> Vec<Region> {
    regions.sort_unstable_by_key(|r| (r.offset, r.len));
    let mut kept: Vec<Region> = Vec::with_capacity(regions.len());
    for region in regions {
        match kept.last_mut() {
            Some(last) if region.offset < last.end() => {}
            Some(last)
                if region.offset == last.end()
                    && region.content == last.content
                    && region.vaddr == last.vaddr + last.len =>
            {
                last.len += region.len;
            }
            _ => kept.push(region),
        }
    }
    kept
}
