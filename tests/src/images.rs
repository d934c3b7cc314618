//! Deterministic firmware images for tests.

use std::path::Path;

/// `size` pseudo-random bytes from `seed` (xorshift64*): the same seed gives the same image.
pub fn image_bytes(seed: u64, size: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(size + 8);
    while out.len() < size {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(size);
    out
}

/// Writes an image file and returns its sha256.
pub fn write_image(path: &Path, seed: u64, size: usize) -> String {
    let bytes = image_bytes(seed, size);
    std::fs::write(path, &bytes).expect("write image");
    update_core::hash::sha256_hex(&bytes)
}

pub fn sha256_file(path: &Path) -> String {
    update_core::hash::sha256_hex(&std::fs::read(path).expect("read file"))
}

/// A firmware-like image of `size` bytes from `seed`: blocks of random bytes (code and
/// compressed data), zero padding and repeated text, so that zstd compresses it about
/// two to one.
pub fn firmware_image(seed: u64, size: usize) -> Vec<u8> {
    let noise = image_bytes(seed, size);
    let mut out = Vec::with_capacity(size);
    let mut block = 0usize;
    while out.len() < size {
        let length = 4096 + (noise[block % size] as usize) * 256;
        let start = out.len();
        match block % 4 {
            0 | 1 => out.extend_from_slice(&noise[start..(start + length).min(size)]),
            2 => out.resize(start + length, 0),
            _ => {
                let line = format!("firmware {seed} string table entry {block}\n");
                while out.len() < start + length {
                    out.extend_from_slice(line.as_bytes());
                }
            }
        }
        block += 1;
    }
    out.truncate(size);
    out
}

/// The next release of `image`: the same bytes with a few small regions changed, a block
/// inserted and one removed (what consecutive releases of one firmware share), of the
/// same length.
pub fn successor(image: &[u8], seed: u64) -> Vec<u8> {
    let size = image.len();
    let noise = image_bytes(seed, 64 * 1024);
    let mut next = image.to_vec();
    for (i, change) in noise.chunks(256).take(16).enumerate() {
        let at = (i * size / 16 + 777) % size.saturating_sub(change.len()).max(1);
        let end = (at + change.len()).min(size);
        next[at..end].copy_from_slice(&change[..end - at]);
    }
    let insert_at = size / 3;
    next.splice(insert_at..insert_at, noise[..16 * 1024].iter().copied());
    let remove_at = size * 2 / 3;
    next.drain(remove_at..remove_at + 16 * 1024);
    next.truncate(size);
    next
}
