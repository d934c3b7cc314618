//! Which copy of a redundant environment is current, and what flag a new write carries.
//!
//! U-Boot has two incompatible flag schemes (docs/uboot.md, "Flag modes"), chosen by where
//! the board keeps its environment, so the mode is configured, never guessed:
//!
//! - counter (MMC, NAND, SPI flash, UBI; libubootenv on files): each write goes to the
//!   other copy with the current flag + 1 (mod 256); the higher flag wins, 0 beats 255,
//!   a tie picks copy 1.
//! - boolean (parallel NOR, `env/flash.c`): 1 = active, 0 = obsolete. A write puts flag 1
//!   in the other copy, then clears the old copy's flag to 0 in place. At load: (1, 0) or
//!   (0, 1) picks the active copy, equal flags pick copy 1, else a 0xff flag picks its copy;
//!   any other pair is ambiguous.
//!
//! In both schemes a copy whose CRC is bad is ignored, and the other one is current.

use std::fmt;

use super::error::UbootError;
use crate::config::RedundantFlags;

pub const ACTIVE: u8 = 1;
pub const OBSOLETE: u8 = 0;
/// An erased flag byte: for boolean NOR, a copy whose flag was never programmed.
const ERASED: u8 = 0xff;

/// One of the two copies, in `fw_env.config` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyId {
    First,
    Second,
}

impl CopyId {
    pub fn index(self) -> usize {
        match self {
            CopyId::First => 0,
            CopyId::Second => 1,
        }
    }

    pub fn other(self) -> CopyId {
        match self {
            CopyId::First => CopyId::Second,
            CopyId::Second => CopyId::First,
        }
    }

    /// 1 or 2, as U-Boot and the documentation count copies.
    pub fn number(self) -> usize {
        self.index() + 1
    }
}

impl fmt::Display for CopyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "copy {}", self.number())
    }
}

/// The current copy, given each copy's flag (`None`: the copy is invalid). `Ok(None)`:
/// neither copy is valid.
pub fn current_copy(
    mode: RedundantFlags,
    first: Option<u8>,
    second: Option<u8>,
) -> Result<Option<CopyId>, UbootError> {
    let (first, second) = match (first, second) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Ok(Some(CopyId::First)),
        (None, Some(_)) => return Ok(Some(CopyId::Second)),
        (Some(first), Some(second)) => (first, second),
    };
    let current = match mode {
        RedundantFlags::Counter => counter_current(first, second),
        RedundantFlags::Boolean => {
            boolean_current(first, second).ok_or(UbootError::AmbiguousFlags { first, second })?
        }
    };
    Ok(Some(current))
}

/// The flag a write into the non-current copy carries.
pub fn next_flag(mode: RedundantFlags, current_flag: u8) -> u8 {
    match mode {
        RedundantFlags::Counter => current_flag.wrapping_add(1),
        RedundantFlags::Boolean => ACTIVE,
    }
}

fn counter_current(first: u8, second: u8) -> CopyId {
    match (first, second) {
        (u8::MAX, 0) => CopyId::Second,
        (0, u8::MAX) => CopyId::First,
        _ if second > first => CopyId::Second,
        _ => CopyId::First,
    }
}

/// U-Boot 2023.01 `env/flash.c`, rule by rule, in its order.
fn boolean_current(first: u8, second: u8) -> Option<CopyId> {
    match (first, second) {
        (ACTIVE, OBSOLETE) => Some(CopyId::First),
        (OBSOLETE, ACTIVE) => Some(CopyId::Second),
        _ if first == second => Some(CopyId::First),
        (ERASED, _) => Some(CopyId::First),
        (_, ERASED) => Some(CopyId::Second),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CopyId::{First, Second};
    use RedundantFlags::{Boolean, Counter};

    fn current(mode: RedundantFlags, first: u8, second: u8) -> Option<CopyId> {
        current_copy(mode, Some(first), Some(second)).unwrap()
    }

    #[test]
    fn counter_higher_wins_with_wrap_and_tie_to_copy_1() {
        assert_eq!(current(Counter, 1, 2), Some(Second));
        assert_eq!(current(Counter, 3, 2), Some(First));
        assert_eq!(current(Counter, 7, 7), Some(First));
        assert_eq!(current(Counter, 255, 0), Some(Second));
        assert_eq!(current(Counter, 0, 255), Some(First));
        assert_eq!(current(Counter, 254, 255), Some(Second));
        assert_eq!(current(Counter, 0, 200), Some(Second), "only 255/0 wraps");
    }

    #[test]
    fn counter_writes_always_make_the_written_copy_current() {
        for first in 0..=u8::MAX {
            for second in 0..=u8::MAX {
                let old = current(Counter, first, second).unwrap();
                let new_flag = next_flag(Counter, [first, second][old.index()]);
                let mut flags = [first, second];
                flags[old.other().index()] = new_flag;
                assert_eq!(
                    current(Counter, flags[0], flags[1]),
                    Some(old.other()),
                    "flags ({first}, {second})"
                );
            }
        }
    }

    #[test]
    fn boolean_follows_u_boot_flash_rules() {
        assert_eq!(current(Boolean, 1, 0), Some(First));
        assert_eq!(current(Boolean, 0, 1), Some(Second));
        assert_eq!(current(Boolean, 1, 1), Some(First));
        assert_eq!(current(Boolean, 0, 0), Some(First));
        assert_eq!(current(Boolean, 0xff, 0xff), Some(First));
        assert_eq!(current(Boolean, 0xff, 1), Some(First));
        assert_eq!(current(Boolean, 0xff, 0), Some(First));
        assert_eq!(current(Boolean, 1, 0xff), Some(Second));
        assert_eq!(current(Boolean, 0, 0xff), Some(Second));
        for (first, second) in [(1, 2), (3, 2), (2, 0), (0, 7)] {
            assert!(matches!(
                current_copy(Boolean, Some(first), Some(second)),
                Err(UbootError::AmbiguousFlags { .. })
            ));
        }
    }

    #[test]
    fn boolean_write_then_obsolete_makes_the_written_copy_current() {
        for (first, second) in [(1, 0), (0, 1), (1, 1), (0xff, 0), (0, 0xff)] {
            let old = current(Boolean, first, second).unwrap();
            let mut flags = [first, second];
            flags[old.other().index()] = next_flag(Boolean, flags[old.index()]);
            // A power cut here leaves one whole environment current, old or new.
            assert!(current(Boolean, flags[0], flags[1]).is_some());
            flags[old.index()] = OBSOLETE;
            assert_eq!(current(Boolean, flags[0], flags[1]), Some(old.other()));
        }
    }

    #[test]
    fn an_invalid_copy_yields_to_the_other_in_both_modes() {
        for mode in [Counter, Boolean] {
            assert_eq!(current_copy(mode, Some(9), None).unwrap(), Some(First));
            assert_eq!(current_copy(mode, None, Some(9)).unwrap(), Some(Second));
            assert_eq!(current_copy(mode, None, None).unwrap(), None);
        }
    }
}
