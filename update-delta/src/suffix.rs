//! The suffix array of the old image (libsais) and the longest-match search on it.
//!
//! libsais was measured against the pure-Rust `divsufsort` port on a 128 MiB input of
//! this machine's binaries, single thread: 16.2 s against 20.3 s, same memory (4n).

use std::cmp::Ordering;

/// Suffixes of `old` in sorted order, plus where the run of each two- or three-byte prefix
/// starts, so a search begins inside a short run instead of the whole array.
pub struct SuffixIndex<'a> {
    old: &'a [u8],
    sorted: Vec<i32>,
    prefixes: PrefixTable,
    /// Some position of each byte value, for one-byte matches.
    first_at: [Option<u32>; 256],
}

/// Inputs of at least this many bytes need 64-bit suffix indices; windowing
/// ([`crate::windows`]) keeps every old window below it.
pub const MAX_INDEXED: usize = i32::MAX as usize;

impl<'a> SuffixIndex<'a> {
    /// Sorts the suffixes of `old` (`old.len()` must be below [`MAX_INDEXED`]).
    pub fn new(old: &'a [u8]) -> Option<SuffixIndex<'a>> {
        if old.len() >= MAX_INDEXED {
            return None;
        }
        let sorted = if old.is_empty() {
            Vec::new()
        } else {
            libsais::SuffixArrayConstruction::for_text(old)
                .in_owned_buffer32()
                .single_threaded()
                .run()
                .ok()?
                .into_vec()
        };
        let mut first_at = [None; 256];
        for (position, &byte) in old.iter().enumerate().rev() {
            first_at[byte as usize] = Some(position as u32);
        }
        // Three-byte prefixes (two 64 MiB tables) only pay on large inputs.
        let width = if old.len() >= 8 << 20 { 3 } else { 2 };
        Some(SuffixIndex {
            old,
            sorted,
            prefixes: PrefixTable::new(old, width),
            first_at,
        })
    }

    /// The position in old of a longest prefix of `needle`, and its length.
    pub fn longest_match(&self, needle: &[u8]) -> (usize, usize) {
        let Some(&first) = needle.first() else {
            return (0, 0);
        };
        let one_byte = || match self.first_at[first as usize] {
            Some(position) => (position as usize, 1),
            None => (0, 0),
        };
        let width = self.prefixes.width;
        if needle.len() < width {
            return self.search(needle, 0, self.sorted.len(), 0);
        }
        let (start, end) = self.prefixes.run(&needle[..width]);
        if start == end {
            // No suffix shares the whole prefix: the longest match is shorter than it.
            return match self.search(needle, 0, self.sorted.len(), 0) {
                (_, 0) => one_byte(),
                found => found,
            };
        }
        self.search(needle, start, end, width)
    }

    /// Binary search over `sorted[start..end]`, whose suffixes all share the first `known`
    /// bytes of `needle`; comparisons skip the prefix known to be common to both bounds.
    fn search(&self, needle: &[u8], start: usize, end: usize, known: usize) -> (usize, usize) {
        let (mut low, mut high) = (start, end);
        let (mut low_common, mut high_common) = (known, known);
        // Invariant: the insertion point of needle lies in [low, high].
        while low < high {
            let middle = low + (high - low) / 2;
            let skip = low_common.min(high_common);
            let (order, common) = self.compare(needle, middle, skip);
            match order {
                Ordering::Greater => {
                    low = middle + 1;
                    low_common = common;
                }
                _ => {
                    high = middle;
                    high_common = common;
                }
            }
        }
        // The longest match is one of the neighbours of the insertion point.
        let mut best = (0, 0);
        for candidate in [low.checked_sub(1), Some(low)].into_iter().flatten() {
            if candidate < start || candidate >= end {
                continue;
            }
            let (_, common) = self.compare(needle, candidate, known);
            if common > best.1 {
                best = (self.sorted[candidate] as usize, common);
            }
        }
        best
    }

    /// Orders `needle` against the suffix at `rank`, from byte `skip` (known equal).
    fn compare(&self, needle: &[u8], rank: usize, skip: usize) -> (Ordering, usize) {
        let suffix = &self.old[self.sorted[rank] as usize..];
        let common = skip
            + needle[skip.min(needle.len())..]
                .iter()
                .zip(&suffix[skip.min(suffix.len())..])
                .take_while(|(a, b)| a == b)
                .count();
        let order = match (needle.get(common), suffix.get(common)) {
            (None, _) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) => a.cmp(b),
        };
        (order, common)
    }
}

/// For every prefix of `width` bytes, where its run of suffixes starts in the suffix array
/// and how long it is, from counts alone. Suffixes shorter than `width` sort before the
/// runs they prefix: "b" before "b\0", "b\0" before "b\0\0".
struct PrefixTable {
    width: usize,
    start: Vec<u32>,
    count: Vec<u32>,
}

impl PrefixTable {
    fn new(old: &[u8], width: usize) -> PrefixTable {
        let keys = 1usize << (8 * width);
        let key_of = |bytes: &[u8]| {
            bytes
                .iter()
                .fold(0usize, |key, &byte| (key << 8) | usize::from(byte))
        };
        let mut count = vec![0u32; keys];
        for window in old.windows(width) {
            count[key_of(window)] += 1;
        }
        // The short suffixes, as the first key of the group they sort before.
        let short: Vec<(usize, usize)> = (1..width)
            .filter(|&len| len <= old.len())
            .map(|len| (len, key_of(&old[old.len() - len..]) << (8 * (width - len))))
            .collect();
        let mut start = vec![0u32; keys];
        let mut next = 0u32;
        for key in 0..keys {
            for &(len, first_key) in &short {
                // `key` opens the group of its `len`-byte prefix iff its other bytes are zero.
                if key == first_key && key & ((1 << (8 * (width - len))) - 1) == 0 {
                    next += 1;
                }
            }
            start[key] = next;
            next += count[key];
        }
        PrefixTable {
            width,
            start,
            count,
        }
    }

    /// The run of suffixes starting with `prefix` (exactly `width` bytes).
    fn run(&self, prefix: &[u8]) -> (usize, usize) {
        let key = prefix
            .iter()
            .fold(0usize, |key, &byte| (key << 8) | usize::from(byte));
        let start = self.start[key] as usize;
        (start, start + self.count[key] as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_longest(old: &[u8], needle: &[u8]) -> usize {
        (0..old.len())
            .map(|at| {
                old[at..]
                    .iter()
                    .zip(needle)
                    .take_while(|(a, b)| a == b)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn finds_the_longest_match_like_brute_force() {
        let old = b"abracadabra, abracadabra! the cat sat on the mat; zzzz".to_vec();
        let index = SuffixIndex::new(&old).unwrap();
        for needle in [
            &b"abracadabra!"[..],
            b"the mat",
            b"cat sa",
            b"zzzzzz",
            b"q",
            b"a",
            b"",
            b"t; zz",
            b"ra, ab",
        ] {
            let (position, len) = index.longest_match(needle);
            assert_eq!(len, brute_longest(&old, needle), "{needle:?}");
            assert_eq!(&old[position..position + len], &needle[..len]);
        }
    }

    #[test]
    fn prefix_runs_agree_with_the_suffix_array() {
        let old = b"zz\0\0a\0\0b\0zabz\0\0\0a".to_vec();
        for width in [2, 3] {
            let index = SuffixIndex {
                prefixes: PrefixTable::new(&old, width),
                ..SuffixIndex::new(&old).unwrap()
            };
            for rank in 0..old.len() {
                let suffix = &old[index.sorted[rank] as usize..];
                if suffix.len() >= width {
                    let (start, end) = index.prefixes.run(&suffix[..width]);
                    assert!((start..end).contains(&rank), "width {width} rank {rank}");
                    for other in start..end {
                        assert!(old[index.sorted[other] as usize..].starts_with(&suffix[..width]));
                    }
                }
            }
            for needle in [&b"\0\0a"[..], b"zab", b"z\0", b"q", b"a\0\0b", b"\0"] {
                let (position, len) = index.longest_match(needle);
                assert_eq!(len, brute_longest(&old, needle), "{needle:?}");
                assert_eq!(&old[position..position + len], &needle[..len]);
            }
        }
    }

    #[test]
    fn empty_and_tiny_inputs() {
        let index = SuffixIndex::new(&[]).unwrap();
        assert_eq!(index.longest_match(b"abc").1, 0);
        let old = [7u8];
        let index = SuffixIndex::new(&old).unwrap();
        assert_eq!(index.longest_match(&[7, 7]), (0, 1));
    }
}
