//! Finding `update-server` and `update-client` for the demo: next to the running `ota`,
//! built first with cargo when `ota` itself runs under `cargo run`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

pub const SERVER: &str = "update-server";
pub const CLIENT: &str = "update-client";

/// The path of binary `name` in `dir`.
pub fn binary(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// The directory holding both binaries. Under cargo (`CARGO` set) they are built first
/// with the profile and target directory of the running `ota`; cargo does nothing when
/// they are up to date, and this keeps the demo from running stale binaries.
pub fn locate_or_build() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the running ota executable")?;
    let dir = exe
        .parent()
        .context("the ota executable has no directory")?
        .to_path_buf();
    let present = |dir: &Path| [SERVER, CLIENT].iter().all(|n| binary(dir, n).is_file());
    if let Some(cargo) = std::env::var_os("CARGO") {
        build(&cargo, &dir)?;
    }
    if !present(&dir) {
        bail!(
            "{SERVER} and {CLIENT} are not in {}; build them with `cargo build --release -p {SERVER} -p {CLIENT}` or run the demo with `cargo run --release -p tools -- demo`",
            dir.display()
        );
    }
    Ok(dir)
}

fn build(cargo: &OsString, exe_dir: &Path) -> anyhow::Result<()> {
    let mut command = std::process::Command::new(cargo);
    command.arg("build");
    match exe_dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(profile) => {
            command.args(["--profile", profile]);
        }
    }
    command.args(["-p", SERVER, "-p", CLIENT]);
    if let Some(target_dir) = exe_dir.parent() {
        command.arg("--target-dir").arg(target_dir);
    }
    if let Some(manifest_dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        command
            .arg("--manifest-path")
            .arg(Path::new(&manifest_dir).join("Cargo.toml"));
    }
    let shown: Vec<String> = command
        .get_args()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    println!("building {SERVER} and {CLIENT}: cargo {}", shown.join(" "));
    let status = command
        .status()
        .with_context(|| format!("cannot run {}", Path::new(cargo).display()))?;
    if !status.success() {
        bail!("cargo build of {SERVER} and {CLIENT} failed ({status})");
    }
    Ok(())
}
