//! `ota delta create|apply|info`: the delta library the devices use, by hand. `create`
//! makes a delta between two images, `apply` rebuilds the new image from the old one
//! (refusing an old image that is not the delta's base before anything is written), and
//! `info` shows a delta's header.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use update_core::hash::hash_reader;
use update_delta::{CreateOptions, Header, Limits, apply, create};

use crate::display::{format_bytes, ratio};
use crate::fsutil::{parent_dir, sync_dir};
use crate::staging::{HashingWriter, temp_file_in};

/// Memory `apply` may use unless `--max-memory` says otherwise: a workstation's share,
/// well above what deltas made for devices need.
pub const DEFAULT_APPLY_MEMORY: u64 = 256 << 20;

#[derive(Debug, clap::Subcommand)]
pub enum DeltaCommand {
    /// Make a delta that turns OLD into NEW
    Create(CreateArgs),
    /// Rebuild NEW from OLD and a delta (OLD must be the delta's base)
    Apply(ApplyArgs),
    /// Show a delta's header
    Info(InfoArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct CreateArgs {
    pub old: PathBuf,
    pub new: PathBuf,
    pub out: PathBuf,
    /// Memory a device may need to apply the delta, in bytes [default: the library's]
    #[arg(long, value_name = "BYTES")]
    pub memory_budget: Option<u64>,
}

#[derive(Clone, Debug, clap::Args)]
pub struct ApplyArgs {
    pub old: PathBuf,
    pub delta: PathBuf,
    pub out: PathBuf,
    /// Memory the delta may make the decoder use, in bytes [default: 256 MiB]
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_APPLY_MEMORY)]
    pub max_memory: u64,
}

#[derive(Clone, Debug, clap::Args)]
pub struct InfoArgs {
    pub delta: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a usable delta: {source}")]
    BadDelta {
        path: PathBuf,
        source: update_delta::ApplyError,
    },
    #[error(
        "{old} is not this delta's base: it is {actual_length} bytes with sha256 {actual_sha256}, \
         the delta applies to {expected_length} bytes with sha256 {expected_sha256}"
    )]
    WrongBase {
        old: PathBuf,
        actual_length: u64,
        actual_sha256: String,
        expected_length: u64,
        expected_sha256: String,
    },
    #[error("cannot make the delta: {0}")]
    Create(#[from] update_delta::CreateError),
    #[error("applying {path} failed: {source}")]
    Apply {
        path: PathBuf,
        source: update_delta::ApplyError,
    },
}

/// What `create` made.
#[derive(Debug)]
pub struct CreateReport {
    pub header: Header,
    pub old_length: u64,
    pub new_length: u64,
    pub delta_length: u64,
    pub elapsed: Duration,
}

/// What `apply` wrote.
#[derive(Debug)]
pub struct ApplyReport {
    pub header: Header,
    pub written: u64,
    pub delta_length: u64,
    pub elapsed: Duration,
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> DeltaError + '_ {
    move |source| DeltaError::Read {
        path: path.to_path_buf(),
        source,
    }
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> DeltaError + '_ {
    move |source| DeltaError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes the delta (both images are read into memory, as the library needs) and writes
/// it to `args.out` atomically.
pub fn create_delta(args: &CreateArgs) -> Result<CreateReport, DeltaError> {
    let started = Instant::now();
    let old = std::fs::read(&args.old).map_err(read_error(&args.old))?;
    let new = std::fs::read(&args.new).map_err(read_error(&args.new))?;
    let mut options = CreateOptions::default();
    if let Some(budget) = args.memory_budget {
        options.apply_memory_budget = budget;
    }
    let temp = temp_file_in(parent_dir(&args.out)).map_err(write_error(&args.out))?;
    let mut out = BufWriter::new(temp);
    let created = create(&old, &new, &options, &mut out)?;
    let temp = out
        .into_inner()
        .map_err(|e| write_error(&args.out)(e.into_error()))?;
    persist(temp, &args.out)?;
    Ok(CreateReport {
        header: created.header,
        old_length: old.len() as u64,
        new_length: new.len() as u64,
        delta_length: created.length,
        elapsed: started.elapsed(),
    })
}

/// Checks `args.old` against the delta's header, then rebuilds the new image into
/// `args.out` atomically; the library verifies its length and sha256 before it counts.
pub fn apply_delta(args: &ApplyArgs) -> Result<ApplyReport, DeltaError> {
    let started = Instant::now();
    let header = read_header(&args.delta)?;
    let old = File::open(&args.old).map_err(read_error(&args.old))?;
    let (actual_length, actual_sha256) = hash_reader(&old).map_err(read_error(&args.old))?;
    let expected_sha256 = header.base_sha256_hex();
    if actual_length != header.base_length || actual_sha256 != expected_sha256 {
        return Err(DeltaError::WrongBase {
            old: args.old.clone(),
            actual_length,
            actual_sha256,
            expected_length: header.base_length,
            expected_sha256,
        });
    }
    let delta_file = File::open(&args.delta).map_err(read_error(&args.delta))?;
    let delta_length = delta_file
        .metadata()
        .map_err(read_error(&args.delta))?
        .len();
    let mut delta = BufReader::new(delta_file);
    let temp = temp_file_in(parent_dir(&args.out)).map_err(write_error(&args.out))?;
    let mut out = HashingWriter::new(BufWriter::new(temp));
    let limits = Limits {
        max_memory: args.max_memory,
        result_length: header.result_length,
    };
    let applied =
        apply(&old, &mut delta, &mut out, &limits).map_err(|source| DeltaError::Apply {
            path: args.delta.clone(),
            source,
        })?;
    let (buffered, written, sha256) = out.finish();
    // The library checked the result already; this checks what reached the file.
    if written != header.result_length || sha256 != header.result_sha256_hex() {
        return Err(write_error(&args.out)(std::io::Error::other(
            "the output differs from the delta's result",
        )));
    }
    let temp = buffered
        .into_inner()
        .map_err(|e| write_error(&args.out)(e.into_error()))?;
    persist(temp, &args.out)?;
    Ok(ApplyReport {
        header: applied.header,
        written,
        delta_length,
        elapsed: started.elapsed(),
    })
}

/// The header of the delta at `path`.
pub fn read_header(path: &Path) -> Result<Header, DeltaError> {
    let mut file = BufReader::new(File::open(path).map_err(read_error(path))?);
    Header::read_from(&mut file).map_err(|source| DeltaError::BadDelta {
        path: path.to_path_buf(),
        source,
    })
}

fn persist(mut temp: tempfile::NamedTempFile, path: &Path) -> Result<(), DeltaError> {
    temp.flush().map_err(write_error(path))?;
    temp.as_file().sync_all().map_err(write_error(path))?;
    temp.persist(path).map_err(|e| write_error(path)(e.error))?;
    sync_dir(parent_dir(path)).map_err(write_error(path))
}

pub fn header_lines(header: &Header) -> Vec<String> {
    vec![
        format!("algorithm:     {}", header.algorithm.name()),
        format!(
            "base:          {} bytes, sha256 {}",
            header.base_length,
            header.base_sha256_hex()
        ),
        format!(
            "result:        {} bytes, sha256 {}",
            header.result_length,
            header.result_sha256_hex()
        ),
    ]
}

pub fn run(command: &DeltaCommand) -> anyhow::Result<()> {
    match command {
        DeltaCommand::Create(args) => {
            let report = create_delta(args)?;
            println!(
                "wrote {}: {} ({} bytes), {} of the new image ({}), algorithm {}, in {:.1}s",
                args.out.display(),
                format_bytes(report.delta_length),
                report.delta_length,
                ratio(report.delta_length, report.new_length),
                format_bytes(report.new_length),
                report.header.algorithm.name(),
                report.elapsed.as_secs_f64()
            );
            println!("old image: {}", format_bytes(report.old_length));
        }
        DeltaCommand::Apply(args) => {
            let report = apply_delta(args)?;
            println!(
                "wrote {}: {} ({} bytes, sha256 {}) from a {} delta ({}), algorithm {}, in {:.1}s",
                args.out.display(),
                format_bytes(report.written),
                report.written,
                report.header.result_sha256_hex(),
                format_bytes(report.delta_length),
                ratio(report.delta_length, report.written),
                report.header.algorithm.name(),
                report.elapsed.as_secs_f64()
            );
        }
        DeltaCommand::Info(args) => {
            let header = read_header(&args.delta)?;
            let length = std::fs::metadata(&args.delta)
                .map_err(read_error(&args.delta))?
                .len();
            println!("delta:         {} ({length} bytes)", args.delta.display());
            for line in header_lines(&header) {
                println!("{line}");
            }
            println!("size / result: {}", ratio(length, header.result_length));
        }
    }
    Ok(())
}
