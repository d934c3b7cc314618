//! Fuzzes the delta decoder (`cargo fuzz run apply`): arbitrary bytes, and valid deltas
//! with bytes flipped, inserted or cut, applied against a fixed small base must give an
//! error or the result the header names, never a panic, a hang or an allocation beyond
//! the limit. Inputs also serve as new images: create + apply must round-trip.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use update_delta::{Algorithm, CreateOptions, Limits, apply, create};

/// 1 MiB: small enough that an over-allocation shows up in libFuzzer's RSS limit.
const MAX_MEMORY: u64 = 1 << 20;

fn base() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut state = 0x2545_f491u32;
        (0..6000)
            .map(|index| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                if index % 7 < 4 {
                    (index / 64) as u8
                } else {
                    (state >> 24) as u8 & 0x3f
                }
            })
            .collect()
    })
}

/// Valid deltas of both algorithms from the base to an edited copy.
fn valid_deltas() -> &'static [Vec<u8>] {
    static DELTAS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    DELTAS.get_or_init(|| {
        let base = base();
        let mut new = base.to_vec();
        new.splice(1000..1000, [1, 2, 3, 4, 5, 6, 7, 8]);
        new.drain(3000..3100);
        new[4000] ^= 0x40;
        new.extend_from_slice(&base[..700]);
        [Algorithm::CopyAdd, Algorithm::ZstdPatch]
            .into_iter()
            .map(|algorithm| {
                let options = CreateOptions {
                    apply_memory_budget: MAX_MEMORY,
                    algorithms: vec![algorithm],
                    ..CreateOptions::default()
                };
                let mut delta = Vec::new();
                create(base, &new, &options, &mut delta).expect("a valid delta");
                delta
            })
            .collect()
    })
}

fn try_apply(delta: &[u8]) {
    let Ok(header) = update_delta::Header::read_from(&mut &delta[..]) else {
        return;
    };
    let limits = Limits {
        max_memory: MAX_MEMORY,
        result_length: header.result_length.min(1 << 24),
    };
    let mut out = Vec::new();
    if apply(&base(), &mut &delta[..], &mut out, &limits).is_ok() {
        assert_eq!(out.len() as u64, header.result_length);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        // Arbitrary bytes as a delta (mostly stopped by the header check).
        0 => try_apply(rest),
        // A valid delta with edits: (position, xor) pairs, then a cut.
        1 | 2 => {
            let deltas = valid_deltas();
            let mut delta = deltas[usize::from(mode / 4) % deltas.len()].clone();
            let header_len = update_delta::format::HEADER_LEN;
            let (edits, cut) = rest.split_at(rest.len() & !3);
            for edit in edits.chunks_exact(4) {
                let position = usize::from(u16::from_le_bytes([edit[0], edit[1]]));
                // Mode 1 spares the checked header so edits reach the body.
                let position = if mode % 4 == 1 {
                    header_len + position
                } else {
                    position
                };
                if let Some(byte) = delta.get_mut(position) {
                    *byte ^= edit[2];
                } else if edit[3] & 1 == 1 {
                    delta.push(edit[2]);
                }
            }
            if let Some(&cut) = cut.first() {
                delta.truncate(delta.len().saturating_sub(usize::from(cut)));
            }
            try_apply(&delta);
        }
        // The input as a new image: what create makes, apply must turn back into it.
        _ => {
            let options = CreateOptions {
                apply_memory_budget: MAX_MEMORY,
                ..CreateOptions::default()
            };
            let mut delta = Vec::new();
            create(base(), rest, &options, &mut delta).expect("create");
            let limits = Limits {
                max_memory: MAX_MEMORY,
                result_length: rest.len() as u64,
            };
            let mut out = Vec::new();
            apply(&base(), &mut &delta[..], &mut out, &limits).expect("apply of a fresh delta");
            assert!(out == rest);
        }
    }
});
