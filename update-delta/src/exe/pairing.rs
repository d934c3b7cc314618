//! Pairing the old build's references with the new build's, and what each pair says
//! about where addresses moved.
//!
//! Code is paired by the alignment of the two images with their references blanked:
//! moved code matches itself. Data blanked is too repetitive to align reliably (a
//! relocation table blanked is one entry repeated, unwind records differ mostly in their
//! blanked pointers), so a data reference is only paired when the new reference points
//! where the map learnt from code says: at the aligned position, or failing that the
//! one new reference of its kind with that target anywhere. Those pairs then tell where
//! the data itself moved, which predicts the references *to* data (relocations'
//! offsets, unwind table entries).

use std::collections::HashMap;

use super::elf::Elf;
use super::isa::{Isa, Kind, Reference};
use super::map::{AddressMap, Observation};
use super::predict::Tables;
use super::region::Content;
use crate::matching::Match;

/// Shorter matches of blanked code are too often coincidences (two different sequences
/// of the same instructions) to say where code moved.
const MIN_ALIGNED_LEN: u64 = 32;

/// The bytes of an unwind record (`.eh_frame` FDE: length, CIE pointer) before the
/// field that points to its function.
const FDE_HEAD: u8 = 8;

/// The weight of what a pair observes when the pair is trusted: code aligned, or data
/// whose target agrees with the map; an unverified pair of data counts for one.
pub(super) const TRUSTED: u8 = 2;

fn observe(old: u64, new: u64, lead: u8, weight: u8) -> Observation {
    Observation {
        address: old,
        displacement: new.wrapping_sub(old) as i64,
        lead,
        weight,
    }
}

/// A reference with the file offset of its first byte.
#[derive(Clone, Copy)]
pub(super) struct Located {
    pub position: u64,
    pub reference: Reference,
    /// Whether `reference.source` is a real address (not in an unloaded section).
    pub loaded: bool,
    pub code: bool,
}

impl Located {
    /// The reference with `at` relative to the whole image.
    fn absolute(&self) -> Reference {
        Reference {
            at: self.position as usize,
            ..self.reference
        }
    }

    pub fn bytes<'a>(&self, image: &'a [u8]) -> Option<&'a [u8]> {
        let start = self.position as usize;
        image.get(start..start.checked_add(self.reference.span())?)
    }
}

/// Every reference `tables` finds in `image`, in file order.
pub(super) fn locate(tables: &Tables, image: &[u8]) -> Vec<Located> {
    let mut found: Vec<Located> = Vec::new();
    tables.references(image, &mut |region, start, reference| {
        found.push(Located {
            position: start + reference.at as u64,
            reference,
            loaded: region.vaddr != 0,
            code: region.content == Content::Code,
        })
    });
    // A pool offset is found at its load, before the words between load and pool.
    found.sort_by_key(|located| located.position);
    found
}

/// The references of every region of `image` scanned whole (one slice per region: the
/// new build is never predicted, only compared against).
pub(super) fn locate_whole(isa: Isa, elf: &Elf, image: &[u8]) -> Vec<Located> {
    let whole_regions = 63;
    let loaded = elf.targets().loaded;
    let tables = Tables::new(
        isa,
        whole_regions,
        image.len() as u64,
        elf.regions.clone(),
        loaded,
        AddressMap::default(),
    );
    locate(&tables, image)
}

pub(super) fn blanked(isa: Isa, image: &[u8], refs: &[Located]) -> Vec<u8> {
    let mut copy = image.to_vec();
    for located in refs {
        isa.blank(&mut copy, &located.absolute());
    }
    copy
}

/// For each old reference (sorted by position), the position its first byte aligns to
/// in new, through the longest match that covers the whole encoding.
pub(super) fn align(old_refs: &[Located], alignment: &[Match]) -> Vec<Option<u64>> {
    let mut aligned = vec![None; old_refs.len()];
    let mut via = vec![0u64; old_refs.len()];
    for m in alignment.iter().filter(|m| m.len >= MIN_ALIGNED_LEN) {
        let first = old_refs.partition_point(|r| r.position < m.old);
        for (index, located) in old_refs.iter().enumerate().skip(first) {
            let end = located.position + located.reference.span() as u64;
            if end > m.old.saturating_add(m.len) {
                break;
            }
            if m.len > via[index] {
                via[index] = m.len;
                aligned[index] = Some(located.position - m.old + m.new);
            }
        }
    }
    aligned
}

/// The new build's references, by position and by target.
pub(super) struct NewReferences<'a> {
    refs: &'a [Located],
    /// The index of the only reference of a kind with a target; `None` if several.
    by_target: HashMap<(Kind, u64), Option<usize>>,
}

impl<'a> NewReferences<'a> {
    pub fn new(refs: &'a [Located]) -> NewReferences<'a> {
        let mut by_target = HashMap::with_capacity(refs.len());
        for (index, located) in refs.iter().enumerate() {
            let key = (located.reference.kind, located.reference.target);
            by_target
                .entry(key)
                .and_modify(|unique| *unique = None)
                .or_insert(Some(index));
        }
        NewReferences { refs, by_target }
    }

    pub fn get(&self, index: usize) -> &'a Located {
        &self.refs[index]
    }

    fn at(&self, position: u64, kind: Kind) -> Option<usize> {
        let index = self.refs.partition_point(|r| r.position < position);
        let found = self.refs.get(index)?;
        (found.position == position && found.reference.kind == kind).then_some(index)
    }

    fn unique(&self, kind: Kind, target: u64) -> Option<usize> {
        self.by_target.get(&(kind, target)).copied().flatten()
    }
}

/// Where each old reference went: the index of its new counterpart, if paired.
pub(super) type Pairs = Vec<Option<usize>>;

/// Pairs the code references by alignment; observes where their instructions and
/// targets moved.
pub(super) fn pair_code(
    old_refs: &[Located],
    aligned: &[Option<u64>],
    new: &NewReferences,
    new_elf: &Elf,
    observations: &mut Vec<Observation>,
    pairs: &mut Pairs,
) {
    for (index, old_ref) in old_refs.iter().enumerate().filter(|(_, r)| r.code) {
        let Some(position) = aligned[index] else {
            continue;
        };
        let reference = &old_ref.reference;
        if let Some(paired) = new.at(position, reference.kind) {
            let new_ref = &new.get(paired).reference;
            observations.push(observe(reference.source, new_ref.source, 0, TRUSTED));
            observations.push(observe(reference.target, new_ref.target, 0, TRUSTED));
            pairs[index] = Some(paired);
        } else if reference.kind.source_is_field()
            && let Some(new_source) = new_elf.vaddr_of(position)
        {
            // The instruction moved with the code around it, even if it changed.
            observations.push(observe(reference.source, new_source, 0, TRUSTED));
        }
    }
}

/// Pairs the data references whose new counterpart points where `map` (learnt from
/// code) predicts; observes where those in loaded memory moved.
pub(super) fn pair_data(
    old_refs: &[Located],
    aligned: &[Option<u64>],
    new: &NewReferences,
    map: &AddressMap,
    observations: &mut Vec<Observation>,
    pairs: &mut Pairs,
) {
    for (index, old_ref) in old_refs.iter().enumerate().filter(|(_, r)| !r.code) {
        if pairs[index].is_some() {
            continue;
        }
        let reference = &old_ref.reference;
        let expected = reference
            .target
            .wrapping_add_signed(map.displacement(reference.target));
        let at_alignment = aligned[index]
            .and_then(|position| new.at(position, reference.kind))
            .filter(|&paired| new.get(paired).reference.target == expected);
        let Some(paired) = at_alignment.or_else(|| new.unique(reference.kind, expected)) else {
            continue;
        };
        let new_ref = new.get(paired);
        pairs[index] = Some(paired);
        observations.push(observe(reference.target, expected, 0, TRUSTED));
        if reference.kind.source_is_field() && old_ref.loaded && new_ref.loaded {
            let lead = if reference.kind == Kind::FieldRelative32 {
                FDE_HEAD
            } else {
                0
            };
            observations.push(observe(
                reference.source,
                new_ref.reference.source,
                lead,
                TRUSTED,
            ));
        }
    }
}

/// Pairs the data references still unpaired by alignment alone, and observes where
/// their targets went with little weight: it teaches the map about targets only data
/// points to (type descriptors, tables), while the trusted observations outvote what
/// a misaligned repetitive table says.
pub(super) fn pair_data_unverified(
    old_refs: &[Located],
    aligned: &[Option<u64>],
    new: &NewReferences,
    observations: &mut Vec<Observation>,
    pairs: &mut Pairs,
) {
    for (index, old_ref) in old_refs.iter().enumerate().filter(|(_, r)| !r.code) {
        let reference = &old_ref.reference;
        let paired = aligned[index].and_then(|position| new.at(position, reference.kind));
        if let (None, Some(paired)) = (pairs[index], paired) {
            pairs[index] = Some(paired);
            observations.push(observe(
                reference.target,
                new.get(paired).reference.target,
                0,
                1,
            ));
        }
    }
}
