//! The decompressing sink: frames into the slot, checkpoints at frame ends, resumption at
//! a journaled frame end, and hostile streams refused.

use update_core::api::{Slot, UpdateEvent};
use update_core::hash::sha256_hex;

use super::*;
use crate::slots::Slots;
use crate::state::Phase;

struct Fixture {
    _dir: tempfile::TempDir,
    slots: Slots,
    state: StateDir,
    journal: Journal,
}

fn fixture(image: &[u8]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let slots = Slots::new(&dir.path().join("a.img"), &dir.path().join("b.img"));
    let state = StateDir::open(&dir.path().join("state")).unwrap();
    let journal = Journal {
        target_name: "fw.img".into(),
        version: semver::Version::new(1, 1, 0),
        from_version: semver::Version::new(1, 0, 0),
        from_slot: Slot::A,
        to_slot: Slot::B,
        target_sha256: sha256_hex(image),
        image_length: image.len() as u64,
        image_sha256: sha256_hex(image),
        phase: Phase::Installing,
        last_event: UpdateEvent::Downloading,
        bytes_downloaded: 0,
        reason: None,
        written: None,
        validator: None,
        payload: None,
        zstd_offset: None,
    };
    Fixture {
        _dir: dir,
        slots,
        state,
        journal,
    }
}

/// Compressible bytes: runs of a counter with a little noise.
fn image(length: usize) -> Vec<u8> {
    (0..length)
        .map(|i| ((i / 7) as u8).wrapping_add(if i % 1000 == 0 { 3 } else { 0 }))
        .collect()
}

/// The image as independent frames of `frame` bytes of image each.
fn frames(image: &[u8], frame: usize) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::new();
    let mut ends = Vec::new();
    for chunk in image.chunks(frame) {
        out.extend(zstd::bulk::compress(chunk, 3).unwrap());
        ends.push(out.len());
    }
    (out, ends)
}

fn open_sink<'a>(f: &'a mut Fixture, length: u64, keep: bool) -> ZstdSink<'a> {
    let writer = if keep {
        f.slots.open_for_resume(Slot::B, Slot::A, length).unwrap()
    } else {
        f.slots.open_for_install(Slot::B, Slot::A, length).unwrap()
    };
    ZstdSink::new(writer, &mut f.journal, &f.state, length).unwrap()
}

/// Feeds `bytes` in uneven chunks, as a network delivers them.
fn feed(sink: &mut ZstdSink<'_>, bytes: &[u8]) -> Result<()> {
    for chunk in bytes.chunks(7_777) {
        sink.write(chunk)?;
    }
    Ok(())
}

#[test]
fn frames_decode_into_the_slot_with_checkpoints_at_frame_ends() {
    let image = image(1_000_000);
    let (compressed, ends) = frames(&image, 100_000);
    let mut f = fixture(&image);
    let mut sink = open_sink(&mut f, image.len() as u64, false);
    assert_eq!(sink.resume(&mut |_| {}).unwrap(), Kept::Nothing);
    feed(&mut sink, &compressed).unwrap();
    let writer = sink.finish("fw.img.zst").unwrap();
    assert_eq!(
        writer.finish().unwrap(),
        (image.len() as u64, sha256_hex(&image))
    );
    assert_eq!(std::fs::read(f.slots.path(Slot::B)).unwrap(), image);

    // The last checkpoint (every 125 000 bytes, at the next frame end) is a frame end.
    let journal = f.state.journal().unwrap().unwrap();
    let written = journal.written.unwrap();
    assert_eq!(written.length % 100_000, 0);
    assert_eq!(
        written.sha256,
        sha256_hex(&image[..written.length as usize])
    );
    let frame = written.length as usize / 100_000;
    assert_eq!(journal.zstd_offset, Some(ends[frame - 1] as u64));
    assert_eq!(f.journal.bytes_downloaded, compressed.len() as u64);
}

#[test]
fn a_frame_ending_exactly_at_the_end_of_the_output_buffer_is_a_frame_end() {
    // Frames of whole read buffers, fed at once and in chunks that end on frame ends:
    // the decoder fills its output exactly as each frame ends.
    let image = image(4 * STREAM_BUFFER);
    let (compressed, ends) = frames(&image, 2 * STREAM_BUFFER);
    let split = [&compressed[..ends[0]], &compressed[ends[0]..]];
    for chunks in [vec![compressed.as_slice()], split.to_vec()] {
        let mut f = fixture(&image);
        let mut sink = open_sink(&mut f, image.len() as u64, false);
        for chunk in chunks {
            sink.write(chunk).unwrap();
        }
        let writer = sink.finish("fw.img.zst").unwrap();
        assert_eq!(writer.finish().unwrap().1, sha256_hex(&image));
    }
}

#[test]
fn a_journaled_frame_end_is_resumed_after_its_prefix_is_checked() {
    let image = image(600_000);
    let (compressed, ends) = frames(&image, 100_000);
    let mut f = fixture(&image);
    std::fs::write(f.slots.path(Slot::B), &image[..300_000]).unwrap();
    f.journal.written = Some(WrittenPrefix {
        length: 200_000,
        sha256: sha256_hex(&image[..200_000]),
    });
    f.journal.zstd_offset = Some(ends[1] as u64);
    let mut sink = open_sink(&mut f, image.len() as u64, true);
    let kept = sink
        .resume(&mut |_| panic!("decoded bytes are not the target's"))
        .unwrap();
    assert_eq!(kept, Kept::Consumed(ends[1] as u64));
    feed(&mut sink, &compressed[ends[1]..]).unwrap();
    assert!(sink.resumed);
    let writer = sink.finish("fw.img.zst").unwrap();
    assert_eq!(writer.finish().unwrap().1, sha256_hex(&image));

    // A prefix the slot no longer holds: start again from byte 0.
    let mut f = fixture(&image);
    std::fs::write(f.slots.path(Slot::B), vec![0u8; 300_000]).unwrap();
    f.journal.written = Some(WrittenPrefix {
        length: 200_000,
        sha256: sha256_hex(&image[..200_000]),
    });
    f.journal.zstd_offset = Some(ends[1] as u64);
    let mut sink = open_sink(&mut f, image.len() as u64, true);
    assert_eq!(sink.resume(&mut |_| {}).unwrap(), Kept::Nothing);
    feed(&mut sink, &compressed).unwrap();
    assert_eq!(
        sink.finish("z").unwrap().finish().unwrap().1,
        sha256_hex(&image)
    );
    assert_eq!(f.journal.zstd_offset, Some(ends[4] as u64));
}

#[test]
fn a_frame_asking_for_a_window_over_the_frame_limit_is_refused() {
    let big = image(5 << 20);
    let compressed = zstd::bulk::compress(&big, 19).unwrap();
    let mut f = fixture(&big);
    let mut sink = open_sink(&mut f, big.len() as u64, false);
    let refused = feed(&mut sink, &compressed).unwrap_err();
    assert!(
        matches!(&refused, Error::TargetMismatch { reason, .. } if reason.contains("zstd")),
        "{refused}"
    );
}

#[test]
fn more_bytes_than_the_signed_image_are_refused() {
    let image = image(200_000);
    let (compressed, _) = frames(&image, 100_000);
    let mut f = fixture(&image[..150_000]);
    let mut sink = open_sink(&mut f, 150_000, false);
    let refused = feed(&mut sink, &compressed).unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("more than the signed image length"),
        "{refused}"
    );
    assert!(std::fs::read(f.slots.path(Slot::B)).unwrap().len() <= 150_000);
}

#[test]
fn a_truncated_or_garbled_stream_is_refused() {
    let image = image(300_000);
    let (compressed, _) = frames(&image, 100_000);
    let mut f = fixture(&image);
    let mut sink = open_sink(&mut f, image.len() as u64, false);
    feed(&mut sink, &compressed[..compressed.len() - 10]).unwrap();
    let refused = sink.finish("fw.img.zst").err().unwrap();
    assert!(
        refused.to_string().contains("ends inside a frame"),
        "{refused}"
    );

    let mut f = fixture(&image);
    let mut sink = open_sink(&mut f, image.len() as u64, false);
    let refused = feed(&mut sink, &[0x55; 4096]).unwrap_err();
    assert!(matches!(refused, Error::TargetMismatch { .. }), "{refused}");
}
