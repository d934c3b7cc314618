//! Splitting very large images so the generator's memory stays bounded: `new` is cut into
//! windows and each is diffed against the part of `old` around the same relative position
//! (images keep their layout between releases: a file system grows in place, it is not
//! shuffled). The delta format does not see windows: their covers are simply concatenated.

use std::ops::Range;

/// Images up to this size are diffed whole (old, new and the 4-byte-per-byte suffix array
/// of old: about 3 GiB of generator memory at this size).
pub const WHOLE_LIMIT: usize = 512 << 20;
/// Size of each window of `new` when splitting.
const NEW_WINDOW: usize = 256 << 20;
/// How far beyond the proportional position each old window reaches on either side.
const OLD_MARGIN: usize = 128 << 20;
/// The largest old window (when old is much larger than new).
const OLD_WINDOW_MAX: usize = 512 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub old: Range<usize>,
    pub new: Range<usize>,
}

/// The windows to diff, covering `new` in order.
pub fn plan(old_len: usize, new_len: usize) -> Vec<Window> {
    if old_len.max(new_len) <= WHOLE_LIMIT {
        return vec![Window {
            old: 0..old_len,
            new: 0..new_len,
        }];
    }
    let scale = |at: usize| ((at as u128 * old_len as u128) / new_len.max(1) as u128) as usize;
    (0..new_len)
        .step_by(NEW_WINDOW)
        .map(|start| {
            let end = (start + NEW_WINDOW).min(new_len);
            let mut old_start = scale(start).saturating_sub(OLD_MARGIN);
            let mut old_end = (scale(end) + OLD_MARGIN).min(old_len);
            if old_end - old_start.min(old_end) > OLD_WINDOW_MAX {
                let centre = old_start / 2 + old_end / 2;
                old_start = centre - OLD_WINDOW_MAX / 2;
                old_end = old_start + OLD_WINDOW_MAX;
            }
            Window {
                old: old_start.min(old_end)..old_end,
                new: start..end,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_images_are_one_window_large_ones_are_covered_in_order() {
        assert_eq!(
            plan(10, 20),
            vec![Window {
                old: 0..10,
                new: 0..20
            }]
        );
        let (old_len, new_len) = (1_500 << 20, 1_300 << 20);
        let windows = plan(old_len, new_len);
        assert_eq!(windows.first().unwrap().new.start, 0);
        assert_eq!(windows.last().unwrap().new.end, new_len);
        for pair in windows.windows(2) {
            assert_eq!(pair[0].new.end, pair[1].new.start);
        }
        for window in &windows {
            assert!(window.old.end <= old_len);
            assert!(window.old.len() <= OLD_WINDOW_MAX);
        }
        for window in plan(8_000 << 20, 600 << 20) {
            assert_eq!(window.old.len(), OLD_WINDOW_MAX);
        }
        let empty_old = plan(0, 2_000 << 20);
        assert!(empty_old.iter().all(|window| window.old.is_empty()));
    }
}
