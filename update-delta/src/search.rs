//! The approximate-match search (bsdiff's scan, on our suffix index): walks `new`, keeps
//! the current alignment while it keeps matching, and switches to a new alignment found by
//! the suffix index only when that one is clearly better. Each alignment is then extended
//! forward and backward across mismatches while at least half the bytes still match, so
//! code whose embedded addresses changed stays one cover with a few non-zero diff bytes.

use crate::matching::Match;
use crate::suffix::SuffixIndex;

/// How much longer (in matching bytes) a new alignment must be than the current one
/// before the search switches to it: a switch costs a control entry.
const SWITCH_MARGIN: usize = 8;
/// The most bytes of the current alignment scored against one candidate match (keeps
/// each step's work bounded on long repetitive runs).
const SCORE_SPAN: usize = 4096;
/// Where nothing matches well, the index is queried only every this many bytes: any match
/// of at least `SWITCH_MARGIN + SAMPLE_STEP` bytes still contains a sampled position with a
/// match long enough to switch, and the backward extension then finds where it starts.
const SAMPLE_STEP: usize = 2;
/// A query whose best match is shorter than this counts as "nothing matches well".
const SAMPLE_BELOW: usize = 16;

/// Covers of `new` by `old`, sorted by `new`, non-overlapping, each of non-zero length.
///
/// Unlike bsdiff, which queries the suffix index at every position where the current
/// alignment is imperfect, this skips ahead over every stretch where the current
/// alignment matches exactly and over every exact match it switches to: a few queries per
/// changed byte instead of one per byte, with the same switching rule.
pub fn covers(old: &[u8], new: &[u8], index: &SuffixIndex) -> Vec<Match> {
    let mut found = Vec::new();
    let new_len = new.len();
    let (mut scan, mut last_scan, mut last_position, mut last_offset) =
        (0usize, 0usize, 0usize, 0i64);
    while scan < new_len {
        let (position, len) = index.longest_match(&new[scan..]);
        let span = len.min(SCORE_SPAN);
        // Switch when the current alignment misses more than the margin of the span the
        // candidate matches exactly.
        let switch = misses_exceed(old, new, scan, span, last_offset, SWITCH_MARGIN);
        if !switch {
            // Keep the current alignment; skip what it matches exactly.
            let run = exact_run(old, new, scan, last_offset);
            scan += match run {
                0 if len < SAMPLE_BELOW => SAMPLE_STEP,
                0 => 1,
                run => run,
            };
            continue;
        }
        let mut forward = extend_forward(old, new, last_scan, last_position, scan);
        let mut backward = extend_backward(old, new, last_scan, scan, position);
        if last_scan + forward > scan - backward {
            let overlap = (last_scan + forward) - (scan - backward);
            let split = best_split(
                old,
                new,
                (
                    last_scan + forward - overlap,
                    last_position + forward - overlap,
                ),
                (scan - backward, position - backward),
                overlap,
            );
            forward = forward + split - overlap;
            backward -= split;
        }
        if forward > 0 {
            found.push(Match {
                old: last_position as u64,
                new: last_scan as u64,
                len: forward as u64,
            });
        }
        last_scan = scan - backward;
        last_position = position - backward;
        last_offset = position as i64 - scan as i64;
        scan += len;
    }
    let forward = extend_forward(old, new, last_scan, last_position, new_len);
    if forward > 0 {
        found.push(Match {
            old: last_position as u64,
            new: last_scan as u64,
            len: forward as u64,
        });
    }
    found
}

/// Whether the alignment `offset` (old = new + offset) misses more than `limit` bytes of
/// `new[at..at + span]` (bytes beyond old's end miss); stops counting once it does.
fn misses_exceed(
    old: &[u8],
    new: &[u8],
    at: usize,
    span: usize,
    offset: i64,
    limit: usize,
) -> bool {
    let Some(old_at) = old_index(at, offset, old.len()) else {
        return span > limit;
    };
    let compared = span.min(old.len() - old_at);
    let beyond = span - compared;
    if beyond > limit {
        return true;
    }
    new[at..at + compared]
        .iter()
        .zip(&old[old_at..old_at + compared])
        .filter(|(a, b)| a != b)
        .nth(limit - beyond)
        .is_some()
}

/// How many bytes from `new[at]` on the alignment `offset` matches without a break.
fn exact_run(old: &[u8], new: &[u8], at: usize, offset: i64) -> usize {
    let Some(old_at) = old_index(at, offset, old.len()) else {
        return 0;
    };
    new[at..]
        .iter()
        .zip(&old[old_at..])
        .take_while(|(a, b)| a == b)
        .count()
}

fn old_index(new_at: usize, offset: i64, old_len: usize) -> Option<usize> {
    let old_at = new_at as i64 + offset;
    (old_at >= 0 && (old_at as usize) < old_len).then_some(old_at as usize)
}

/// The longest extension of alignment (`new_at`, `old_at`) up to `limit` in which, at every
/// prefix end chosen, matches minus mismatches is maximal.
fn extend_forward(old: &[u8], new: &[u8], new_at: usize, old_at: usize, limit: usize) -> usize {
    let (mut score, mut best_score, mut best_len) = (0i64, 0i64, 0usize);
    let span = (limit - new_at).min(old.len().saturating_sub(old_at));
    for i in 0..span {
        if old[old_at + i] == new[new_at + i] {
            score += 1;
        }
        let len = i + 1;
        if score * 2 - len as i64 > best_score * 2 - best_len as i64 {
            best_score = score;
            best_len = len;
        }
    }
    best_len
}

/// The same, backward from (`new_at`, `old_at`), not below `floor` in new.
fn extend_backward(old: &[u8], new: &[u8], floor: usize, new_at: usize, old_at: usize) -> usize {
    let (mut score, mut best_score, mut best_len) = (0i64, 0i64, 0usize);
    let span = (new_at - floor).min(old_at);
    for i in 1..=span {
        if old[old_at - i] == new[new_at - i] {
            score += 1;
        }
        if score * 2 - i as i64 > best_score * 2 - best_len as i64 {
            best_score = score;
            best_len = i;
        }
    }
    best_len
}

/// Where to cut an overlap of two extensions: the number of overlap bytes the first keeps.
fn best_split(
    old: &[u8],
    new: &[u8],
    first: (usize, usize),
    second: (usize, usize),
    overlap: usize,
) -> usize {
    let (mut score, mut best_score, mut best) = (0i64, 0i64, 0usize);
    for i in 0..overlap {
        if new[first.0 + i] == old[first.1 + i] {
            score += 1;
        }
        if new[second.0 + i] == old[second.1 + i] {
            score -= 1;
        }
        if score > best_score {
            best_score = score;
            best = i + 1;
        }
    }
    best
}
