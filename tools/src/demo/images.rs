//! Two deterministic demo firmware images, as a build system would produce them for two
//! releases of one product: a header carrying the version, a program (a small x86-64
//! ELF, [`super::elf`]) rebuilt with a few functions added, then a file system area of
//! 4 KiB blocks of the kinds a root file system holds (text, structured tables, already
//! compressed data, free space), most equal in both, some patched, a few new blocks
//! inserted (shifting what follows). The file system area is written in one streaming
//! pass with a few blocks of memory, whatever the image size.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

use super::elf;

const BLOCK: usize = 4096;
/// Out of 1000 blocks: how many the new release inserts before, and how many it patches.
const INSERT_PER_MILLE: u32 = 20;
const PATCH_PER_MILLE: u32 = 60;
/// The program takes this share of the image, up to [`PROGRAM_MAX`].
const PROGRAM_SHARE: u64 = 8;
const PROGRAM_MAX: u64 = 1 << 20;
const WORDS: [&str; 16] = [
    "camera", "sensor", "config", "enabled", "stream", "width", "height", "rate", "daemon",
    "network", "address", "timeout", "level", "debug", "service", "path",
];

/// Writes `old` and `new` (each exactly `size` bytes) from `seed`.
pub fn write_release_pair(
    old: &Path,
    new: &Path,
    size: u64,
    seed: u64,
    versions: (&str, &str),
) -> io::Result<()> {
    let mut base_rng = StdRng::seed_from_u64(seed);
    let mut edit_rng = StdRng::seed_from_u64(seed ^ 0x5eed_ed17);
    let mut old_out = SizedWriter::create(old, size)?;
    let mut new_out = SizedWriter::create(new, size)?;
    let mut block = vec![0u8; BLOCK];
    let mut extra = vec![0u8; BLOCK];

    let header = |version: &str| {
        let mut block = vec![0u8; BLOCK];
        let text = format!("DEMO-FIRMWARE version={version}\n");
        block[..text.len()].copy_from_slice(text.as_bytes());
        block
    };
    old_out.write(&header(versions.0))?;
    new_out.write(&header(versions.1))?;

    let program_size = (size / PROGRAM_SHARE).min(PROGRAM_MAX) as usize;
    if program_size >= 4 * BLOCK {
        for (out, successor) in [(&mut old_out, false), (&mut new_out, true)] {
            // Padded to whole blocks, as a file system would store it.
            let mut program = elf::program(seed, program_size, successor);
            program.resize(program.len().div_ceil(BLOCK) * BLOCK, 0);
            out.write(&program)?;
        }
    }

    while !old_out.full() || !new_out.full() {
        fill_block(&mut base_rng, &mut block);
        old_out.write(&block)?;
        let roll = edit_rng.gen_range(0..1000);
        if roll < INSERT_PER_MILLE {
            fill_block(&mut edit_rng, &mut extra);
            new_out.write(&extra)?;
            new_out.write(&block)?;
        } else if roll < INSERT_PER_MILLE + PATCH_PER_MILLE {
            extra.copy_from_slice(&block);
            let start = edit_rng.gen_range(0..BLOCK - 256);
            let patch_length = edit_rng.gen_range(16..256);
            edit_rng.fill_bytes(&mut extra[start..start + patch_length]);
            new_out.write(&extra)?;
        } else {
            new_out.write(&block)?;
        }
    }
    old_out.finish()?;
    new_out.finish()
}

/// One file system block: configuration text, a table of records, compressed (random)
/// data or free space, in proportions that compress about as well as a real image.
fn fill_block(rng: &mut StdRng, block: &mut [u8]) {
    match rng.gen_range(0..100) {
        0..=34 => fill_text(rng, block),
        35..=49 => fill_table(rng, block),
        50..=84 => rng.fill_bytes(block),
        _ => block.fill(0),
    }
}

fn fill_text(rng: &mut StdRng, block: &mut [u8]) {
    let mut text = Vec::with_capacity(block.len() + 64);
    while text.len() < block.len() {
        let key = WORDS[rng.gen_range(0..WORDS.len())];
        let section = WORDS[rng.gen_range(0..WORDS.len())];
        let value: u32 = rng.gen_range(0..10_000);
        text.extend_from_slice(format!("{section}.{key} = {value}\n").as_bytes());
    }
    block.copy_from_slice(&text[..block.len()]);
}

fn fill_table(rng: &mut StdRng, block: &mut [u8]) {
    let mut id: u32 = rng.gen_range(0..1 << 20);
    for record in block.chunks_mut(16) {
        id += 1;
        let flags: u32 = rng.gen_range(0..4);
        let words = [id, flags, id.wrapping_mul(16), 0];
        for (bytes, word) in record.chunks_mut(4).zip(words) {
            bytes.copy_from_slice(&word.to_le_bytes()[..bytes.len()]);
        }
    }
}

/// A file that takes bytes until it holds exactly `size`, then ignores the rest.
struct SizedWriter {
    out: BufWriter<File>,
    remaining: u64,
}

impl SizedWriter {
    fn create(path: &Path, size: u64) -> io::Result<Self> {
        Ok(SizedWriter {
            out: BufWriter::new(File::create(path)?),
            remaining: size,
        })
    }

    fn full(&self) -> bool {
        self.remaining == 0
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let take = (bytes.len() as u64).min(self.remaining) as usize;
        self.out.write_all(&bytes[..take])?;
        self.remaining -= take as u64;
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_deterministic_sized_and_mostly_shared() {
        let dir = tempfile::tempdir().unwrap();
        let size = 1024 * 1024 + 100;
        let paths: Vec<_> = ["a1", "a2", "b1", "b2"]
            .iter()
            .map(|n| dir.path().join(n))
            .collect();
        write_release_pair(&paths[0], &paths[1], size, 7, ("1.0.0", "1.1.0")).unwrap();
        write_release_pair(&paths[2], &paths[3], size, 7, ("1.0.0", "1.1.0")).unwrap();
        let old = std::fs::read(&paths[0]).unwrap();
        let new = std::fs::read(&paths[1]).unwrap();
        assert_eq!(old, std::fs::read(&paths[2]).unwrap());
        assert_eq!(new, std::fs::read(&paths[3]).unwrap());
        assert_eq!((old.len() as u64, new.len() as u64), (size, size));
        assert!(old.starts_with(b"DEMO-FIRMWARE version=1.0.0\n"));
        assert!(new.starts_with(b"DEMO-FIRMWARE version=1.1.0\n"));
        assert_eq!(&old[BLOCK..BLOCK + 4], b"\x7fELF");
        assert_eq!(&new[BLOCK..BLOCK + 4], b"\x7fELF");

        // Blocks of the new image that also occur in the old one: most, not all.
        let old_blocks: std::collections::HashSet<&[u8]> = old.chunks(BLOCK).collect();
        let shared = new.chunks(BLOCK).filter(|b| old_blocks.contains(b)).count();
        let total = new.chunks(BLOCK).count();
        assert!(shared * 10 > total * 6, "{shared} of {total} shared");
        assert!(shared < total - 1, "{shared} of {total} shared");

        // Compressible like a real image, not like noise.
        let compressed = zstd::bulk::compress(&new, 3).unwrap();
        assert!(
            compressed.len() * 10 < new.len() * 8,
            "{}",
            compressed.len()
        );
        assert!(
            compressed.len() * 10 > new.len() * 2,
            "{}",
            compressed.len()
        );
    }
}
