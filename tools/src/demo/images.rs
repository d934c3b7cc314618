//! Two deterministic demo firmware images, as a build system would produce them for two
//! releases: most 4 KiB blocks equal, some patched, a few new blocks inserted (shifting
//! what follows), and a header carrying the version. Both are written in one streaming
//! pass with a few blocks of memory, whatever their size.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

const BLOCK: usize = 4096;
/// Out of 1000 blocks: how many the new release inserts before, and how many it patches.
const INSERT_PER_MILLE: u32 = 20;
const PATCH_PER_MILLE: u32 = 60;

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

    base_rng.fill_bytes(&mut block);
    let header = |version: &str| format!("DEMO-FIRMWARE version={version}\n");
    old_out.write(&with_header(&block, &header(versions.0)))?;
    new_out.write(&with_header(&block, &header(versions.1)))?;

    while !old_out.full() || !new_out.full() {
        base_rng.fill_bytes(&mut block);
        old_out.write(&block)?;
        let roll = edit_rng.gen_range(0..1000);
        if roll < INSERT_PER_MILLE {
            edit_rng.fill_bytes(&mut extra);
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

fn with_header(block: &[u8], header: &str) -> Vec<u8> {
    let mut out = block.to_vec();
    let length = header.len().min(out.len());
    out[..length].copy_from_slice(&header.as_bytes()[..length]);
    out
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

        // Blocks of the new image that also occur in the old one: most, not all.
        let old_blocks: std::collections::HashSet<&[u8]> = old.chunks(BLOCK).collect();
        let shared = new.chunks(BLOCK).filter(|b| old_blocks.contains(b)).count();
        let total = new.chunks(BLOCK).count();
        assert!(shared * 10 > total * 7, "{shared} of {total} shared");
        assert!(shared < total - 1, "{shared} of {total} shared");
    }
}
