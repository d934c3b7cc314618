//! The deltas of a new release: which earlier releases of the class they start from, and
//! the rule that publishes only those that pay.
//!
//! Bases are the class's newest earlier releases (by version) that share a hardware id
//! with the new one, one per distinct image. A delta is kept only if it is at most
//! [`MAX_DELTA_RATIO`] of the full image's best form (the zstd form, else the raw image):
//! a smaller saving is not worth a second way of updating.

use std::collections::BTreeSet;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use update_core::firmware::{Encoding, Firmware};
use update_core::hash::sha256_hex;
use update_core::schema::Targets;
use update_delta::{CreateOptions, create};

use crate::local_repo::{LocalRepo, RepoError};
use crate::staging::{HashingWriter, StagedImage, temp_file_in};

/// Deltas made per release when neither `--deltas` nor the repository config says.
pub const DEFAULT_DELTAS: usize = 3;
/// A delta is published only at or below this share of the full form: 4/5 (a 20% saving).
pub const MAX_DELTA_RATIO: (u64, u64) = (4, 5);

#[derive(Debug, thiserror::Error)]
pub enum DeltaFormError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write a delta in {dir}: {source}")]
    Write {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make the delta from {base}: {source}")]
    Create {
        base: String,
        source: update_delta::CreateError,
    },
}

/// An earlier release a delta can start from.
#[derive(Clone, Debug)]
pub struct BaseRelease {
    pub target_name: String,
    pub firmware: Firmware,
    pub path: PathBuf,
}

/// An earlier release that would have been a base but cannot be, and why.
#[derive(Clone, Debug)]
pub struct SkippedBase {
    pub target_name: String,
    pub version: semver::Version,
    pub reason: String,
}

/// Whether a delta of `delta_length` bytes saves enough over a full form of `full_length`.
pub fn delta_pays(delta_length: u64, full_length: u64) -> bool {
    let (numerator, denominator) = MAX_DELTA_RATIO;
    u128::from(delta_length) * u128::from(denominator)
        <= u128::from(full_length) * u128::from(numerator)
}

/// The newest `count` earlier releases of `new`'s class (by version) that share a hardware
/// id with it, one per distinct image; releases among them whose image is missing from
/// the repository are skipped.
pub fn choose_bases(
    repo: &LocalRepo,
    targets: &Targets,
    new: &Firmware,
    count: usize,
) -> Result<(Vec<BaseRelease>, Vec<SkippedBase>), DeltaFormError> {
    let mut candidates = Vec::new();
    for (name, target) in &targets.targets {
        let Some(firmware) = Firmware::of_target(name, target).ok().flatten() else {
            continue;
        };
        let shares_hardware = firmware.hardware.iter().any(|h| new.runs_on(h));
        if firmware.encoding == Encoding::Raw
            && firmware.class == new.class
            && firmware.version < new.version
            && shares_hardware
        {
            candidates.push((name.clone(), firmware));
        }
    }
    candidates.sort_by(|a, b| (&b.1.version, &b.0).cmp(&(&a.1.version, &a.0)));
    let mut images = BTreeSet::from([new.image.sha256.to_ascii_lowercase()]);
    let (mut bases, mut skipped) = (Vec::new(), Vec::new());
    for (target_name, firmware) in candidates {
        if bases.len() + skipped.len() >= count {
            break;
        }
        if !images.insert(firmware.image.sha256.to_ascii_lowercase()) {
            continue;
        }
        let path = repo.image_path(&target_name)?;
        if !path.is_file() {
            skipped.push(SkippedBase {
                reason: format!("its image {} is not in the repository", path.display()),
                version: firmware.version,
                target_name,
            });
            continue;
        }
        bases.push(BaseRelease {
            target_name,
            firmware,
            path,
        });
    }
    Ok((bases, skipped))
}

/// A delta written next to its final place, with what it took to make.
pub struct MadeDelta {
    pub file: StagedImage,
    /// The algorithm the library chose, `+exe` when made against its executable-aware
    /// prediction of the base.
    pub algorithm: String,
    pub elapsed: Duration,
}

/// Reads a whole image and checks it against its signed length and sha256: `create`
/// needs both images in memory, and a delta from bytes other than the signed base would
/// fail on every device.
pub fn read_image(path: &Path, length: u64, sha256: &str) -> Result<Vec<u8>, DeltaFormError> {
    let read_error = |source| DeltaFormError::Read {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(path).map_err(read_error)?;
    let actual = sha256_hex(&bytes);
    if bytes.len() as u64 != length || !actual.eq_ignore_ascii_case(sha256) {
        return Err(read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is {} bytes with sha256 {actual}, not the signed {length} bytes with sha256 {sha256}",
                bytes.len()
            ),
        )));
    }
    Ok(bytes)
}

/// Makes the delta from `old` to `new` into a temporary file in `dir`.
pub fn make_delta(
    base_name: &str,
    old: &[u8],
    new: &[u8],
    options: &CreateOptions,
    dir: &Path,
) -> Result<MadeDelta, DeltaFormError> {
    let write_error = |source| DeltaFormError::Write {
        dir: dir.to_path_buf(),
        source,
    };
    let started = Instant::now();
    let temp = temp_file_in(dir).map_err(write_error)?;
    let mut out = HashingWriter::new(BufWriter::new(temp));
    let created = create(old, new, options, &mut out).map_err(|source| DeltaFormError::Create {
        base: base_name.to_string(),
        source,
    })?;
    let (buffered, length, sha256) = out.finish();
    let temp = buffered
        .into_inner()
        .map_err(|e| write_error(e.into_error()))?;
    temp.as_file().sync_all().map_err(write_error)?;
    Ok(MadeDelta {
        file: StagedImage::from_temp(temp.into_temp_path(), length, sha256),
        algorithm: format!(
            "{}{}",
            created.header.algorithm.name(),
            if created.transformed { "+exe" } else { "" }
        ),
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delta_pays_at_four_fifths_of_the_full_form_or_less() {
        assert!(delta_pays(80, 100));
        assert!(!delta_pays(81, 100));
        assert!(delta_pays(0, 0));
        assert!(!delta_pays(1, 1));
        assert!(delta_pays(u64::MAX / 2, u64::MAX));
        assert!(!delta_pays(u64::MAX, u64::MAX));
    }
}
