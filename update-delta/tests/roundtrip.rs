//! Property tests: every delta [`create`] makes applies back to the new image, for random
//! and for structured pairs; truncated or damaged deltas are refused without panicking.

use proptest::prelude::*;
use update_delta::{Algorithm, ApplyError, CreateOptions, Limits, apply, create};

fn make(old: &[u8], new: &[u8], options: &CreateOptions) -> Vec<u8> {
    let mut delta = Vec::new();
    let created = create(old, new, options, &mut delta).expect("create");
    assert_eq!(created.length, delta.len() as u64);
    delta
}

fn run(old: &[u8], delta: &[u8], result_length: u64) -> Result<Vec<u8>, ApplyError> {
    let mut out = Vec::new();
    let limits = Limits {
        max_memory: 8 << 20,
        result_length,
    };
    apply(&old, &mut &delta[..], &mut out, &limits).map(|_| out)
}

fn only(algorithm: Algorithm) -> CreateOptions {
    CreateOptions {
        algorithms: vec![algorithm],
        ..CreateOptions::default()
    }
}

fn round_trip_every_algorithm(old: &[u8], new: &[u8]) {
    for options in [
        CreateOptions::default(),
        only(Algorithm::CopyAdd),
        only(Algorithm::ZstdPatch),
    ] {
        let delta = make(old, new, &options);
        let result = run(old, &delta, new.len() as u64).expect("apply");
        assert!(result == new, "round trip with {:?}", options.algorithms);
    }
}

/// An edit applied to an old image to make a new one.
#[derive(Clone, Debug)]
enum Edit {
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Move {
        from: usize,
        len: usize,
        to: usize,
    },
    Poke {
        at: usize,
        byte: u8,
    },
    /// Every little-endian u32 at a 4-aligned offset from `at` on grows by `by`, as the
    /// addresses in code do when something before their targets grew.
    Shift {
        at: usize,
        by: u32,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (any::<usize>(), 1usize..200).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), 1usize..300, any::<usize>()).prop_map(|(from, len, to)| Edit::Move {
            from,
            len,
            to
        }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Poke { at, byte }),
        (any::<usize>(), 1u32..4096).prop_map(|(at, by)| Edit::Shift { at, by }),
    ]
}

fn apply_edit(image: &mut Vec<u8>, edit: &Edit) {
    let len = image.len();
    match edit {
        Edit::Insert { at, bytes } => {
            let at = at % (len + 1);
            image.splice(at..at, bytes.iter().copied());
        }
        Edit::Delete { at, len: count } if len > 0 => {
            let at = at % len;
            image.drain(at..(at + count).min(len));
        }
        Edit::Move {
            from,
            len: count,
            to,
        } if len > 0 => {
            let from = from % len;
            let block: Vec<u8> = image.drain(from..(from + count).min(len)).collect();
            let to = to % (image.len() + 1);
            image.splice(to..to, block);
        }
        Edit::Poke { at, byte } if len > 0 => image[at % len] = *byte,
        Edit::Shift { at, by } if len >= 4 => {
            let mut at = (at % len) & !3;
            while at + 4 <= len {
                let word =
                    u32::from_le_bytes([image[at], image[at + 1], image[at + 2], image[at + 3]]);
                image[at..at + 4].copy_from_slice(&word.wrapping_add(*by).to_le_bytes());
                at += 4;
            }
        }
        _ => {}
    }
}

/// Compressible but not trivial: words from a small vocabulary, like code and tables.
fn structured(seed: Vec<u8>, len: usize) -> Vec<u8> {
    let mut image = Vec::with_capacity(len);
    let mut state = seed
        .iter()
        .fold(0x9e37_79b9u32, |s, &b| s.rotate_left(5) ^ u32::from(b));
    while image.len() < len {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let word = (state >> 24) % 37;
        image.extend_from_slice(&(word * 0x0101_0407).to_le_bytes());
    }
    image.truncate(len);
    image
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_pairs_round_trip(
        old in prop::collection::vec(any::<u8>(), 0..3000),
        new in prop::collection::vec(any::<u8>(), 0..3000),
    ) {
        round_trip_every_algorithm(&old, &new);
    }

    #[test]
    fn edited_images_round_trip(
        seed in prop::collection::vec(any::<u8>(), 1..16),
        len in 0usize..20_000,
        edits in prop::collection::vec(edit(), 0..12),
    ) {
        let old = structured(seed, len);
        let mut new = old.clone();
        for edit in &edits {
            apply_edit(&mut new, edit);
        }
        round_trip_every_algorithm(&old, &new);
    }

    #[test]
    fn truncations_are_refused(
        seed in prop::collection::vec(any::<u8>(), 1..16),
        edits in prop::collection::vec(edit(), 1..6),
        algorithm in prop_oneof![Just(Algorithm::CopyAdd), Just(Algorithm::ZstdPatch)],
    ) {
        let old = structured(seed, 6000);
        let mut new = old.clone();
        for edit in &edits {
            apply_edit(&mut new, edit);
        }
        let delta = make(&old, &new, &only(algorithm));
        for cut in 0..delta.len() {
            prop_assert!(run(&old, &delta[..cut], new.len() as u64).is_err(), "cut at {cut}");
        }
    }
}

#[test]
fn empty_and_identical_inputs_round_trip() {
    let image = structured(vec![1, 2, 3], 10_000);
    for (old, new) in [
        (&[][..], &[][..]),
        (&[][..], &image[..]),
        (&image[..], &[][..]),
        (&image[..], &image[..]),
    ] {
        round_trip_every_algorithm(old, new);
    }
    let delta = make(&image, &image, &CreateOptions::default());
    assert!(
        delta.len() < 300,
        "an identical image costs {} bytes",
        delta.len()
    );
}

#[test]
fn every_single_byte_header_corruption_is_refused() {
    let old = structured(vec![9], 8000);
    let mut new = old.clone();
    apply_edit(
        &mut new,
        &Edit::Insert {
            at: 100,
            bytes: vec![1, 2, 3],
        },
    );
    apply_edit(&mut new, &Edit::Shift { at: 2000, by: 3 });
    for algorithm in [Algorithm::CopyAdd, Algorithm::ZstdPatch] {
        let delta = make(&old, &new, &only(algorithm));
        for at in 0..update_delta::format::HEADER_LEN {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = delta.clone();
                damaged[at] ^= flip;
                assert!(
                    run(&old, &damaged, new.len() as u64).is_err(),
                    "byte {at} ^ {flip:#x}"
                );
            }
        }
    }
}

#[test]
fn over_budget_and_wrong_lengths_are_refused_early() {
    let old = structured(vec![4], 50_000);
    let mut new = old.clone();
    apply_edit(&mut new, &Edit::Poke { at: 7, byte: 1 });
    let delta = make(&old, &new, &CreateOptions::default());
    let header = update_delta::Header::read_from(&mut &delta[..]).unwrap();
    let limits = Limits {
        max_memory: header.apply_memory - 1,
        result_length: new.len() as u64,
    };
    let refused = apply(&old, &mut &delta[..], &mut Vec::new(), &limits);
    assert!(
        matches!(refused, Err(ApplyError::OverMemoryLimit { .. })),
        "{refused:?}"
    );
    let wrong_length = run(&old, &delta, new.len() as u64 + 1);
    assert!(matches!(wrong_length, Err(ApplyError::ResultMismatch(_))));
    let short_base = run(&old[..1000], &delta, new.len() as u64);
    assert!(short_base.is_err());
}

#[test]
fn many_chunks_with_empty_streams_round_trip() {
    // Small chunks (a 1 MiB budget) over a mostly unchanged image: most chunks have no
    // literal bytes, so their extra segments are empty.
    let old = structured(vec![6], 1_500_000);
    let mut new = old.clone();
    apply_edit(
        &mut new,
        &Edit::Poke {
            at: 700_000,
            byte: 0x55,
        },
    );
    apply_edit(
        &mut new,
        &Edit::Insert {
            at: 1_000_000,
            bytes: vec![9; 40],
        },
    );
    let options = CreateOptions {
        apply_memory_budget: 1 << 20,
        ..only(Algorithm::CopyAdd)
    };
    let delta = make(&old, &new, &options);
    let result = run(&old, &delta, new.len() as u64).expect("apply");
    assert!(result == new);
}

#[test]
fn the_apply_memory_declared_respects_the_budget() {
    let old = structured(vec![5], 300_000);
    let mut new = old.clone();
    apply_edit(
        &mut new,
        &Edit::Move {
            from: 1000,
            len: 5000,
            to: 200_000,
        },
    );
    for budget in [1 << 20, 2 << 20, 8 << 20, 64 << 20] {
        let options = CreateOptions {
            apply_memory_budget: budget,
            ..CreateOptions::default()
        };
        let mut delta = Vec::new();
        let created = create(&old, &new, &options, &mut delta).unwrap();
        assert!(
            created.header.apply_memory <= budget,
            "{} > {budget}",
            created.header.apply_memory
        );
        let limits = Limits {
            max_memory: budget,
            result_length: new.len() as u64,
        };
        let mut out = Vec::new();
        apply(&old, &mut &delta[..], &mut out, &limits).unwrap();
        assert!(out == new);
    }
    let tiny = CreateOptions {
        apply_memory_budget: 4096,
        ..CreateOptions::default()
    };
    assert!(create(&old, &new, &tiny, &mut Vec::new()).is_err());
}
