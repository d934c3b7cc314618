//! A U-Boot environment on its device(s): read the current copy, and change it with one
//! write to one copy that is flushed, read back and checked before the call returns.
//!
//! A write never touches the current copy's contents: it goes to the other copy in a
//! redundant environment (which also repairs a copy torn by a power cut), so at every
//! instant one whole environment, old or new, is current. A single-copy environment is
//! rewritten in place and a power cut mid-write loses it: use a redundant one. When no
//! copy is valid the environment is refused, never replaced by a default.

use std::path::{Path, PathBuf};

use super::env::{EnvCopy, Variables};
use super::error::UbootError;
use super::layout::EnvLayout;
use super::lock::{EnvLock, LOCK_FILE};
use super::redundancy::{self, CopyId};
use super::storage::CopyStorage;
use crate::config::RedundantFlags;

/// Offset of the flag byte in a redundant copy (after the CRC).
const FLAG_OFFSET: u64 = 4;

#[derive(Clone, Debug)]
pub struct UbootEnvironment {
    layout: EnvLayout,
    flags: RedundantFlags,
    lock_file: PathBuf,
}

/// The copies as read, and the current one.
struct Snapshot {
    storages: Vec<CopyStorage>,
    current: CopyId,
    current_copy: EnvCopy,
    all_valid: bool,
}

impl UbootEnvironment {
    /// The environment an `fw_env.config`-style file describes.
    pub fn open(env_config: &Path, flags: RedundantFlags) -> Result<Self, UbootError> {
        Ok(Self::new(EnvLayout::load(env_config)?, flags))
    }

    pub fn new(layout: EnvLayout, flags: RedundantFlags) -> Self {
        UbootEnvironment {
            layout,
            flags,
            lock_file: PathBuf::from(LOCK_FILE),
        }
    }

    pub fn layout(&self) -> &EnvLayout {
        &self.layout
    }

    /// The variables of the current copy.
    pub fn read(&self) -> Result<Variables, UbootError> {
        let _lock = EnvLock::acquire(&self.lock_file);
        Ok(self.load()?.current_copy.variables)
    }

    /// Applies `change` to the current variables and writes the result, unless it changes
    /// nothing and every copy is intact.
    pub fn update(
        &self,
        change: impl FnOnce(&mut Variables) -> Result<(), UbootError>,
    ) -> Result<(), UbootError> {
        let _lock = EnvLock::acquire(&self.lock_file);
        let snapshot = self.load()?;
        let mut variables = snapshot.current_copy.variables.clone();
        change(&mut variables)?;
        if variables == snapshot.current_copy.variables && snapshot.all_valid {
            return Ok(());
        }
        self.store(snapshot, variables)
    }

    /// Replaces all variables.
    pub fn write(&self, variables: &Variables) -> Result<(), UbootError> {
        self.update(|current| {
            current.clone_from(variables);
            Ok(())
        })
    }

    fn load(&self) -> Result<Snapshot, UbootError> {
        let storages = self
            .layout
            .copies()
            .iter()
            .map(CopyStorage::open)
            .collect::<Result<Vec<_>, _>>()?;
        if let [first, second] = storages.as_slice() {
            if first.overlaps(second) {
                return Err(UbootError::Unsupported {
                    device: first.device().to_path_buf(),
                    reason: "the two copies of the environment overlap".into(),
                });
            }
            if self.flags == RedundantFlags::Boolean {
                if let Some(nand) = storages.iter().find(|s| !s.can_rewrite_flag_in_place()) {
                    return Err(UbootError::Unsupported {
                        device: nand.device().to_path_buf(),
                        reason: "boolean flags need a flag byte programmable in place (NOR); \
                                 NAND flash uses counter flags"
                            .into(),
                    });
                }
            }
        }
        self.decode(storages)
    }

    fn decode(&self, storages: Vec<CopyStorage>) -> Result<Snapshot, UbootError> {
        let redundant = self.layout.is_redundant();
        let mut copies = Vec::with_capacity(storages.len());
        for storage in &storages {
            copies.push(EnvCopy::decode(&storage.read()?, redundant));
        }
        let flag = |index: usize| match copies.get(index) {
            Some(Ok(copy)) => copy.flag,
            _ => None,
        };
        let current = if redundant {
            redundancy::current_copy(self.flags, flag(0), flag(1))?
        } else {
            copies
                .first()
                .and_then(|copy| copy.as_ref().ok())
                .map(|_| CopyId::First)
        };
        let current_copy = current.and_then(|id| copies.get(id.index())?.as_ref().ok().cloned());
        let (Some(current), Some(current_copy)) = (current, current_copy) else {
            let details = copies
                .iter()
                .zip(&storages)
                .enumerate()
                .filter_map(|(index, (copy, storage))| {
                    let defect = copy.as_ref().err()?;
                    Some(format!(
                        "copy {} in {}: {defect}",
                        index + 1,
                        storage.device().display()
                    ))
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Err(UbootError::NoValidCopy { details });
        };
        Ok(Snapshot {
            all_valid: copies.iter().all(Result::is_ok),
            storages,
            current,
            current_copy,
        })
    }

    fn store(&self, snapshot: Snapshot, variables: Variables) -> Result<(), UbootError> {
        let redundant = self.layout.is_redundant();
        let (target, flag) = if redundant {
            let current_flag = snapshot.current_copy.flag.unwrap_or_default();
            (
                snapshot.current.other(),
                Some(redundancy::next_flag(self.flags, current_flag)),
            )
        } else {
            (CopyId::First, None)
        };
        let image = EnvCopy {
            flag,
            variables: variables.clone(),
        }
        .encode(self.layout.size())?;
        let storage = &snapshot.storages[target.index()];
        storage.write(&image)?;
        if storage.read()? != image {
            return Err(UbootError::Verification {
                copy: target.number(),
                reason: "its bytes differ from those written".into(),
            });
        }
        if redundant && self.flags == RedundantFlags::Boolean {
            snapshot.storages[snapshot.current.index()]
                .write_byte(FLAG_OFFSET, redundancy::OBSOLETE)?;
        }
        let check = self.decode(snapshot.storages)?;
        if check.current != target || check.current_copy.variables != variables {
            return Err(UbootError::Verification {
                copy: target.number(),
                reason: format!("the environment reads back from {}", check.current),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
