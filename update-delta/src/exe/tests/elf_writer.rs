//! A minimal ELF writer for tests: little-endian ELF32 or ELF64, one `PT_LOAD` per
//! section, optional section headers.

pub(super) const EM_ARM: u16 = 40;
pub(super) const EM_X86_64: u16 = 62;
pub(super) const EM_AARCH64: u16 = 183;

pub(super) struct Section {
    pub name: &'static str,
    pub vaddr: u64,
    pub bytes: Vec<u8>,
    pub exec: bool,
}

struct Writer {
    bytes: Vec<u8>,
    wide: bool,
}

impl Writer {
    fn u16(&mut self, value: u16) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }
    fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }
    /// An address or offset: 8 bytes in ELF64, 4 in ELF32.
    fn word(&mut self, value: u64) {
        if self.wide {
            self.bytes.extend_from_slice(&value.to_le_bytes());
        } else {
            self.u32(value as u32);
        }
    }
    fn pad_to(&mut self, len: usize) {
        self.bytes.resize(len, 0);
    }
}

/// The file offsets at which `sections` are placed, and the whole image.
pub(super) fn elf(
    machine: u16,
    wide: bool,
    sections: &[Section],
    section_headers: bool,
) -> (Vec<u64>, Vec<u8>) {
    let (ehdr, phdr, shdr) = if wide { (64, 56, 64) } else { (52, 32, 40) };
    let mut offsets = Vec::new();
    let mut position = (ehdr + phdr * sections.len()).next_multiple_of(0x1000);
    for section in sections {
        offsets.push(position as u64);
        position = (position + section.bytes.len()).next_multiple_of(0x1000);
    }
    let mut names = vec![0u8];
    let mut name_offsets = Vec::new();
    for name in sections.iter().map(|s| s.name).chain([".shstrtab"]) {
        name_offsets.push(names.len() as u32);
        names.extend_from_slice(name.as_bytes());
        names.push(0);
    }
    let names_offset = position;
    let section_headers_offset = (names_offset + names.len()).next_multiple_of(8);

    let mut w = Writer {
        bytes: Vec::new(),
        wide,
    };
    w.bytes
        .extend_from_slice(&[0x7F, b'E', b'L', b'F', if wide { 2 } else { 1 }, 1, 1]);
    w.pad_to(16);
    w.u16(2);
    w.u16(machine);
    w.u32(1);
    w.word(sections.first().map_or(0, |s| s.vaddr));
    w.word(ehdr as u64);
    w.word(if section_headers {
        section_headers_offset as u64
    } else {
        0
    });
    w.u32(if machine == EM_ARM { 0x0500_0400 } else { 0 });
    w.u16(ehdr as u16);
    w.u16(phdr as u16);
    w.u16(sections.len() as u16);
    w.u16(shdr as u16);
    let shnum = if section_headers {
        sections.len() + 2
    } else {
        0
    };
    w.u16(shnum as u16);
    w.u16(if section_headers {
        (sections.len() + 1) as u16
    } else {
        0
    });

    for (section, &offset) in sections.iter().zip(&offsets) {
        let flags = if section.exec { 5 } else { 6 };
        let size = section.bytes.len() as u64;
        w.u32(1);
        if wide {
            w.u32(flags);
        }
        w.word(offset);
        w.word(section.vaddr);
        w.word(section.vaddr);
        w.word(size);
        w.word(size);
        if !wide {
            w.u32(flags);
        }
        w.word(0x1000);
    }
    for (section, &offset) in sections.iter().zip(&offsets) {
        w.pad_to(offset as usize);
        w.bytes.extend_from_slice(&section.bytes);
    }
    if !section_headers {
        return (offsets, w.bytes);
    }
    w.pad_to(names_offset);
    w.bytes.extend_from_slice(&names);
    w.pad_to(section_headers_offset);
    w.pad_to(section_headers_offset + shdr);
    let header =
        |w: &mut Writer, name: u32, kind: u32, flags: u64, addr: u64, offset: u64, size: u64| {
            w.u32(name);
            w.u32(kind);
            w.word(flags);
            w.word(addr);
            w.word(offset);
            w.word(size);
            w.u32(0);
            w.u32(0);
            w.word(1);
            w.word(0);
        };
    for ((section, &offset), &name) in sections.iter().zip(&offsets).zip(&name_offsets) {
        let flags = if section.exec { 6 } else { 3 };
        header(
            &mut w,
            name,
            1,
            flags,
            section.vaddr,
            offset,
            section.bytes.len() as u64,
        );
    }
    let shstrtab_name = name_offsets[sections.len()];
    header(
        &mut w,
        shstrtab_name,
        3,
        0,
        0,
        names_offset as u64,
        names.len() as u64,
    );
    (offsets, w.bytes)
}
