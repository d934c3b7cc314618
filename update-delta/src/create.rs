//! Making a delta (release engineer's side: whole images in memory are fine here): every
//! algorithm that fits the device's apply memory budget is tried, on the plain base and,
//! for executables, on the predicted base; the smallest delta is written.

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::exe::BasePrediction;
use crate::format::{Algorithm, HEADER_LEN, Header};
use crate::{CreateError, copyadd, matching, patchfrom};

/// Choices for [`create`].
#[derive(Clone, Debug)]
pub struct CreateOptions {
    /// The most memory [`crate::apply`] may need on the device for this delta; an
    /// algorithm that would need more is not used.
    pub apply_memory_budget: u64,
    /// zstd level of the patch streams.
    pub zstd_level: i32,
    /// The algorithms to try (all by default).
    pub algorithms: Vec<Algorithm>,
    /// Whether to try the executable-aware base prediction ([`crate::exe`]).
    pub executable_transform: bool,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            apply_memory_budget: 8 << 20,
            zstd_level: 19,
            algorithms: Algorithm::ALL.to_vec(),
            executable_transform: true,
        }
    }
}

/// One delta [`create`] tried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub algorithm: Algorithm,
    /// Made against the executable-aware predicted base.
    pub transformed: bool,
    /// Its length, header included; None: it would need more memory than the budget.
    pub length: Option<u64>,
}

/// What [`create`] wrote.
#[derive(Clone, Debug)]
pub struct Created {
    pub header: Header,
    /// Bytes written, header included.
    pub length: u64,
    /// Whether the written delta uses the executable-aware predicted base.
    pub transformed: bool,
    /// Every candidate tried, the written one included.
    pub candidates: Vec<Candidate>,
}

struct Variant {
    base: Vec<u8>,
    transform: Vec<u8>,
    transform_memory: u64,
}

/// Writes the smallest delta from `old` to `new` that fits the budget into `out`.
pub fn create(
    old: &[u8],
    new: &[u8],
    options: &CreateOptions,
    out: &mut dyn Write,
) -> Result<Created, CreateError> {
    let mut variants: Vec<Option<Variant>> = vec![None];
    if options.executable_transform
        && let Some(prediction) = BasePrediction::analyse(old, new)
    {
        let mut transform = Vec::new();
        prediction
            .write_to(&mut transform)
            .map_err(CreateError::Compress)?;
        if u32::try_from(transform.len()).is_err() {
            return Err(CreateError::TransformTooLarge(transform.len()));
        }
        variants.push(Some(Variant {
            base: prediction.predicted_base(old),
            transform,
            transform_memory: prediction.memory_needed(),
        }));
    }
    let mut candidates = Vec::new();
    let mut best: Option<(u64, Header, Vec<u8>, Vec<u8>)> = None;
    for variant in &variants {
        let (base, transform, transform_memory) = match variant {
            Some(variant) => (
                &variant.base[..],
                &variant.transform[..],
                variant.transform_memory,
            ),
            None => (old, &[][..], 0),
        };
        let budget = options.apply_memory_budget.checked_sub(transform_memory);
        for &algorithm in &options.algorithms {
            let body = match budget {
                None => None,
                Some(budget) => encode(algorithm, base, new, options.zstd_level, budget)?,
            };
            let length = body
                .as_ref()
                .map(|(body, _)| (HEADER_LEN + transform.len() + body.len()) as u64);
            candidates.push(Candidate {
                algorithm,
                transformed: variant.is_some(),
                length,
            });
            let (Some((body, memory)), Some(length)) = (body, length) else {
                continue;
            };
            if best
                .as_ref()
                .is_some_and(|(best_length, ..)| *best_length <= length)
            {
                continue;
            }
            let header = Header {
                algorithm,
                base_length: old.len() as u64,
                base_sha256: [0; 32],
                result_length: new.len() as u64,
                result_sha256: [0; 32],
                apply_memory: memory + transform_memory,
                transform_length: transform.len() as u32,
            };
            best = Some((length, header, transform.to_vec(), body));
        }
    }
    let Some((length, mut header, transform, body)) = best else {
        return Err(CreateError::OverMemoryBudget {
            budget: options.apply_memory_budget,
        });
    };
    header.base_sha256 = Sha256::digest(old).into();
    header.result_sha256 = Sha256::digest(new).into();
    header.write_to(out).map_err(CreateError::Write)?;
    out.write_all(&transform).map_err(CreateError::Write)?;
    out.write_all(&body).map_err(CreateError::Write)?;
    Ok(Created {
        transformed: header.transform_length > 0,
        header,
        length,
        candidates,
    })
}

fn encode(
    algorithm: Algorithm,
    base: &[u8],
    new: &[u8],
    level: i32,
    budget: u64,
) -> Result<Option<(Vec<u8>, u64)>, CreateError> {
    match algorithm {
        Algorithm::CopyAdd => {
            let covers = matching::matches(base, new);
            copyadd::encode(base, new, &covers, level, budget)
        }
        Algorithm::ZstdPatch => patchfrom::encode(base, new, level, budget),
    }
}
