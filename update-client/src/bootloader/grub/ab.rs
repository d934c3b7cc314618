//! The A/B variables of the GRUB environment (docs/grub.md) and a model of the grub.cfg
//! fragment that acts on them at every boot.
//!
//! RAUC's convention (`ORDER`, `<S>_OK`, `<S>_TRY`) extended so that a committed slot is
//! not counted: `<S>_TRY` is present only while `<S>` is on trial and then holds the boots
//! already tried, and `BOOT_LIMIT` says how many a trial gets. GRUB boots the first slot
//! of `ORDER` that is OK and either committed or below the limit, counting the boot if it
//! is on trial. [`AbState::power_on`] is that walk; `primary_slot` uses it too, so the
//! agent's idea of "next boot" is by construction the one the model tests check.

use update_core::api::Slot;

use super::env::{EnvError, GrubEnv};

/// The most tries a trial can get: grub.cfg counts with an unrolled `if` chain.
pub const MAX_BOOT_LIMIT: u8 = 3;

pub const ORDER: &str = "ORDER";
pub const BOOT_LIMIT: &str = "BOOT_LIMIT";

/// Values used when a variable is absent, as grub.cfg sets them before `load_env`: a
/// factory device runs slot A and slot B holds nothing bootable yet.
const DEFAULT_FIRST: Slot = Slot::A;
const DEFAULT_BOOT_LIMIT: u8 = 1;

/// What grub.cfg knows about one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlotState {
    /// `<S>_OK=1`: the slot may be booted at all.
    pub ok: bool,
    /// `<S>_TRY`: `None` when committed (never counted), else the boots tried so far.
    pub tries: Option<u8>,
}

impl SlotState {
    pub const COMMITTED: SlotState = SlotState {
        ok: true,
        tries: None,
    };

    fn bootable(self, boot_limit: u8) -> bool {
        self.ok && self.tries.is_none_or(|tries| tries < boot_limit)
    }
}

/// The A/B part of the GRUB environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AbState {
    /// The slot `ORDER` names first; the other one follows.
    pub first: Slot,
    pub a: SlotState,
    pub b: SlotState,
    /// Boots a trial gets, 1 to [`MAX_BOOT_LIMIT`].
    pub boot_limit: u8,
}

/// Why the A/B variables cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbError {
    #[error("{name}={value:?} is not valid: expected {expected}")]
    BadValue {
        name: String,
        value: String,
        expected: &'static str,
    },
    #[error(
        "refusing to try slot {slot}: slot {fallback} is not a committed slot to fall back to \
         ({fallback}_OK={ok}, {fallback}_TRY={tries:?})"
    )]
    NoFallback {
        slot: Slot,
        fallback: Slot,
        ok: bool,
        tries: Option<u8>,
    },
    #[error("boot limit {0} is out of range: GRUB counts 1 to {MAX_BOOT_LIMIT} tries")]
    BootLimit(u32),
}

/// One boot as the model of grub.cfg makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Boot {
    pub slot: Slot,
    /// The slot was on trial and this boot used one of its tries.
    pub counted: bool,
}

impl Default for AbState {
    fn default() -> Self {
        AbState {
            first: DEFAULT_FIRST,
            a: SlotState::COMMITTED,
            b: SlotState {
                ok: false,
                tries: None,
            },
            boot_limit: DEFAULT_BOOT_LIMIT,
        }
    }
}

impl AbState {
    /// Reads the variables; absent ones take grub.cfg's defaults, invalid ones are refused.
    pub fn read(env: &GrubEnv) -> Result<AbState, AbError> {
        let mut state = AbState::default();
        if let Some(order) = env.get(ORDER) {
            state.first = match order {
                "A B" => Slot::A,
                "B A" => Slot::B,
                _ => return Err(bad(ORDER, order, "\"A B\" or \"B A\"")),
            };
        }
        if let Some(limit) = env.get(BOOT_LIMIT) {
            state.boot_limit = match limit {
                "1" => 1,
                "2" => 2,
                "3" => 3,
                _ => return Err(bad(BOOT_LIMIT, limit, "1, 2 or 3")),
            };
        }
        for slot in [Slot::A, Slot::B] {
            let current = state.slot_mut(slot);
            if let Some(ok) = env.get(&ok_name(slot)) {
                current.ok = match ok {
                    "0" => false,
                    "1" => true,
                    _ => return Err(bad(&ok_name(slot), ok, "0 or 1")),
                };
            }
            current.tries = match env.get(&try_name(slot)) {
                None => None,
                Some(tries) => match tries.parse::<u8>() {
                    Ok(n) if n <= MAX_BOOT_LIMIT && tries.len() == 1 => Some(n),
                    _ => return Err(bad(&try_name(slot), tries, "absent or 0 to 3")),
                },
            };
        }
        Ok(state)
    }

    /// Writes every A/B variable (a committed slot's `<S>_TRY` is removed); other
    /// variables stay as they are.
    pub fn write(&self, env: &mut GrubEnv) -> Result<(), EnvError> {
        env.set(ORDER, &format!("{} {}", self.first, self.first.other()))?;
        for slot in [Slot::A, Slot::B] {
            let state = self.slot(slot);
            env.set(&ok_name(slot), if state.ok { "1" } else { "0" })?;
            match state.tries {
                Some(tries) => env.set(&try_name(slot), &tries.to_string())?,
                None => env.unset(&try_name(slot)),
            }
        }
        env.set(BOOT_LIMIT, &self.boot_limit.to_string())
    }

    pub fn slot(&self, slot: Slot) -> SlotState {
        match slot {
            Slot::A => self.a,
            Slot::B => self.b,
        }
    }

    fn slot_mut(&mut self, slot: Slot) -> &mut SlotState {
        match slot {
            Slot::A => &mut self.a,
            Slot::B => &mut self.b,
        }
    }

    /// The boot grub.cfg makes next, without making it; `None` = the rescue entry.
    pub fn next_boot(&self) -> Option<Boot> {
        [self.first, self.first.other()]
            .into_iter()
            .find(|&slot| self.slot(slot).bootable(self.boot_limit))
            .map(|slot| Boot {
                slot,
                counted: self.slot(slot).tries.is_some(),
            })
    }

    /// The grub.cfg fragment at power-on: choose, count a try, "save_env".
    pub fn power_on(&mut self) -> Option<Boot> {
        let boot = self.next_boot()?;
        if let Some(tries) = &mut self.slot_mut(boot.slot).tries {
            *tries += 1;
        }
        Some(boot)
    }

    /// Starts a trial of `slot`: first in `ORDER`, bootable, `boot_limit` tries. The other
    /// slot must be committed, or a failed trial would leave nothing to fall back to.
    pub fn try_slot(&mut self, slot: Slot, boot_limit: u8) -> Result<(), AbError> {
        let fallback = self.slot(slot.other());
        if fallback != SlotState::COMMITTED {
            return Err(AbError::NoFallback {
                slot,
                fallback: slot.other(),
                ok: fallback.ok,
                tries: fallback.tries,
            });
        }
        self.first = slot;
        *self.slot_mut(slot) = SlotState {
            ok: true,
            tries: Some(0),
        };
        self.boot_limit = boot_limit;
        Ok(())
    }

    /// Commits the booted slot: first in `ORDER`, no longer counted.
    pub fn mark_good(&mut self, booted: Slot) {
        self.first = booted;
        *self.slot_mut(booted) = SlotState::COMMITTED;
    }

    /// Makes `slot` the committed first slot at once; the other one failed.
    pub fn roll_back_to(&mut self, slot: Slot) {
        self.first = slot;
        *self.slot_mut(slot) = SlotState::COMMITTED;
        self.slot_mut(slot.other()).ok = false;
    }
}

/// A configured boot limit, checked against what grub.cfg can count.
pub fn check_boot_limit(boot_limit: u32) -> Result<u8, AbError> {
    match u8::try_from(boot_limit) {
        Ok(limit @ 1..=MAX_BOOT_LIMIT) => Ok(limit),
        _ => Err(AbError::BootLimit(boot_limit)),
    }
}

pub fn ok_name(slot: Slot) -> String {
    format!("{slot}_OK")
}

pub fn try_name(slot: Slot) -> String {
    format!("{slot}_TRY")
}

fn bad(name: &str, value: &str, expected: &'static str) -> AbError {
    AbError::BadValue {
        name: name.into(),
        value: value.into(),
        expected,
    }
}

#[cfg(test)]
mod tests;
