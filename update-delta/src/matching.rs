//! The alignment of a new image against an old one: which byte ranges of `new` are
//! (approximately) copies of which ranges of `old`. The differ encodes exactly these
//! covers; the executable transform builds its address map from them.

use crate::search;
use crate::suffix::SuffixIndex;
use crate::windows;

/// `new[new..new + len]` is approximately `old[old..old + len]` (equal but for a few
/// bytes, which the delta stores as byte-wise differences).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    pub old: u64,
    pub new: u64,
    pub len: u64,
}

/// The approximate matches the differ finds between `old` and `new`, sorted by `new`,
/// non-overlapping in `new`, each inside both inputs and of non-zero length.
pub fn matches(old: &[u8], new: &[u8]) -> Vec<Match> {
    windows::plan(old.len(), new.len())
        .into_iter()
        .flat_map(|window| {
            let old_part = &old[window.old.clone()];
            let new_part = &new[window.new.clone()];
            let found = match SuffixIndex::new(old_part) {
                Some(index) => search::covers(old_part, new_part, &index),
                None => Vec::new(),
            };
            found.into_iter().map(move |cover| Match {
                old: cover.old + window.old.start as u64,
                new: cover.new + window.new.start as u64,
                len: cover.len,
            })
        })
        .collect()
}
