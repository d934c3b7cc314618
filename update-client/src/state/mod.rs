//! The agent's state directory (`[state] dir`), every file JSON and written atomically:
//!
//! - `journal.json`: the update in progress or the last one finished ([`journal`]).
//! - `slots.json`: what each slot holds ([`slot_records`]).
//! - `failed.json`: releases that failed on this device and are not tried again ([`failed`]).
//! - `outbox.json`: reports not yet delivered to the server ([`outbox`]).
//!
//! TUF metadata lives apart, in `[trust] metadata_dir`.

pub mod failed;
pub mod journal;
pub mod outbox;
pub mod slot_records;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use failed::{FailedRelease, FailedReleases};
pub use journal::{Journal, Phase, WrittenPrefix};
pub use outbox::Outbox;
pub use slot_records::{SlotContent, SlotRecords};

use crate::atomic::{read_json, write_json};
use crate::error::{Error, Result};

/// Largest state file read back.
const MAX_STATE_FILE: u64 = 1024 * 1024;

pub const JOURNAL_FILE: &str = "journal.json";
pub const SLOTS_FILE: &str = "slots.json";
pub const FAILED_FILE: &str = "failed.json";
pub const OUTBOX_FILE: &str = "outbox.json";

#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// The state directory, created if missing.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(Error::io(format!(
            "creating state directory {}",
            dir.display()
        )))?;
        Ok(StateDir::read_only(dir))
    }

    /// The state directory for reading only (`status`): nothing is created.
    pub fn read_only(dir: &Path) -> Self {
        StateDir {
            dir: dir.to_path_buf(),
        }
    }

    fn load<T: DeserializeOwned>(&self, file: &str) -> Result<Option<T>> {
        read_json(&self.dir.join(file), MAX_STATE_FILE)
    }

    fn save(&self, file: &str, value: &impl Serialize) -> Result<()> {
        write_json(&self.dir.join(file), value)
    }

    pub fn journal(&self) -> Result<Option<Journal>> {
        self.load(JOURNAL_FILE)
    }

    pub fn save_journal(&self, journal: &Journal) -> Result<()> {
        self.save(JOURNAL_FILE, journal)
    }

    pub fn slots(&self) -> Result<Option<SlotRecords>> {
        self.load(SLOTS_FILE)
    }

    pub fn save_slots(&self, slots: &SlotRecords) -> Result<()> {
        self.save(SLOTS_FILE, slots)
    }

    pub fn failed(&self) -> Result<FailedReleases> {
        Ok(self.load(FAILED_FILE)?.unwrap_or_default())
    }

    pub fn save_failed(&self, failed: &FailedReleases) -> Result<()> {
        self.save(FAILED_FILE, failed)
    }

    pub fn outbox(&self) -> Result<Outbox> {
        Ok(self.load(OUTBOX_FILE)?.unwrap_or_default())
    }

    pub fn save_outbox(&self, outbox: &Outbox) -> Result<()> {
        self.save(OUTBOX_FILE, outbox)
    }
}
