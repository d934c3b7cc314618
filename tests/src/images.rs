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
