//! Bringing a release image into the repository's `targets/` directory: a hard link when
//! source and repository share a file system (instant, no extra space), else a streaming
//! copy. The image is hashed as it sits in the repository, so the signed hash describes
//! the bytes that will be published, and it only gets its final name once the signed
//! metadata is ready. Files made from it (its zstd form, deltas) are written and hashed
//! the same way, under a temporary name until then.

use std::fs::{File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::{NamedTempFile, TempPath};
use update_core::hash::{STREAM_BUFFER, StreamHasher, hash_reader};

use crate::fsutil::{PUBLIC_FILE_MODE, parent_dir, sync_dir};

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("cannot read image {path}: {source}")]
    Source { path: PathBuf, source: io::Error },
    #[error("image {path} is empty")]
    Empty { path: PathBuf },
    #[error("cannot store the image in {path}: {source}")]
    Store { path: PathBuf, source: io::Error },
}

/// An image under a temporary name next to its final place, with its length and sha256.
#[derive(Debug)]
pub struct StagedImage {
    temp: TempPath,
    pub length: u64,
    pub sha256: String,
    /// A hard link to the source rather than a copy.
    pub linked: bool,
}

/// Links or copies `source` into the directory of `destination`.
pub fn stage(source: &Path, destination: &Path) -> Result<StagedImage, StageError> {
    let source_error = |source_err: io::Error| StageError::Source {
        path: source.to_path_buf(),
        source: source_err,
    };
    let mut input = File::open(source).map_err(source_error)?;
    if !input.metadata().map_err(source_error)?.is_file() {
        return Err(source_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let dir = parent_dir(destination);
    let store_error = |source: io::Error| StageError::Store {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(store_error)?;

    let staging = staging_builder();
    let (temp, length, sha256, linked) =
        match staging.make_in(dir, |path| std::fs::hard_link(source, path)) {
            Ok(linked) => {
                let temp = linked.into_temp_path();
                let (length, sha256) =
                    hash_reader(File::open(&temp).map_err(store_error)?).map_err(store_error)?;
                (temp, length, sha256, true)
            }
            Err(_) => {
                let mut copy = staging.tempfile_in(dir).map_err(store_error)?;
                let (length, sha256) =
                    copy_hashing(&mut input, copy.as_file_mut()).map_err(|e| match e {
                        CopyError::Read(e) => source_error(e),
                        CopyError::Write(e) => store_error(e),
                    })?;
                copy.as_file().sync_all().map_err(store_error)?;
                (copy.into_temp_path(), length, sha256, false)
            }
        };
    if length == 0 {
        return Err(StageError::Empty {
            path: source.to_path_buf(),
        });
    }
    Ok(StagedImage {
        temp,
        length,
        sha256,
        linked,
    })
}

fn staging_builder() -> tempfile::Builder<'static, 'static> {
    let mut staging = tempfile::Builder::new();
    staging
        .prefix(".staging-")
        .permissions(Permissions::from_mode(PUBLIC_FILE_MODE));
    staging
}

/// A new, empty file under a temporary name in `dir`, where it will get its final name.
pub fn temp_file_in(dir: &Path) -> io::Result<NamedTempFile> {
    std::fs::create_dir_all(dir)?;
    staging_builder().tempfile_in(dir)
}

impl StagedImage {
    /// A file written (and synced) under a temporary name from [`temp_file_in`].
    pub fn from_temp(temp: TempPath, length: u64, sha256: String) -> StagedImage {
        StagedImage {
            temp,
            length,
            sha256,
            linked: false,
        }
    }

    /// Where the file is until [`StagedImage::install`].
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Gives the image its final name (atomically replacing a stale file of that name).
    pub fn install(self, destination: &Path) -> io::Result<()> {
        self.temp.persist(destination).map_err(|e| e.error)?;
        sync_dir(parent_dir(destination))
    }
}

/// Passes writes through to `inner`, hashing and counting them.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: StreamHasher,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: StreamHasher::new(),
        }
    }

    /// The inner writer, and the length and sha256 of what went through.
    pub fn finish(self) -> (W, u64, String) {
        let (length, sha256) = self.hasher.finish();
        (self.inner, length, sha256)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

fn copy_hashing(input: &mut File, output: &mut File) -> Result<(u64, String), CopyError> {
    let mut hasher = StreamHasher::new();
    let mut buffer = vec![0u8; STREAM_BUFFER];
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => return Ok(hasher.finish()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        hasher.update(&buffer[..n]);
        output.write_all(&buffer[..n]).map_err(CopyError::Write)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use update_core::hash::sha256_hex;

    #[test]
    fn staged_image_is_hashed_and_installed() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("fw.img");
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&source, &data).unwrap();
        let destination = dir.path().join("repo/targets/fw-1.img");
        let staged = stage(&source, &destination).unwrap();
        assert_eq!(staged.length, data.len() as u64);
        assert_eq!(staged.sha256, sha256_hex(&data));
        assert!(!destination.exists());
        staged.install(&destination).unwrap();
        assert_eq!(std::fs::read(&destination).unwrap(), data);
        let leftovers = std::fs::read_dir(dir.path().join("repo/targets"))
            .unwrap()
            .count();
        assert_eq!(leftovers, 1);
    }

    #[test]
    fn dropped_stage_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("fw.img");
        std::fs::write(&source, b"image").unwrap();
        let targets = dir.path().join("targets");
        drop(stage(&source, &targets.join("fw.img")).unwrap());
        assert_eq!(std::fs::read_dir(&targets).unwrap().count(), 0);
    }

    #[test]
    fn empty_and_missing_images_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.img");
        std::fs::write(&empty, b"").unwrap();
        let err = stage(&empty, &dir.path().join("t/x")).unwrap_err();
        assert!(matches!(err, StageError::Empty { .. }));
        let missing = dir.path().join("missing.img");
        let err = stage(&missing, &dir.path().join("t/x")).unwrap_err();
        assert!(err.to_string().contains("missing.img"), "{err}");
    }
}
