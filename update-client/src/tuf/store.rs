//! The device's copy of trusted TUF metadata: `metadata_dir/{root,timestamp,snapshot,targets}.json`.
//!
//! Files are written only after they verified, atomically, under their plain names; a
//! file that is missing or unreadable is simply not there as far as the refresh goes.

use std::fs;
use std::path::{Path, PathBuf};

use crate::atomic::{read_limited, remove_durably, write_atomic};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct MetadataStore {
    dir: PathBuf,
    max_size: u64,
}

impl MetadataStore {
    pub fn new(dir: &Path, max_size: u64) -> Self {
        MetadataStore {
            dir: dir.to_path_buf(),
            max_size,
        }
    }

    fn path(&self, role: &str) -> PathBuf {
        self.dir.join(format!("{role}.json"))
    }

    /// The stored file of `role`, if present and within the size limit.
    pub fn load(&self, role: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(role);
        read_limited(&path, self.max_size).map_err(Error::io(format!("reading {}", path.display())))
    }

    /// Stores verified bytes of `role`.
    pub fn store(&self, role: &str, bytes: &[u8]) -> Result<()> {
        fs::create_dir_all(&self.dir)
            .map_err(Error::io(format!("creating {}", self.dir.display())))?;
        let path = self.path(role);
        write_atomic(&path, bytes).map_err(Error::io(format!("writing {}", path.display())))
    }

    pub fn remove(&self, role: &str) -> Result<()> {
        let path = self.path(role);
        remove_durably(&path).map_err(Error::io(format!("removing {}", path.display())))
    }
}
