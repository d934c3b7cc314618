//! Crash-safe file replacement and bounded reads of local files.
//!
//! A state file is either its old or its new content after a power cut, never a mix:
//! the new content goes to a temporary file in the same directory, is flushed to disk,
//! renamed over the old name, and then the directory entry itself is flushed.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Replaces `path` with `bytes` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    let mut temp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()
}

/// Removes `path` if present and flushes the directory entry.
pub fn remove_durably(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => File::open(parent_dir(path))?.sync_all(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Reads a whole local file of at most `limit` bytes; `Ok(None)` if it does not exist.
pub fn read_limited(path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is larger than {limit} bytes", path.display()),
        ));
    }
    Ok(Some(bytes))
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::CorruptState {
        path: path.to_path_buf(),
        reason: format!("cannot serialise: {e}"),
    })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes).map_err(Error::io(format!("writing {}", path.display())))
}

/// Reads a JSON state file of at most `limit` bytes; `Ok(None)` if it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path, limit: u64) -> Result<Option<T>> {
    let Some(bytes) =
        read_limited(path, limit).map_err(Error::io(format!("reading {}", path.display())))?
    else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::CorruptState {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// The directory holding `path`; `.` for a bare file name.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"old").unwrap();
        write_atomic(&path, b"new content").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new content");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.json")]);
    }

    #[test]
    fn read_limited_refuses_oversized_files_and_reports_absence() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        assert_eq!(read_limited(&path, 10).unwrap(), None);
        fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_limited(&path, 10).unwrap().unwrap().len(), 10);
        fs::write(&path, b"0123456789A").unwrap();
        assert!(read_limited(&path, 10).is_err());
    }

    #[test]
    fn json_round_trip_and_corrupt_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.json");
        write_json(&path, &vec![1u32, 2, 3]).unwrap();
        assert_eq!(
            read_json::<Vec<u32>>(&path, 1024).unwrap(),
            Some(vec![1, 2, 3])
        );
        fs::write(&path, b"{not json").unwrap();
        assert!(matches!(
            read_json::<Vec<u32>>(&path, 1024),
            Err(Error::CorruptState { .. })
        ));
        remove_durably(&path).unwrap();
        remove_durably(&path).unwrap();
        assert_eq!(read_json::<Vec<u32>>(&path, 1024).unwrap(), None);
    }
}
