//! A region of the image to scan for references, and what kind of content it holds.

/// How a region is scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    /// Instructions of the image's instruction set.
    Code,
    /// Naturally aligned absolute addresses of 8 bytes (relocations, symbol values,
    /// pointer tables, vtables).
    Pointers64,
    /// Naturally aligned absolute addresses of 4 bytes.
    Pointers32,
    /// Aligned 32-bit offsets from the field itself to code (`.eh_frame`'s pc_begin).
    FieldRelative32,
    /// Aligned 32-bit offsets from the start of the region (`.eh_frame_hdr`'s table).
    RegionRelative32,
    /// ARM's 31-bit offsets from the field (`.ARM.exidx`).
    Prel31,
}

impl Content {
    pub(crate) fn id(self) -> u8 {
        match self {
            Content::Code => 0,
            Content::Pointers64 => 1,
            Content::Pointers32 => 2,
            Content::FieldRelative32 => 3,
            Content::RegionRelative32 => 4,
            Content::Prel31 => 5,
        }
    }

    pub(crate) fn from_id(id: u8) -> Option<Content> {
        Some(match id {
            0 => Content::Code,
            1 => Content::Pointers64,
            2 => Content::Pointers32,
            3 => Content::FieldRelative32,
            4 => Content::RegionRelative32,
            5 => Content::Prel31,
            _ => return None,
        })
    }
}

/// A range of the file to scan, where it is loaded (0 when it is not), and its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub offset: u64,
    pub len: u64,
    pub vaddr: u64,
    pub content: Content,
}

impl Region {
    pub(crate) fn end(&self) -> u64 {
        self.offset + self.len
    }
}
