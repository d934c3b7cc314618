//! Helpers shared by the integration tests: real key files, repositories and images in
//! temporary directories, and a fake admin server on 127.0.0.1.
// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

pub mod fake_server;

use std::path::{Path, PathBuf};

use tempfile::TempDir;
use tools::cmd::release::AddArgs;
use tools::cmd::repo::{InitArgs, InitOutcome, init};
use tools::keyfile;

/// One key pair per role, made with `keyfile::generate` as `ota keygen` does.
pub struct Keys {
    pub dir: TempDir,
    pub root: PathBuf,
    pub targets: PathBuf,
    pub snapshot: PathBuf,
    pub timestamp: PathBuf,
}

pub fn make_keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str| {
        let path = dir.path().join(format!("{name}.pem"));
        keyfile::generate(&path).unwrap();
        path
    };
    Keys {
        root: make("root"),
        targets: make("targets"),
        snapshot: make("snapshot"),
        timestamp: make("timestamp"),
        dir,
    }
}

pub fn pub_of(path: &Path) -> PathBuf {
    keyfile::public_key_path(path)
}

pub fn init_args(keys: &Keys, repo: &Path) -> InitArgs {
    InitArgs {
        repo: repo.to_path_buf(),
        root_keys: vec![keys.root.clone()],
        targets_keys: vec![pub_of(&keys.targets)],
        snapshot_keys: vec![pub_of(&keys.snapshot)],
        timestamp_keys: vec![pub_of(&keys.timestamp)],
        root_threshold: 1,
        targets_threshold: 1,
        snapshot_threshold: 1,
        timestamp_threshold: 1,
        expires: "365d".parse().unwrap(),
    }
}

pub fn init_repo(keys: &Keys, repo: &Path) -> InitOutcome {
    init(&init_args(keys, repo)).unwrap()
}

/// An image of `length` bytes whose content depends on `seed`.
pub fn write_image(path: &Path, length: usize, seed: u8) {
    let bytes: Vec<u8> = (0..length)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    std::fs::write(path, bytes).unwrap();
}

/// Arguments of a plain release: the image only, no zstd form, no deltas.
pub fn add_args(repo: &Path, image: &Path, key: &Path, version: &str) -> AddArgs {
    AddArgs {
        image: image.to_path_buf(),
        repo: repo.to_path_buf(),
        keys: vec![key.to_path_buf()],
        version: version.parse().unwrap(),
        class: "camera".to_string(),
        hardware: vec!["cam-v2".to_string()],
        name: None,
        expires: "30d".parse().unwrap(),
        deltas: None,
        no_deltas: true,
        no_zstd: true,
        zstd_level: None,
        delta_memory_budget: None,
    }
}

/// Arguments of a release with its zstd form and deltas as `ota release add` makes them
/// by default, at a fast zstd level (debug builds compress slowly).
pub fn add_args_with_forms(repo: &Path, image: &Path, key: &Path, version: &str) -> AddArgs {
    AddArgs {
        no_deltas: false,
        no_zstd: false,
        zstd_level: Some(3),
        ..add_args(repo, image, key, version)
    }
}

/// Names of the entries of `dir` (empty if it does not exist).
pub fn entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}
