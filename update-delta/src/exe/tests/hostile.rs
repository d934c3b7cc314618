//! Hostile input: malformed or truncated ELF images for the generator, and malformed
//! transform sections for the device. Each is refused or harmless, never a panic.

use proptest::prelude::*;

use super::elf_writer::{EM_AARCH64, EM_X86_64, Section, elf};
use super::program::{Program, Rng, build};
use crate::exe::{BasePrediction, Isa};
use crate::{ApplyError, Base};

fn small_pair(isa: Isa) -> (Vec<u8>, Vec<u8>) {
    let program = Program::random(11, 40, 20);
    let (next, _) = program.next_release();
    (build(isa, &program).image, build(isa, &next).image)
}

/// Whatever `analyse` makes of `old`, using it must not panic either.
fn exercise(old: &[u8], new: &[u8]) {
    if let (Some(prediction), _) = BasePrediction::analyse_with_report(old, new) {
        let predicted = prediction.predicted_base(old);
        assert_eq!(predicted.len(), old.len());
        let mut read = vec![0u8; old.len()];
        prediction
            .wrap(&old.to_vec())
            .read_exact_at(&mut read, 0)
            .expect("whole base");
        assert!(read == predicted);
    }
}

#[test]
fn truncated_images_are_refused_or_harmless() {
    for isa in [Isa::X86_64, Isa::Thumb] {
        let (old, new) = small_pair(isa);
        let lengths = (0..600)
            .chain((600..old.len()).step_by(331))
            .chain([old.len() - 1]);
        for len in lengths {
            exercise(&old[..len], &new);
            exercise(&old, &new[..len.min(new.len())]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn corrupted_headers_are_refused_or_harmless(
        isa_index in 0usize..4,
        flips in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..8),
    ) {
        let isa = [Isa::X86_64, Isa::Aarch64, Isa::Arm, Isa::Thumb][isa_index];
        let (mut old, new) = small_pair(isa);
        let headers = old.len() - 400;
        for (at, value) in flips {
            // The ELF and program headers, or the section headers at the end.
            let at = if at % 2 == 0 { usize::from(at) % 256 } else { headers + usize::from(at) % 400 };
            old[at] = value;
        }
        exercise(&old, &new);
    }
}

#[test]
fn non_elf_other_machines_and_mixed_architectures_are_refused() {
    let (x86, x86_new) = small_pair(Isa::X86_64);
    let (arm64, _) = small_pair(Isa::Aarch64);
    assert!(
        BasePrediction::analyse_with_report(&x86, &arm64)
            .0
            .is_none(),
        "mixed"
    );
    assert!(
        BasePrediction::analyse_with_report(&x86_new[1..], &x86)
            .0
            .is_none(),
        "not ELF"
    );
    let mut big_endian = x86.clone();
    big_endian[5] = 2;
    assert!(
        BasePrediction::analyse_with_report(&big_endian, &x86_new)
            .0
            .is_none()
    );
    let code = Section {
        name: ".text",
        vaddr: 0x1000,
        bytes: vec![0xE8, 0, 0, 0, 0],
        exec: true,
    };
    let (_, x86_as_elf32) = elf(EM_X86_64, false, std::slice::from_ref(&code), true);
    assert!(
        BasePrediction::analyse_with_report(&x86_as_elf32, &x86_as_elf32)
            .0
            .is_none()
    );
    let (_, riscv) = elf(243, true, std::slice::from_ref(&code), true);
    assert!(
        BasePrediction::analyse_with_report(&riscv, &riscv)
            .0
            .is_none()
    );
}

#[test]
fn images_without_section_headers_use_executable_segments() {
    let program = Program::random(5, 200, 20);
    let (next, _) = program.next_release();
    let strip = |isa: Isa, program: &Program| {
        let built = build(isa, program);
        let sections = [Section {
            name: ".text",
            vaddr: 0x40_1000,
            bytes: built.image[built.text_offset..built.text_offset + built.text_len].to_vec(),
            exec: true,
        }];
        elf(EM_AARCH64, true, &sections, false).1
    };
    let (old, new) = (strip(Isa::Aarch64, &program), strip(Isa::Aarch64, &next));
    let (prediction, report) = BasePrediction::analyse_with_report(&old, &new);
    assert_eq!(prediction.map(|p| p.isa()), Some(Isa::Aarch64));
    assert!(report.won > 50, "{report}");
}

/// A transform section around an arbitrary payload.
fn frame(payload: &[u8]) -> Vec<u8> {
    let compressed = zstd::bulk::compress(payload, 3).expect("compressing in memory");
    let mut out = b"EXP1".to_vec();
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
    out.extend_from_slice(&compressed);
    out
}

fn varints(values: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    for &value in values {
        let mut value = value;
        while value >= 0x80 {
            out.push(value as u8 | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }
    out
}

const MEMORY: u64 = 8 << 20;

fn read(section: &[u8], memory: u64) -> Result<BasePrediction, ApplyError> {
    BasePrediction::read_from(&mut &section[..], memory)
}

/// isa, block log2, image length, then the three tables.
fn payload(head: &[u8], image_len: u64, tables: &[u64]) -> Vec<u8> {
    let mut bytes = head.to_vec();
    bytes.extend(varints(&[image_len]));
    bytes.extend(varints(tables));
    bytes
}

#[test]
fn malformed_transform_sections_are_refused() {
    let valid = payload(
        &[1, 12],
        100,
        &[1, 0, 0, 10, 0x1000, 1, 0x1000, 64, 1, 5, 18],
    );
    assert!(read(&frame(&valid), MEMORY).is_ok());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unknown isa", payload(&[9, 12], 100, &[0, 0, 0])),
        ("block too small", payload(&[1, 9], 100, &[0, 0, 0])),
        ("block too large", payload(&[1, 17], 100, &[0, 0, 0])),
        (
            "region past the image",
            payload(&[1, 12], 100, &[1, 0, 95, 10, 0, 0, 0]),
        ),
        (
            "unknown region content",
            payload(&[1, 12], 100, &[1, 9, 0, 10, 0, 0, 0]),
        ),
        (
            "empty region",
            payload(&[1, 12], 100, &[1, 0, 0, 0, 0, 0, 0]),
        ),
        (
            "region vaddr overflows",
            payload(&[1, 12], 100, &[1, 0, 0, 10, u64::MAX - 3, 0, 0]),
        ),
        (
            "empty loaded range",
            payload(&[1, 12], 100, &[0, 1, 5, 0, 0]),
        ),
        (
            "segments repeat",
            payload(&[1, 12], 100, &[0, 0, 2, 5, 0, 16, 16]),
        ),
        (
            "segment start overflows",
            payload(&[1, 12], 100, &[0, 0, 2, u64::MAX, 1, 16, 16]),
        ),
        (
            "displacement overflows",
            payload(&[1, 12], 100, &[0, 0, 2, 1, 1, u64::MAX, u64::MAX]),
        ),
        (
            "more entries than bytes",
            payload(&[1, 12], 100, &[0, 0, 1000]),
        ),
        ("trailing bytes", payload(&[1, 12], 100, &[0, 0, 0, 0])),
        (
            "displacement never used",
            payload(&[1, 12], 100, &[0, 0, 1, 5, 3]),
        ),
        ("ends early", payload(&[1, 12], 100, &[1, 0])),
        (
            "varint overflows",
            [
                payload(&[1, 12], 100, &[0, 0, 1]),
                vec![0xFF; 9],
                vec![0x7F],
            ]
            .concat(),
        ),
    ];
    for (why, bytes) in cases {
        match read(&frame(&bytes), MEMORY) {
            Err(ApplyError::Corrupt(_)) => {}
            other => panic!("{why}: {other:?}"),
        }
    }
    let mut wrong_magic = frame(&valid);
    wrong_magic[0] = b'X';
    assert!(matches!(
        read(&wrong_magic, MEMORY),
        Err(ApplyError::Corrupt(_))
    ));
    let mut short_payload = frame(&valid);
    short_payload[4] += 1;
    assert!(matches!(
        read(&short_payload, MEMORY),
        Err(ApplyError::Corrupt(_))
    ));
}

#[test]
fn sections_over_the_memory_limit_are_refused_before_allocating() {
    let mut huge = b"EXP1".to_vec();
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        read(&huge, MEMORY),
        Err(ApplyError::OverMemoryLimit { .. })
    ));
    // 60,000 segments fit the payload but not 256 KiB of memory.
    let mut tables = vec![0, 0, 60_000];
    tables.extend(std::iter::repeat_n(1, 60_000));
    tables.extend(std::iter::repeat_n(18, 60_000));
    let many = frame(&payload(&[1, 12], 100, &tables));
    assert!(matches!(
        read(&many, 1 << 20),
        Err(ApplyError::OverMemoryLimit { .. })
    ));
    let decoded = read(&many, MEMORY).expect("fits 8 MiB");
    assert!(decoded.memory_needed() <= MEMORY);
    assert!(decoded.memory_needed() > 60_000 * 16);
}

#[test]
fn every_truncation_of_a_real_section_is_refused() {
    let (old, new) = small_pair(Isa::Aarch64);
    let prediction = BasePrediction::analyse_with_report(&old, &new)
        .0
        .expect("recognised");
    let mut section = Vec::new();
    prediction.write_to(&mut section).expect("writing to a Vec");
    for len in 0..section.len() {
        assert!(read(&section[..len], MEMORY).is_err(), "truncated to {len}");
    }
    assert_eq!(read(&section, MEMORY).expect("whole"), prediction);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_sections_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = read(&bytes, MEMORY);
        let _ = read(&[b"EXP1".as_slice(), &bytes].concat(), MEMORY);
    }

    /// Arbitrary payloads that decode are used against an arbitrary base without panics.
    #[test]
    fn arbitrary_payloads_never_panic(
        head in (1u8..=4, 10u8..=16),
        image_len in 0u64..20_000,
        tables in proptest::collection::vec(0u64..30_000, 0..40),
        seed in any::<u64>(),
    ) {
        let bytes = payload(&[head.0, head.1], image_len, &tables);
        if let Ok(prediction) = read(&frame(&bytes), MEMORY) {
            let mut rng = Rng(seed | 1);
            let base: Vec<u8> = (0..image_len).map(|_| rng.next() as u8).collect();
            let mut whole = vec![0u8; image_len as usize];
            prediction.wrap(&base).read_exact_at(&mut whole, 0).expect("inside the base");
            prop_assert!(whole == prediction.predicted_base(&base));
        }
    }
}
