//! Tests of the executable-aware base prediction on synthetic ELF images of every
//! supported instruction set (see `program`), plus decoding golden vectors.

mod elf_writer;
mod hostile;
mod program;

use std::collections::HashMap;
use std::sync::OnceLock;

use proptest::prelude::*;

use super::BasePrediction;
use super::isa::{Isa, Kind, Reference, Targets};
use crate::Base;
use program::{Built, Program, build};

const ISAS: [Isa; 4] = [Isa::X86_64, Isa::Aarch64, Isa::Arm, Isa::Thumb];

/// An old and a new build of the same random program, and the prediction between them.
struct Fixture {
    old: Built,
    new: Built,
    prediction: BasePrediction,
    report: super::Report,
}

fn fixture(isa: Isa, functions: u32) -> Fixture {
    let old_program = Program::random(7, functions, 40);
    let (new_program, _) = old_program.next_release();
    let (old, new) = (build(isa, &old_program), build(isa, &new_program));
    let (prediction, report) = BasePrediction::analyse_with_report(&old.image, &new.image);
    let prediction = prediction.unwrap_or_else(|| panic!("{isa:?} is recognised"));
    Fixture {
        old,
        new,
        prediction,
        report,
    }
}

/// Large programs (code over many 4 KiB slices), built once per ISA.
fn large(isa: Isa) -> &'static Fixture {
    static FIXTURES: [OnceLock<Fixture>; 4] = [const { OnceLock::new() }; 4];
    let index = ISAS.iter().position(|&i| i == isa).unwrap_or(0);
    FIXTURES[index].get_or_init(|| fixture(isa, 1500))
}

fn scan_all(isa: Isa, code: &[u8], vaddr: u64) -> Vec<Reference> {
    let targets = Targets::new(vec![(0, u64::MAX / 2)], vec![(0, u64::MAX / 2)]);
    let mut found = Vec::new();
    isa.scan(code, vaddr, &targets, &mut |r| found.push(r));
    found
}

#[test]
fn golden_encodings_decode_to_their_targets() {
    let cases: [(Isa, &[u8], u64, Kind, u64); 9] = [
        (
            Isa::X86_64,
            &[0xE8, 0, 0, 0, 0],
            0x1000,
            Kind::X86Rel32 { tail: 4 },
            0x1005,
        ),
        (
            Isa::X86_64,
            &[0x48, 0x8D, 0x05, 0xF9, 0xFF, 0xFF, 0xFF],
            0x1000,
            Kind::X86Rel32 { tail: 4 },
            0x1000,
        ),
        // mov dword [rip+0x10], 1: the immediate follows the displacement.
        (
            Isa::X86_64,
            &[0xC7, 0x05, 0x10, 0, 0, 0, 1, 0, 0, 0],
            0x1000,
            Kind::X86Rel32 { tail: 8 },
            0x101A,
        ),
        (
            Isa::Aarch64,
            &[0x04, 0, 0, 0x94],
            0x40_0000,
            Kind::A64Imm26,
            0x40_0010,
        ),
        // adrp x0, #+0x1000; add x0, x0, #0x10
        (
            Isa::Aarch64,
            &[0, 0, 0, 0xB0, 0x00, 0x40, 0x00, 0x91],
            0x40_0ABC,
            Kind::A64AdrpPair {
                second: 1,
                scale: 0,
                add: true,
            },
            0x40_1010,
        ),
        (
            Isa::Arm,
            &[0x02, 0, 0, 0xEB],
            0x8000,
            Kind::A32Branch,
            0x8010,
        ),
        (
            Isa::Arm,
            &[0xFE, 0xFF, 0xFF, 0x1A],
            0x8000,
            Kind::A32Branch,
            0x8000,
        ),
        (
            Isa::Thumb,
            &[0x00, 0xF0, 0x06, 0xF8],
            0x8000,
            Kind::T32Branch24,
            0x8010,
        ),
        (
            Isa::Thumb,
            &[0xFF, 0xF7, 0xFE, 0xBF],
            0x8000,
            Kind::T32Branch24,
            0x8000,
        ),
    ];
    for (isa, bytes, vaddr, kind, target) in cases {
        let found = scan_all(isa, bytes, vaddr);
        assert_eq!(found.len(), 1, "{isa:?} {bytes:02x?}");
        assert_eq!(
            (found[0].kind, found[0].target),
            (kind, target),
            "{isa:?} {bytes:02x?}"
        );
    }
}

fn templates() -> impl Strategy<Value = (Isa, Vec<u8>, Kind)> {
    let words = |w: &[u32]| w.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>();
    prop_oneof![
        Just((
            Isa::X86_64,
            vec![0xE8, 0, 0, 0, 0],
            Kind::X86Rel32 { tail: 4 }
        )),
        Just((
            Isa::X86_64,
            vec![0x81, 0x3D, 0, 0, 0, 0, 1, 2, 3, 4],
            Kind::X86Rel32 { tail: 8 }
        )),
        Just((Isa::Aarch64, words(&[0x9400_0000]), Kind::A64Imm26)),
        Just((Isa::Aarch64, words(&[0x5400_0001]), Kind::A64Imm19)),
        Just((Isa::Aarch64, words(&[0x3600_0000]), Kind::A64Imm14)),
        Just((Isa::Aarch64, words(&[0x1000_0000]), Kind::A64Adr)),
        Just((
            Isa::Aarch64,
            words(&[0x9000_0003, 0xF940_0063]),
            Kind::A64AdrpPair {
                second: 1,
                scale: 3,
                add: false
            }
        )),
        Just((Isa::Arm, words(&[0xEB00_0000]), Kind::A32Branch)),
        Just((Isa::Arm, words(&[0xFA00_0000]), Kind::A32Blx)),
        Just((Isa::Thumb, vec![0, 0xF0, 0, 0xD0], Kind::T32Branch24)),
        Just((Isa::Thumb, vec![0, 0xF0, 0, 0xC0], Kind::T32Blx)),
        Just((Isa::Thumb, vec![0, 0xF0, 0, 0x80], Kind::T32Branch20)),
    ]
}

proptest! {
    /// Whatever an encoding accepts, the scan decodes back exactly.
    #[test]
    fn encode_then_scan_round_trips(
        (isa, template, kind) in templates(),
        source in 0x1000_0000u64..0x2000_0000,
        offset in prop_oneof![-0x100i64..0x100, -0x10_0000i64..0x10_0000, -0x100_0000i64..0x100_0000],
    ) {
        let mut bytes = template.clone();
        let at = if isa == Isa::X86_64 { if template[0] == 0xE8 { 1 } else { 2 } } else { 0 };
        let source = source & !3;
        let target = source.wrapping_add_signed(offset);
        let reference = Reference { at, kind, source: source + at as u64, target: 0 };
        if isa.encode(&mut bytes, &reference, source + at as u64, target) {
            let found = scan_all(isa, &bytes, source);
            prop_assert_eq!(found.len(), 1);
            prop_assert_eq!(found[0].kind, kind);
            prop_assert_eq!(found[0].target, target);
        } else {
            prop_assert_eq!(bytes, template, "a refused encoding changes nothing");
        }
    }
}

#[test]
fn moved_but_unchanged_code_is_predicted_exactly() {
    for isa in ISAS {
        let old_program = Program::random(3, 30, 20);
        let (new_program, changed) = old_program.next_release();
        let (old, new) = (build(isa, &old_program), build(isa, &new_program));
        assert!(
            old.text_len <= 4096,
            "{isa:?}: the code must fit one slice for exactness"
        );
        let (prediction, report) = BasePrediction::analyse_with_report(&old.image, &new.image);
        let prediction = prediction.unwrap_or_else(|| panic!("{isa:?} is recognised"));
        assert_eq!(prediction.isa(), isa);
        let predicted = prediction.predicted_base(&old.image);
        assert_eq!(predicted.len(), old.image.len());
        // Where the alignment of the two builds stops and starts again around an
        // insertion is a matter of the matcher's judgement: the code right before and
        // after one is left out.
        let neighbours = |program: &Program| -> HashMap<u32, (Option<u32>, Option<u32>)> {
            let ids: Vec<u32> = program.functions.iter().map(|f| f.id).collect();
            let around = |i: usize| (i.checked_sub(1).map(|p| ids[p]), ids.get(i + 1).copied());
            (0..ids.len()).map(|i| (ids[i], around(i))).collect()
        };
        let (old_around, new_around) = (neighbours(&old_program), neighbours(&new_program));
        let mut moved_references = 0;
        for function in old_program
            .functions
            .iter()
            .filter(|f| !changed.contains(&f.id) && old_around[&f.id] == new_around[&f.id])
        {
            let (at_old, len) = old.functions[&function.id];
            let (at_new, new_len) = new.functions[&function.id];
            assert_eq!(len, new_len);
            let (before, after) = (
                &old.image[at_old..at_old + len],
                &new.image[at_new..at_new + len],
            );
            assert_eq!(
                &predicted[at_old..at_old + len],
                after,
                "{isa:?}: function {} at {at_old:x}: {report}: {:x?}",
                function.id,
                prediction.tables.map
            );
            moved_references += usize::from(before != after);
        }
        assert!(
            moved_references > 10,
            "{isa:?}: only {moved_references} functions had references that changed"
        );
    }
}

#[test]
fn large_programs_are_mostly_predicted_and_the_prediction_pays() {
    for isa in ISAS {
        let fixture = large(isa);
        let report = &fixture.report;
        assert!(report.changed > 1000, "{isa:?}: {report}");
        assert!(report.won * 100 >= report.changed * 97, "{isa:?}: {report}");
        assert!(report.lost * 100 <= report.paired, "{isa:?}: {report}");
        for family in report.families.iter().filter(|f| f.changed >= 50) {
            assert!(family.won * 10 >= family.changed * 9, "{isa:?}: {report}");
        }
        let families: Vec<&str> = report.families.iter().map(|f| f.family).collect();
        assert!(families.contains(&"pointer"), "{isa:?}: {report}");
        assert!(families.contains(&"unwind offset"), "{isa:?}: {report}");
        if isa == Isa::Arm {
            assert!(families.contains(&"a32 pool offset"), "{report}");
        }
        assert!(report.pays, "{isa:?}: {report}");
        assert!(BasePrediction::analyse(&fixture.old.image, &fixture.new.image).is_some());
        assert!(
            fixture.old.text_len > 8 * 4096,
            "{isa:?}: the code spans many slices"
        );
    }
}

#[test]
fn the_prediction_round_trips_through_its_encoding() {
    for isa in ISAS {
        let fixture = large(isa);
        let mut encoded = Vec::new();
        fixture
            .prediction
            .write_to(&mut encoded)
            .expect("writing to a Vec");
        let mut input = encoded.as_slice();
        let read = BasePrediction::read_from(&mut input, fixture.prediction.memory_needed());
        assert_eq!(read.expect("reads back"), fixture.prediction);
        assert!(input.is_empty(), "reads exactly what was written");
    }
}

#[test]
fn whole_image_reads_through_wrap_equal_the_predicted_base() {
    for isa in ISAS {
        let fixture = large(isa);
        let predicted = fixture.prediction.predicted_base(&fixture.old.image);
        assert_ne!(predicted, fixture.old.image);
        let wrapped = fixture.prediction.wrap(&fixture.old.image);
        for chunk in [1usize, 1000, 4096, 65536] {
            let mut read = vec![0u8; predicted.len()];
            for (index, piece) in read.chunks_mut(chunk).enumerate() {
                wrapped
                    .read_exact_at(piece, (index * chunk) as u64)
                    .expect("inside the base");
            }
            assert!(read == predicted, "{isa:?}, chunks of {chunk}");
        }
        let mut past_end = [0u8; 2];
        assert!(
            wrapped
                .read_exact_at(&mut past_end, predicted.len() as u64 - 1)
                .is_err()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random reads in random order (exercising the slice cache) see the predicted base.
    #[test]
    fn random_reads_through_wrap_equal_the_predicted_base(
        isa_index in 0usize..4,
        reads in proptest::collection::vec((0.0f64..1.0, 0usize..9000), 1..24),
    ) {
        let fixture = large(ISAS[isa_index]);
        let predicted = fixture.prediction.predicted_base(&fixture.old.image);
        let wrapped = fixture.prediction.wrap(&fixture.old.image);
        for (start, len) in reads {
            // Bias towards the code, where the bytes differ.
            let code = fixture.old.text_offset as f64 + start * (fixture.old.text_len as f64 * 1.2);
            let offset = (code as usize).min(predicted.len());
            let len = len.min(predicted.len() - offset);
            let mut read = vec![0u8; len];
            wrapped.read_exact_at(&mut read, offset as u64).expect("inside the base");
            prop_assert!(read == predicted[offset..offset + len]);
        }
    }
}

#[test]
fn arm_state_is_detected_from_the_code() {
    for isa in [Isa::Arm, Isa::Thumb] {
        let fixture = large(isa);
        assert_eq!(fixture.prediction.isa(), isa);
    }
}
