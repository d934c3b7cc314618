//! The prediction's bytes in the delta's transform section, and the memory the device
//! needs to read and use them.
//!
//! ```text
//! magic "EXP1" | payload length u32 LE | compressed length u32 LE | zstd(payload)
//! payload: isa u8 | block log2 u8 | image length
//!          | count, then per region: content u8, offset - previous end, length, vaddr
//!          | count, then per loaded range: start - previous end, length
//!          | count, then per map segment: start - previous start,
//!            then per map segment: its displacement's index among the 16 most
//!            recently used ones, or 16 + zigzag(displacement - most recent)
//! ```
//! All numbers in the payload are LEB128 varints. A decoder rejects: a bad magic, a
//! length over the memory limit, a payload that does not decompress to exactly its
//! length or has bytes left over, an unknown ISA or region content, a block size outside 2^10..2^16,
//! empty or overlapping regions or ranges, a region past the image, segments that do
//! not strictly increase, and any arithmetic overflow.

use std::io::{self, Read, Write};
use std::mem::size_of;

use super::codec::{Budget, Cursor, Recent, add, corrupt, put};
use super::isa::Isa;
use super::map::{AddressMap, Segment};
use super::predict::Tables;
use super::region::{Content, Region};
use crate::ApplyError;

const MAGIC: &[u8; 4] = b"EXP1";
pub(crate) const BLOCK_LOG2: std::ops::RangeInclusive<u8> = 10..=16;
/// zstd's decompression context, and the slack of the vectors being filled.
const DECODER_MEMORY: u64 = 256 << 10;
const ZSTD_LEVEL: i32 = 19;

fn encode_payload(tables: &Tables) -> Vec<u8> {
    let mut out = vec![tables.isa.id(), tables.block_log2];
    put(&mut out, tables.image_len);
    put(&mut out, tables.regions.len() as u64);
    let mut previous_end = 0;
    for region in &tables.regions {
        out.push(region.content.id());
        put(&mut out, region.offset - previous_end);
        put(&mut out, region.len);
        put(&mut out, region.vaddr);
        previous_end = region.end();
    }
    put(&mut out, tables.targets.loaded.len() as u64);
    let mut previous_end = 0;
    for &(start, end) in &tables.targets.loaded {
        put(&mut out, start - previous_end);
        put(&mut out, end - start);
        previous_end = end;
    }
    let segments = tables.map.segments();
    put(&mut out, segments.len() as u64);
    // Column by column: the starts, then the displacements, compress better apart.
    let mut start = 0;
    for segment in segments {
        put(&mut out, segment.start - start);
        start = segment.start;
    }
    let mut recent = Recent::default();
    for segment in segments {
        put(&mut out, recent.encode(segment.displacement));
    }
    out
}

pub(crate) fn write(tables: &Tables, out: &mut dyn Write) -> io::Result<()> {
    let payload = encode_payload(tables);
    let compressed = zstd::bulk::compress(&payload, ZSTD_LEVEL)?;
    let length = |len: usize| {
        u32::try_from(len).map_err(|_| io::Error::other("executable prediction over 4 GiB"))
    };
    out.write_all(MAGIC)?;
    out.write_all(&length(payload.len())?.to_le_bytes())?;
    out.write_all(&length(compressed.len())?.to_le_bytes())?;
    out.write_all(&compressed)
}

/// The bytes [`write`] produces.
pub(crate) fn encoded_len(tables: &Tables) -> u64 {
    let mut counted = Vec::new();
    match write(tables, &mut counted) {
        Ok(()) => counted.len() as u64,
        Err(_) => u64::MAX,
    }
}

/// The memory the tables occupy while predicting, slice buffers included.
fn resident(regions: usize, loaded: usize, segments: usize, block_log2: u8) -> u64 {
    let tables =
        regions * (size_of::<Region>() + 16) + loaded * 16 + segments * size_of::<Segment>();
    tables as u64 + (super::predict::CACHED_SLICES as u64 + 1) * (1u64 << block_log2)
}

/// Peak memory: decoding (both buffers and the tables) or predicting, whichever is more.
pub(crate) fn memory_needed(tables: &Tables) -> u64 {
    let payload = encode_payload(tables).len() as u64;
    let steady = resident(
        tables.regions.len(),
        tables.targets.loaded.len(),
        tables.map.segments().len(),
        tables.block_log2,
    );
    steady + DECODER_MEMORY + payload + zstd::zstd_safe::compress_bound(payload as usize) as u64
}

pub(crate) fn read(input: &mut dyn Read, max_memory: u64) -> Result<Tables, ApplyError> {
    let mut header = [0u8; 12];
    input.read_exact(&mut header).map_err(read_error)?;
    if &header[..4] != MAGIC {
        return Err(corrupt("bad magic"));
    }
    let payload_len = u64::from(u32::from_le_bytes([
        header[4], header[5], header[6], header[7],
    ]));
    let compressed_len = u64::from(u32::from_le_bytes([
        header[8], header[9], header[10], header[11],
    ]));
    let buffers = DECODER_MEMORY + payload_len + compressed_len;
    if buffers > max_memory {
        return Err(ApplyError::OverMemoryLimit {
            needed: buffers,
            limit: max_memory,
        });
    }
    let mut compressed = Vec::new();
    input
        .take(compressed_len)
        .read_to_end(&mut compressed)
        .map_err(ApplyError::ReadDelta)?;
    if compressed.len() as u64 != compressed_len {
        return Err(corrupt("truncated"));
    }
    let payload = zstd::bulk::decompress(&compressed, payload_len as usize)
        .map_err(|e| corrupt(&format!("payload does not decompress: {e}")))?;
    drop(compressed);
    if payload.len() as u64 != payload_len {
        return Err(corrupt("payload length differs from its header"));
    }
    decode_payload(&payload, max_memory.saturating_sub(buffers))
}

fn decode_payload(payload: &[u8], memory: u64) -> Result<Tables, ApplyError> {
    let mut cursor = Cursor {
        bytes: payload,
        at: 0,
    };
    let isa = Isa::from_id(cursor.byte()?).ok_or_else(|| corrupt("unknown instruction set"))?;
    let block_log2 = cursor.byte()?;
    if !BLOCK_LOG2.contains(&block_log2) {
        return Err(corrupt("block size out of range"));
    }
    let image_len = cursor.varint()?;
    let mut budget = Budget {
        left: memory,
        limit: memory,
    };
    budget.take(resident(0, 0, 0, block_log2))?;

    let count = cursor.count(&mut budget, size_of::<Region>() + 16)?;
    let mut regions = Vec::with_capacity(count);
    let mut previous_end = 0u64;
    for _ in 0..count {
        let content =
            Content::from_id(cursor.byte()?).ok_or_else(|| corrupt("unknown region content"))?;
        let offset = add(previous_end, cursor.varint()?)?;
        let len = cursor.varint()?;
        let vaddr = cursor.varint()?;
        let end = add(offset, len)?;
        if len == 0 || end > image_len || vaddr.checked_add(len).is_none() {
            return Err(corrupt("region empty or outside the image"));
        }
        regions.push(Region {
            offset,
            len,
            vaddr,
            content,
        });
        previous_end = end;
    }

    let count = cursor.count(&mut budget, 16)?;
    let mut loaded = Vec::with_capacity(count);
    let mut previous_end = 0u64;
    for _ in 0..count {
        let start = add(previous_end, cursor.varint()?)?;
        let end = add(start, cursor.varint()?)?;
        if end == start {
            return Err(corrupt("empty loaded range"));
        }
        loaded.push((start, end));
        previous_end = end;
    }

    let count = cursor.count(&mut budget, size_of::<Segment>())?;
    let mut segments = Vec::with_capacity(count);
    let mut start = 0u64;
    for index in 0..count {
        let step = cursor.varint()?;
        if index > 0 && step == 0 {
            return Err(corrupt("map segments do not increase"));
        }
        start = add(start, step)?;
        segments.push(Segment {
            start,
            displacement: 0,
        });
    }
    let mut recent = Recent::default();
    for segment in &mut segments {
        segment.displacement = recent.decode(cursor.varint()?)?;
    }
    if cursor.at != payload.len() {
        return Err(corrupt("bytes after the map"));
    }
    let map = AddressMap::new(segments).ok_or_else(|| corrupt("map segments do not increase"))?;
    Ok(Tables::new(
        isa, block_log2, image_len, regions, loaded, map,
    ))
}

fn read_error(error: io::Error) -> ApplyError {
    match error.kind() {
        io::ErrorKind::UnexpectedEof => corrupt("truncated"),
        _ => ApplyError::ReadDelta(error),
    }
}
