//! The predicted base: the old image with every recognised reference re-encoded to
//! point from M(instruction) to M(target). Code is cut into slices (a code region
//! intersected with one fixed block of the file); each slice is scanned and rewritten on
//! its own, so the generator (whole image at once) and the device (any byte range,
//! from the covering slices) compute exactly the same bytes.

use std::cell::RefCell;
use std::io;

use super::data;
use super::isa::{Isa, Reference, Targets};
use super::map::AddressMap;
use super::region::{Content, Region};
use crate::Base;

/// Everything the prediction of a base depends on besides the base's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tables {
    pub isa: Isa,
    /// Slices never cross a multiple of 2^`block_log2` in the file.
    pub block_log2: u8,
    pub image_len: u64,
    /// Sorted by offset, non-overlapping, within `image_len`.
    pub regions: Vec<Region>,
    pub targets: Targets,
    pub map: AddressMap,
}

impl Tables {
    pub(crate) fn new(
        isa: Isa,
        block_log2: u8,
        image_len: u64,
        regions: Vec<Region>,
        loaded: Vec<(u64, u64)>,
        map: AddressMap,
    ) -> Tables {
        let code_ranges = regions
            .iter()
            .filter(|r| r.content == Content::Code)
            .map(|r| (r.vaddr, r.vaddr.saturating_add(r.len)))
            .collect();
        Tables {
            isa,
            block_log2,
            image_len,
            targets: Targets::new(code_ranges, loaded),
            regions,
            map,
        }
    }

    pub(crate) fn block_len(&self) -> u64 {
        1 << self.block_log2
    }

    /// The slice of `region` that contains file offset `position`: `(start, end)`.
    fn slice_around(&self, region: &Region, position: u64) -> (u64, u64) {
        let block_start = position >> self.block_log2 << self.block_log2;
        let start = block_start.max(region.offset);
        let end = block_start
            .saturating_add(self.block_len())
            .min(region.end());
        (start, end)
    }

    /// Every slice as `(region, start, end)`, in file order.
    pub(crate) fn slices(&self) -> impl Iterator<Item = (&Region, u64, u64)> {
        self.regions.iter().flat_map(move |region| {
            let mut position = region.offset;
            std::iter::from_fn(move || {
                (position < region.end()).then(|| {
                    let (start, end) = self.slice_around(region, position);
                    position = end;
                    (region, start, end)
                })
            })
        })
    }

    /// The references of one slice whose bytes are `raw`.
    pub(crate) fn scan_slice(
        &self,
        region: &Region,
        start: u64,
        raw: &[u8],
        found: &mut dyn FnMut(Reference),
    ) {
        let vaddr = region.vaddr.wrapping_add(start - region.offset);
        match region.content {
            Content::Code => self.isa.scan(raw, vaddr, &self.targets, found),
            _ => data::scan(region, start, raw, &self.targets, found),
        }
    }

    /// Writes the predicted bytes of the slice at `start` into `out`, which holds a copy
    /// of `raw` on entry. References are decoded from `raw` only.
    pub(crate) fn predict_slice(&self, region: &Region, start: u64, raw: &[u8], out: &mut [u8]) {
        let isa = self.isa;
        self.scan_slice(region, start, raw, &mut |reference| {
            let source = self.map.displacement(reference.source);
            let target = self.map.displacement(reference.target);
            if source != 0 || target != 0 {
                isa.encode(
                    out,
                    &reference,
                    reference.source.wrapping_add_signed(source),
                    reference.target.wrapping_add_signed(target),
                );
            }
        });
    }

    /// The references of `image` as the device sees them (slice by slice), with their
    /// region and the file offset of their slice.
    pub(crate) fn references(&self, image: &[u8], found: &mut dyn FnMut(&Region, u64, Reference)) {
        for (region, start, end) in self.slices() {
            if let Some(raw) = image.get(start as usize..end as usize) {
                self.scan_slice(region, start, raw, &mut |reference| {
                    found(region, start, reference)
                });
            }
        }
    }

    /// The whole predicted base (generator side).
    pub(crate) fn predicted(&self, image: &[u8]) -> Vec<u8> {
        let mut out = image.to_vec();
        for (region, start, end) in self.slices() {
            let range = start as usize..end as usize;
            // `out` is a copy of `image`: a range inside one is inside the other.
            if let Some(raw) = image.get(range.clone()) {
                self.predict_slice(region, start, raw, &mut out[range]);
            }
        }
        out
    }

    /// The first region that ends after `position`.
    fn region_from(&self, position: u64) -> Option<&Region> {
        let index = self.regions.partition_point(|r| r.end() <= position);
        self.regions.get(index)
    }
}

/// Slices kept predicted, so that reads of neighbouring bytes do not rescan.
pub(crate) const CACHED_SLICES: usize = 2;

/// The predicted base served from the real one in bounded memory (device side).
pub(crate) struct PredictedBase<'a> {
    tables: &'a Tables,
    base: &'a dyn Base,
    cache: RefCell<Cache>,
}

#[derive(Default)]
struct Cache {
    /// `(slice start, predicted bytes)`, most recently used first.
    slices: Vec<(u64, Vec<u8>)>,
    raw: Vec<u8>,
}

impl<'a> PredictedBase<'a> {
    pub(crate) fn new(tables: &'a Tables, base: &'a dyn Base) -> PredictedBase<'a> {
        PredictedBase {
            tables,
            base,
            cache: RefCell::new(Cache::default()),
        }
    }

    /// Copies `out.len()` predicted bytes from `position`, all inside one slice.
    fn read_slice(&self, region: &Region, position: u64, out: &mut [u8]) -> io::Result<()> {
        let (start, end) = self.tables.slice_around(region, position);
        let mut cache = self
            .cache
            .try_borrow_mut()
            .map_err(|_| io::Error::other("predicted base read re-entered"))?;
        let cache = &mut *cache;
        let hit = cache.slices.iter().position(|(cached, _)| *cached == start);
        let index = match hit {
            Some(index) => index,
            None => {
                let len = (end - start) as usize;
                cache.raw.resize(len, 0);
                self.base.read_exact_at(&mut cache.raw, start)?;
                let mut predicted = if cache.slices.len() < CACHED_SLICES {
                    Vec::with_capacity(len)
                } else {
                    cache
                        .slices
                        .pop()
                        .map(|(_, bytes)| bytes)
                        .unwrap_or_default()
                };
                predicted.clear();
                predicted.extend_from_slice(&cache.raw);
                self.tables
                    .predict_slice(region, start, &cache.raw, &mut predicted);
                cache.slices.push((start, predicted));
                cache.slices.len() - 1
            }
        };
        cache.slices[..=index].rotate_right(1);
        let from = (position - start) as usize;
        let bytes = cache.slices[0]
            .1
            .get(from..from + out.len())
            .ok_or_else(past_end)?;
        out.copy_from_slice(bytes);
        Ok(())
    }
}

impl Base for PredictedBase<'_> {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&end| end <= self.tables.image_len)
            .ok_or_else(past_end)?;
        let mut position = offset;
        while position < end {
            let out = &mut buf[(position - offset) as usize..];
            match self.tables.region_from(position) {
                Some(region) if region.offset <= position => {
                    let (_, slice_end) = self.tables.slice_around(region, position);
                    let len = slice_end.min(end) - position;
                    self.read_slice(region, position, &mut out[..len as usize])?;
                    position += len;
                }
                next => {
                    // Bytes outside every region are never rewritten: read them through.
                    let until = next.map_or(end, |region| region.offset.min(end));
                    let len = until - position;
                    self.base
                        .read_exact_at(&mut out[..len as usize], position)?;
                    position += len;
                }
            }
        }
        Ok(())
    }
}

fn past_end() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "read past the end of the predicted base",
    )
}
