//! The zstd form of a release image: independent zstd frames, each holding at most
//! [`ZSTD_FRAME_MAX`] bytes of image, so a device decodes it with a window no larger than
//! that and resumes an interrupted download at a frame boundary.
//!
//! The image is streamed: a batch of frames (one per worker thread) is read, compressed
//! in parallel and written in order, so memory stays at a few frames whatever the image
//! size.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::thread;

use update_core::firmware::ZSTD_FRAME_MAX;
use zstd::bulk::Compressor;
use zstd::zstd_safe::CParameter;

/// The default level: slow to make, which happens once per release, and small to ship.
pub const DEFAULT_LEVEL: i32 = 19;
/// log2 of [`ZSTD_FRAME_MAX`]: the window no frame exceeds.
pub const WINDOW_LOG: u32 = ZSTD_FRAME_MAX.trailing_zeros();
/// Upper bound on worker threads (each holds two frames and a compression context).
const MAX_THREADS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum ZstdFormError {
    #[error("zstd level {0} is outside 1..=22")]
    Level(i32),
    #[error("cannot read image {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("zstd compression failed: {0}")]
    Compress(io::Error),
    #[error("cannot write the zstd form: {0}")]
    Write(io::Error),
}

/// How to compress.
#[derive(Clone, Copy, Debug)]
pub struct ZstdOptions {
    pub level: i32,
    /// Frames compressed at once; 0 picks from the machine's cores.
    pub threads: usize,
}

impl Default for ZstdOptions {
    fn default() -> Self {
        ZstdOptions {
            level: DEFAULT_LEVEL,
            threads: 0,
        }
    }
}

/// Compresses the image at `image` into `out` as independent frames; returns the number
/// of image bytes read.
pub fn compress_image(
    image: &Path,
    out: &mut dyn Write,
    options: ZstdOptions,
) -> Result<u64, ZstdFormError> {
    if !(1..=22).contains(&options.level) {
        return Err(ZstdFormError::Level(options.level));
    }
    let read_error = |source| ZstdFormError::Read {
        path: image.display().to_string(),
        source,
    };
    let mut input = File::open(image).map_err(read_error)?;
    let threads = worker_count(options.threads);
    let mut compressors = (0..threads)
        .map(|_| frame_compressor(options.level))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ZstdFormError::Compress)?;
    let frame_len = usize::try_from(ZSTD_FRAME_MAX).unwrap_or(usize::MAX);
    let mut frames: Vec<Vec<u8>> = (0..threads).map(|_| Vec::new()).collect();
    let mut total = 0u64;
    loop {
        let mut filled = 0;
        for frame in frames.iter_mut() {
            read_frame(&mut input, frame, frame_len).map_err(read_error)?;
            if frame.is_empty() {
                break;
            }
            filled += 1;
        }
        if filled == 0 {
            return Ok(total);
        }
        let compressed = compress_batch(&mut compressors[..filled], &frames[..filled])?;
        for (frame, bytes) in frames.iter().zip(&compressed) {
            out.write_all(bytes).map_err(ZstdFormError::Write)?;
            total += frame.len() as u64;
        }
        if filled < threads || frames[filled - 1].len() < frame_len {
            return Ok(total);
        }
    }
}

fn worker_count(requested: usize) -> usize {
    let available = thread::available_parallelism().map_or(1, usize::from);
    let wanted = if requested == 0 { available } else { requested };
    wanted.clamp(1, MAX_THREADS)
}

/// A compressor whose frames never need a window above [`ZSTD_FRAME_MAX`], record their
/// content size and carry a checksum.
fn frame_compressor(level: i32) -> io::Result<Compressor<'static>> {
    let mut compressor = Compressor::new(level)?;
    compressor.set_parameter(CParameter::WindowLog(WINDOW_LOG))?;
    compressor.set_parameter(CParameter::ContentSizeFlag(true))?;
    compressor.set_parameter(CParameter::ChecksumFlag(true))?;
    Ok(compressor)
}

/// Fills `frame` with up to `frame_len` bytes; fewer only at the end of the input.
fn read_frame(input: &mut File, frame: &mut Vec<u8>, frame_len: usize) -> io::Result<()> {
    frame.clear();
    Read::by_ref(input)
        .take(frame_len as u64)
        .read_to_end(frame)
        .map(|_| ())
}

fn compress_batch(
    compressors: &mut [Compressor<'static>],
    frames: &[Vec<u8>],
) -> Result<Vec<Vec<u8>>, ZstdFormError> {
    thread::scope(|scope| {
        let workers: Vec<_> = compressors
            .iter_mut()
            .zip(frames)
            .map(|(compressor, frame)| scope.spawn(move || compressor.compress(frame)))
            .collect();
        workers
            .into_iter()
            .map(|worker| match worker.join() {
                Ok(result) => result.map_err(ZstdFormError::Compress),
                Err(_) => Err(ZstdFormError::Compress(io::Error::other(
                    "a compression thread panicked",
                ))),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zstd::zstd_safe;

    /// Splits a zstd form into its frames' (compressed, decompressed) sizes.
    fn frame_sizes(mut bytes: &[u8]) -> Vec<(usize, u64)> {
        let mut sizes = Vec::new();
        while !bytes.is_empty() {
            let compressed = zstd_safe::find_frame_compressed_size(bytes).unwrap();
            let content = zstd_safe::get_frame_content_size(&bytes[..compressed])
                .unwrap()
                .unwrap();
            sizes.push((compressed, content));
            bytes = &bytes[compressed..];
        }
        sizes
    }

    fn image(len: usize) -> Vec<u8> {
        // Compressible but not trivial: a counter pattern with a varying stride.
        (0..len).map(|i| ((i / 7) ^ (i >> 12)) as u8).collect()
    }

    #[test]
    fn frames_hold_at_most_the_frame_limit_and_decode_within_its_window() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image");
        let data = image(2 * ZSTD_FRAME_MAX as usize + 12_345);
        std::fs::write(&path, &data).unwrap();
        for threads in [1, 2, 3] {
            let mut out = Vec::new();
            let read = compress_image(&path, &mut out, ZstdOptions { level: 3, threads }).unwrap();
            assert_eq!(read, data.len() as u64);
            let sizes: Vec<u64> = frame_sizes(&out).iter().map(|s| s.1).collect();
            assert_eq!(sizes, vec![ZSTD_FRAME_MAX, ZSTD_FRAME_MAX, 12_345]);
            let mut decoder = zstd::stream::read::Decoder::new(out.as_slice()).unwrap();
            decoder.window_log_max(WINDOW_LOG).unwrap();
            let mut decoded = Vec::new();
            decoder.read_to_end(&mut decoded).unwrap();
            assert!(decoded == data, "threads {threads}");
        }
    }

    #[test]
    fn an_image_of_exactly_one_frame_is_one_frame_and_bad_levels_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image");
        std::fs::write(&path, image(ZSTD_FRAME_MAX as usize)).unwrap();
        let mut out = Vec::new();
        compress_image(
            &path,
            &mut out,
            ZstdOptions {
                level: 1,
                threads: 2,
            },
        )
        .unwrap();
        assert_eq!(frame_sizes(&out).len(), 1);
        let err = compress_image(
            &path,
            &mut out,
            ZstdOptions {
                level: 23,
                threads: 1,
            },
        );
        assert!(matches!(err, Err(ZstdFormError::Level(23))));
    }
}
