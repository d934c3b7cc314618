//! The generator's side: recognise both builds, align them with their references
//! blanked (so moved code matches itself), pair old references with new ones (see
//! `pairing`), and fit the address map to where the paired references and their
//! targets went. Then measure how many references the map predicts right, to decide
//! whether the prediction pays.

use std::collections::BTreeMap;
use std::fmt;

use super::elf::Elf;
use super::isa::{Isa, Reference};
use super::map::{AddressMap, Observation, vote};
use super::pairing::{
    Located, NewReferences, TRUSTED, align, blanked, locate, locate_whole, pair_code, pair_data,
    pair_data_unverified,
};
use super::predict::Tables;
use super::serial;
use crate::matching;

/// Slices of 4 KiB: few references straddle a boundary (about 0.1%), and a device read
/// of a few bytes rescans at most 4 KiB.
const BLOCK_LOG2: u8 = 12;
/// The map's segments cost the device 16 bytes each.
const MAX_SEGMENTS: usize = 1 << 16;
/// Rounds of pairing data references with the map learnt so far.
const DATA_ROUNDS: usize = 3;
/// A correct prediction saves at least this many delta bytes, on average.
const BYTES_PER_WIN: u64 = 2;

/// What the analysis found, for logs and measurements.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub isa: Option<Isa>,
    /// References found in the old image (as the device scans it) and the new one.
    pub old_references: u64,
    pub new_references: u64,
    /// Old references paired with a same-kind reference in new (see `pairing`).
    pub paired: u64,
    /// Paired references whose encoding differs between old and new.
    pub changed: u64,
    /// Changed references the prediction gets right (they cost nothing any more).
    pub won: u64,
    /// Unchanged references the prediction gets wrong (they now cost something).
    pub lost: u64,
    pub segments: u64,
    /// Bytes of the serialized prediction.
    pub encoded_len: u64,
    /// Whether the prediction is expected to make the delta smaller.
    pub pays: bool,
    /// The paired/changed/won/lost counts per family of encodings.
    pub families: Vec<FamilyCounts>,
}

/// [`Report`]'s counts for one family of encodings.
#[derive(Clone, Debug, Default)]
pub struct FamilyCounts {
    pub family: &'static str,
    pub paired: u64,
    pub changed: u64,
    pub won: u64,
    pub lost: u64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let isa = self.isa.map_or("none", Isa::name);
        write!(
            f,
            "{isa}: {} old / {} new references, {} paired, {} changed, {} predicted right, \
             {} broken, {} map segments, {} bytes encoded, pays: {}",
            self.old_references,
            self.new_references,
            self.paired,
            self.changed,
            self.won,
            self.lost,
            self.segments,
            self.encoded_len,
            self.pays
        )?;
        for counts in &self.families {
            write!(
                f,
                "\n  {}: {} paired, {} changed, {} predicted right, {} broken",
                counts.family, counts.paired, counts.changed, counts.won, counts.lost
            )?;
        }
        Ok(())
    }
}

pub(crate) fn analyse(old: &[u8], new: &[u8]) -> (Option<Tables>, Report) {
    let mut report = Report::default();
    let (Some(old_elf), Some(new_elf)) = (Elf::parse(old), Elf::parse(new)) else {
        return (None, report);
    };
    let isa = old_elf.isa(old);
    if old_elf.machine != new_elf.machine || new_elf.isa(new) != isa {
        return (None, report);
    }
    report.isa = Some(isa);
    let loaded = old_elf.targets().loaded;
    let unmapped = Tables::new(
        isa,
        BLOCK_LOG2,
        old.len() as u64,
        old_elf.regions.clone(),
        loaded,
        AddressMap::default(),
    );
    let old_refs = locate(&unmapped, old);
    let new_refs = locate_whole(isa, &new_elf, new);
    report.old_references = old_refs.len() as u64;
    report.new_references = new_refs.len() as u64;

    let alignment = matching::matches(&blanked(isa, old, &old_refs), &blanked(isa, new, &new_refs));
    let aligned = align(&old_refs, &alignment);
    let new_index = NewReferences::new(&new_refs);
    let mut observations = Vec::with_capacity(2 * old_refs.len());
    let mut pairs = vec![None; old_refs.len()];
    pair_code(
        &old_refs,
        &aligned,
        &new_index,
        &new_elf,
        &mut observations,
        &mut pairs,
    );
    // Data pairs are verified against the map learnt so far, and each round's pairs
    // (where data moved) let the next round verify the references to that data.
    let mut map = fit(observations.clone());
    for _ in 0..DATA_ROUNDS {
        pair_data(
            &old_refs,
            &aligned,
            &new_index,
            &map,
            &mut observations,
            &mut pairs,
        );
        map = fit(observations.clone());
    }
    pair_data_unverified(
        &old_refs,
        &aligned,
        &new_index,
        &mut observations,
        &mut pairs,
    );
    map = fit(observations);
    let tables = Tables { map, ..unmapped };

    let mut families: BTreeMap<&'static str, FamilyCounts> = BTreeMap::new();
    for (old_ref, paired) in old_refs.iter().zip(&pairs) {
        let Some(paired) = paired else { continue };
        let new_ref = new_index.get(*paired);
        let (Some(before), Some(after)) = (old_ref.bytes(old), new_ref.bytes(new)) else {
            continue;
        };
        let family = old_ref.reference.kind.family();
        let counts = families.entry(family).or_insert_with(|| FamilyCounts {
            family,
            ..FamilyCounts::default()
        });
        let changed = before != after;
        let right = predict_one(&tables, old_ref, before) == after;
        counts.paired += 1;
        counts.changed += u64::from(changed);
        counts.won += u64::from(changed && right);
        counts.lost += u64::from(!changed && !right);
    }
    report.families = families.into_values().collect();
    for counts in &report.families {
        report.paired += counts.paired;
        report.changed += counts.changed;
        report.won += counts.won;
        report.lost += counts.lost;
    }
    report.segments = tables.map.segments().len() as u64;
    report.encoded_len = serial::encoded_len(&tables);
    let net_wins = report.won.saturating_sub(report.lost);
    report.pays = net_wins * BYTES_PER_WIN > report.encoded_len;
    (Some(tables), report)
}

/// The map fitted to `observations` with as few segments as the device allows.
fn fit(observations: Vec<Observation>) -> AddressMap {
    let points = vote(observations);
    // Two trusted observations, or one and an untrusted one.
    let mut min_weight = u64::from(TRUSTED) + 1;
    let mut map = AddressMap::fit(&points, min_weight);
    while map.segments().len() > MAX_SEGMENTS {
        min_weight *= 2;
        map = AddressMap::fit(&points, min_weight);
    }
    map
}

/// The bytes the predicted base will hold for `located` (whose bytes are `before`).
fn predict_one(tables: &Tables, located: &Located, before: &[u8]) -> Vec<u8> {
    let mut bytes = before.to_vec();
    let reference = Reference {
        at: 0,
        ..located.reference
    };
    let source = tables.map.displacement(reference.source);
    let target = tables.map.displacement(reference.target);
    if source != 0 || target != 0 {
        tables.isa.encode(
            &mut bytes,
            &reference,
            reference.source.wrapping_add_signed(source),
            reference.target.wrapping_add_signed(target),
        );
    }
    bytes
}
