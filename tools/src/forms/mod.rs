//! The signed forms a release travels in besides its raw image: the image compressed with
//! zstd ([`zstd_frames`]) and deltas from the class's earlier releases ([`deltas`]). Each
//! is its own target, with the raw release's firmware fields plus what it encodes and
//! from what, so `ota release add` signs them with the image in one targets version.

pub mod deltas;
pub mod zstd_frames;

use std::io::BufWriter;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use update_core::firmware::{DeltaBase, Encoding, Firmware, delta_target_name, zstd_target_name};
use update_core::schema::Targets;
use update_delta::CreateOptions;

use crate::fsutil::parent_dir;
use crate::local_repo::{LocalRepo, RepoError};
use crate::staging::{HashingWriter, StagedImage, temp_file_in};
use deltas::{
    BaseRelease, DeltaFormError, MadeDelta, SkippedBase, choose_bases, delta_pays, make_delta,
    read_image,
};
use zstd_frames::{ZstdFormError, ZstdOptions, compress_image};

#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Zstd(#[from] ZstdFormError),
    #[error(transparent)]
    Delta(#[from] DeltaFormError),
    #[error("a thread making the zstd form panicked")]
    Panicked,
    #[error("cannot write the zstd form in {dir}: {source}")]
    Write { dir: String, source: std::io::Error },
}

/// Which forms to make.
#[derive(Clone, Debug)]
pub struct FormOptions {
    /// `None`: no zstd form.
    pub zstd: Option<ZstdOptions>,
    /// Deltas from up to this many earlier releases (0: none).
    pub deltas: usize,
    pub delta: CreateOptions,
}

/// One form made: its target name, firmware fields and file, ready to sign and install.
pub struct Form {
    pub target_name: String,
    pub firmware: Firmware,
    pub file: StagedImage,
    pub elapsed: Duration,
    /// The delta algorithm, for deltas (`+exe`: executable-aware).
    pub algorithm: Option<String>,
}

/// A delta made and then dropped because it did not save enough.
#[derive(Clone, Debug)]
pub struct DroppedDelta {
    pub base_target: String,
    pub base_version: semver::Version,
    pub length: u64,
    /// The full form it was compared with, and its length.
    pub full_kind: Encoding,
    pub full_length: u64,
}

/// What [`make_forms`] made, dropped and skipped.
#[derive(Default)]
pub struct Forms {
    pub made: Vec<Form>,
    pub dropped: Vec<DroppedDelta>,
    pub skipped: Vec<SkippedBase>,
}

/// Makes the zstd form and the deltas of the raw release `release` (firmware `raw`,
/// image staged at `image`) into temporary files in the repository's targets directory.
/// The zstd form is compressed while the deltas are made (both are CPU heavy); the deltas
/// that do not save enough over it are then dropped.
pub fn make_forms(
    repo: &LocalRepo,
    targets: &Targets,
    release: &str,
    raw: &Firmware,
    image: &StagedImage,
    options: &FormOptions,
) -> Result<Forms, FormError> {
    let (zstd, (candidates, skipped)) = thread::scope(|scope| {
        let zstd_worker = options
            .zstd
            .map(|zstd| scope.spawn(move || make_zstd(repo, release, raw, image.path(), zstd)));
        let deltas = make_deltas(repo, targets, release, raw, image, options);
        let zstd = match zstd_worker {
            Some(worker) => Some(worker.join().map_err(|_| FormError::Panicked)??),
            None => None,
        };
        Ok::<_, FormError>((zstd, deltas?))
    })?;
    let full = zstd
        .as_ref()
        .map_or((Encoding::Raw, raw.image.length), |form| {
            (Encoding::Zstd, form.file.length)
        });
    let mut forms = Forms {
        made: zstd.into_iter().collect(),
        dropped: Vec::new(),
        skipped,
    };
    for candidate in candidates {
        let DeltaCandidate {
            base,
            target_name,
            made,
        } = candidate;
        if !delta_pays(made.file.length, full.1) {
            forms.dropped.push(DroppedDelta {
                base_target: base.target_name,
                base_version: base.firmware.version,
                length: made.file.length,
                full_kind: full.0,
                full_length: full.1,
            });
            continue;
        }
        let signed = &base.firmware.image;
        let firmware = Firmware {
            encoding: Encoding::Delta,
            base: Some(DeltaBase {
                version: base.firmware.version.clone(),
                length: signed.length,
                sha256: signed.sha256.to_ascii_lowercase(),
            }),
            release: Some(release.to_string()),
            ..raw.clone()
        };
        forms.made.push(Form {
            target_name,
            firmware,
            file: made.file,
            elapsed: made.elapsed,
            algorithm: Some(made.algorithm),
        });
    }
    Ok(forms)
}

/// A delta made from one base, before the rule decides whether it is published.
struct DeltaCandidate {
    base: BaseRelease,
    target_name: String,
    made: MadeDelta,
}

/// Makes a delta from each base [`choose_bases`] picks, one after the other (each holds
/// two images in memory); bases whose image does not match its signed hash are skipped.
fn make_deltas(
    repo: &LocalRepo,
    targets: &Targets,
    release: &str,
    raw: &Firmware,
    image: &StagedImage,
    options: &FormOptions,
) -> Result<(Vec<DeltaCandidate>, Vec<SkippedBase>), FormError> {
    if options.deltas == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let (bases, mut skipped) = choose_bases(repo, targets, raw, options.deltas)?;
    if bases.is_empty() {
        return Ok((Vec::new(), skipped));
    }
    let new = read_image(image.path(), raw.image.length, &raw.image.sha256)?;
    let mut candidates = Vec::new();
    for base in bases {
        let signed = &base.firmware.image;
        let old = match read_image(&base.path, signed.length, &signed.sha256) {
            Ok(old) => old,
            Err(error) => {
                skipped.push(SkippedBase {
                    target_name: base.target_name,
                    version: base.firmware.version,
                    reason: error.to_string(),
                });
                continue;
            }
        };
        let target_name = delta_target_name(release, &signed.sha256);
        let final_path = repo.image_path(&target_name)?;
        let made = make_delta(
            &base.target_name,
            &old,
            &new,
            &options.delta,
            parent_dir(&final_path),
        )?;
        candidates.push(DeltaCandidate {
            base,
            target_name,
            made,
        });
    }
    Ok((candidates, skipped))
}

fn make_zstd(
    repo: &LocalRepo,
    release: &str,
    raw: &Firmware,
    image: &Path,
    options: ZstdOptions,
) -> Result<Form, FormError> {
    let started = Instant::now();
    let target_name = zstd_target_name(release);
    let final_path = repo.image_path(&target_name)?;
    let dir = parent_dir(&final_path);
    let write_error = |source| FormError::Write {
        dir: dir.display().to_string(),
        source,
    };
    let temp = temp_file_in(dir).map_err(write_error)?;
    let mut out = HashingWriter::new(BufWriter::new(temp));
    compress_image(image, &mut out, options)?;
    let (buffered, length, sha256) = out.finish();
    let temp = buffered
        .into_inner()
        .map_err(|e| write_error(e.into_error()))?;
    temp.as_file().sync_all().map_err(write_error)?;
    Ok(Form {
        target_name,
        firmware: Firmware {
            encoding: Encoding::Zstd,
            base: None,
            release: Some(release.to_string()),
            ..raw.clone()
        },
        file: StagedImage::from_temp(temp.into_temp_path(), length, sha256),
        elapsed: started.elapsed(),
        algorithm: None,
    })
}
