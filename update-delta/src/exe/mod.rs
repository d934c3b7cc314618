//! Executable-aware base prediction.
//!
//! Between two builds of a program, most bytes that change in code are references (a
//! call's displacement, a PC-relative address) whose instruction or target moved. Here
//! only the base is transformed: the *predicted base* is the old image with every
//! recognised reference rewritten to what it would encode in the new build if the
//! instruction and its target moved as an address map M says. The differ diffs the
//! predicted base against the new image; correctly predicted references cost nothing,
//! and nothing has to be undone after patching. The device recomputes any range of the
//! predicted base from its active slot plus the tables stored in the delta ([`wrap`]).
//!
//! References are found in instructions (the ISA modules `x86_64`, `aarch64`, `arm`,
//! `thumb`) and in data (`data`: pointers, relocations, symbol values, unwind tables).
//! The pieces: `elf` recognises the executables and their regions (generator only;
//! the device follows the tables in the delta), `region` and `isa` are the common
//! vocabulary, `map` is M and its fitting, `pairing` and `learn` build M from an old
//! and a new image, `predict` computes the predicted base slice by slice (whole, or on
//! the fly for the device), and `serial` with `codec` is the delta's transform section.
//!
//! [`wrap`]: BasePrediction::wrap

mod aarch64;
mod arm;
mod codec;
mod data;
mod elf;
mod isa;
mod learn;
mod map;
mod pairing;
mod predict;
mod region;
mod serial;
mod thumb;
mod x86_64;

#[cfg(test)]
mod tests;

use std::io::{self, Read, Write};

pub use isa::Isa;
pub use learn::{FamilyCounts, Report};

use crate::{ApplyError, Base};
use predict::{PredictedBase, Tables};

/// How to predict the new build's references from the old image: the instruction set,
/// the code regions to scan, where references may point, and the address map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasePrediction {
    tables: Tables,
}

impl BasePrediction {
    /// `None` unless `old` and `new` are ELF executables of one supported architecture
    /// and the prediction is expected to make the delta smaller.
    pub fn analyse(old: &[u8], new: &[u8]) -> Option<BasePrediction> {
        match Self::analyse_with_report(old, new) {
            (Some(prediction), report) if report.pays => Some(prediction),
            _ => None,
        }
    }

    /// What [`BasePrediction::analyse`] found (reference counts, predictions won and
    /// lost), with the prediction whenever both are executables of one supported
    /// architecture, whether or not it is expected to pay ([`Report::pays`]).
    pub fn analyse_with_report(old: &[u8], new: &[u8]) -> (Option<BasePrediction>, Report) {
        let (tables, report) = learn::analyse(old, new);
        (tables.map(|tables| BasePrediction { tables }), report)
    }

    /// The whole predicted base (generator side); same length as `old`.
    pub fn predicted_base(&self, old: &[u8]) -> Vec<u8> {
        self.tables.predicted(old)
    }

    /// The length of the base this prediction applies to.
    pub fn base_length(&self) -> u64 {
        self.tables.image_len
    }

    pub fn isa(&self) -> Isa {
        self.tables.isa
    }

    /// Writes the transform section (self-delimiting; see `serial` for the layout).
    pub fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
        serial::write(&self.tables, out)
    }

    /// Reads what [`BasePrediction::write_to`] wrote, refusing anything malformed or
    /// needing more than `max_memory` bytes to decode and use.
    pub fn read_from(input: &mut dyn Read, max_memory: u64) -> Result<BasePrediction, ApplyError> {
        serial::read(input, max_memory).map(|tables| BasePrediction { tables })
    }

    /// The most memory decoding and using this prediction takes on the device.
    pub fn memory_needed(&self) -> u64 {
        serial::memory_needed(&self.tables)
    }

    /// The predicted base, computed on the fly from `base` in bounded memory: any
    /// `read_exact_at` reads the covering 4 KiB slices of `base` (a few are cached).
    /// Reads past [`BasePrediction::base_length`] fail.
    pub fn wrap<'a>(&'a self, base: &'a dyn Base) -> impl Base + 'a {
        PredictedBase::new(&self.tables, base)
    }
}
