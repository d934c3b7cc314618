//! The trusted metadata on disk: `DIR/<quoted role>.json` under plain (unversioned)
//! names, as the TUF specification and other clients keep it.
//!
//! Files are written only after they verified, atomically. Role names are percent-encoded
//! (`/` included) so a delegated role called `../x` or `?` stays a single file inside the
//! directory. A missing or unreadable file is simply not there as far as a refresh goes.

use std::fs;
use std::path::{Path, PathBuf};

use update_core::layout::quote_name;

use crate::atomic::{read_limited, remove_durably, write_atomic};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct MetadataStore {
    dir: PathBuf,
}

impl MetadataStore {
    pub fn new(dir: &Path) -> Self {
        MetadataStore {
            dir: dir.to_path_buf(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, role: &str) -> PathBuf {
        self.dir.join(format!("{}.json", quote_name(role)))
    }

    /// The stored file of `role`, if present and within `limit` bytes.
    pub fn load(&self, role: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let path = self.path(role);
        read_limited(&path, limit).map_err(Error::io(format!("reading {}", path.display())))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_role_names_stay_inside_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::new(&dir.path().join("metadata"));
        for role in ["../escape", "/abs", "?", "#", "a b"] {
            store.store(role, role.as_bytes()).unwrap();
            assert_eq!(
                store.load(role, 100).unwrap().as_deref(),
                Some(role.as_bytes())
            );
        }
        assert_eq!(
            fs::read_dir(dir.path().join("metadata")).unwrap().count(),
            5
        );
        assert!(!dir.path().join("escape.json").exists());
    }
}
