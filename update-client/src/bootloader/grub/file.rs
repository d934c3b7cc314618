//! Reading and rewriting the `grubenv` file in place.
//!
//! GRUB's `save_env` cannot use a filesystem driver to write: it writes the sectors where
//! it found the file at boot. So the file must keep its sectors: it is opened as it is and
//! its 1024 bytes are overwritten at offset 0, never truncated, recreated or renamed over
//! (which is what the atomic replacement used for state files would do). The write is
//! flushed and read back before it counts as done.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::env::{BLOCK_SIZE, EnvError, GrubEnv};
use crate::error::{Error, Result};

/// The environment stored in `path`.
pub fn read(path: &Path) -> Result<GrubEnv> {
    let file = File::open(path).map_err(open_error(path))?;
    let block = read_block(&file, path)?;
    GrubEnv::parse(&block).map_err(corrupt(path))
}

/// Applies `change` to the environment in `path` and stores the result in place. A
/// result that does not fit, or a failing `change`, leaves the file untouched.
pub fn update<T>(path: &Path, change: impl FnOnce(&mut GrubEnv) -> Result<T>) -> Result<T> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(open_error(path))?;
    let old_block = read_block(&file, path)?;
    let mut env = GrubEnv::parse(&old_block).map_err(corrupt(path))?;
    let outcome = change(&mut env)?;
    let new_block = env
        .encode()
        .map_err(|e| Error::Bootloader(format!("{}: not written: {e}", path.display())))?;
    if new_block != old_block {
        write_in_place(&file, path, &new_block)?;
    }
    Ok(outcome)
}

fn write_in_place(file: &File, path: &Path, block: &[u8]) -> Result<()> {
    let context = |what: &str| format!("{what} GRUB environment {}", path.display());
    file.write_all_at(block, 0)
        .map_err(Error::io(context("writing")))?;
    file.sync_all().map_err(Error::io(context("flushing")))?;
    let mut written = [0u8; BLOCK_SIZE];
    file.read_exact_at(&mut written, 0)
        .map_err(Error::io(context("reading back")))?;
    if written[..] != *block {
        return Err(Error::Bootloader(format!(
            "{}: the block read back differs from the block written",
            path.display()
        )));
    }
    Ok(())
}

/// The whole block, after checking that `file` is a regular file of exactly one block.
fn read_block(file: &File, path: &Path) -> Result<[u8; BLOCK_SIZE]> {
    let context = format!("reading GRUB environment {}", path.display());
    let metadata = file.metadata().map_err(Error::io(context.clone()))?;
    if !metadata.is_file() {
        return Err(Error::Bootloader(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    if metadata.len() != BLOCK_SIZE as u64 {
        return Err(corrupt(path)(EnvError::WrongSize {
            actual: metadata.len(),
        }));
    }
    let mut block = [0u8; BLOCK_SIZE];
    file.read_exact_at(&mut block, 0)
        .map_err(Error::io(context))?;
    Ok(block)
}

fn open_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::Bootloader(format!(
                "GRUB environment {} does not exist: create it on the boot partition with \
                 `grub-editenv {} create` (docs/grub.md)",
                path.display(),
                path.display()
            ))
        } else {
            Error::Io {
                context: format!("opening GRUB environment {}", path.display()),
                source,
            }
        }
    }
}

fn corrupt(path: &Path) -> impl FnOnce(EnvError) -> Error {
    let path = path.display().to_string();
    move |e| Error::Bootloader(format!("GRUB environment {path} is not valid: {e}"))
}
