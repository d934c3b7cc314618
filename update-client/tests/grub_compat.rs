//! The GRUB backend against GRUB's own tools: `grub-editenv` (package grub-common) for
//! the block format and the agent's writes, `grub-script-check` and `grub-emu` (package
//! grub-emu, in `emu`) for the grub.cfg fragment of docs/grub.md. CI installs both; a
//! missing tool fails the test with the package to install.

#[path = "grub_compat/emu.rs"]
mod emu;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use update_client::bootloader::Bootloader;
use update_client::bootloader::grub::{EnvError, GrubBootloader, GrubEnv};
use update_client::config::GrubConfig;
use update_core::api::Slot;

/// Runs `program` and returns its output; a missing program fails with what to install.
fn run(program: &str, package: &str, args: &[&str]) -> Output {
    match Command::new(program).args(args).output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!(
                "{program} is not installed: install the Debian package {package} (.ci/run does)"
            )
        }
        Err(e) => panic!("running {program}: {e}"),
    }
}

fn editenv(file: &Path, args: &[&str]) -> Output {
    let file = file.to_str().unwrap();
    let args: Vec<&str> = [file].into_iter().chain(args.iter().copied()).collect();
    run("grub-editenv", "grub-common", &args)
}

fn editenv_ok(file: &Path, args: &[&str]) {
    let output = editenv(file, args);
    assert!(
        output.status.success(),
        "grub-editenv {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn listed(file: &Path) -> String {
    let output = editenv(file, &["list"]);
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

fn created(dir: &Path) -> PathBuf {
    let file = dir.join("grubenv");
    editenv_ok(&file, &["create"]);
    file
}

const TRICKY: [(&str, &str); 4] = [
    ("plain", "A B"),
    ("backslashes", "C:\\dir\\\\x\\"),
    ("newlines", "first\nsecond\\\n\nthird"),
    ("equals", "a=b==c #not a comment"),
];

#[test]
fn blocks_are_byte_identical_to_grub_editenv_create_set_and_unset() {
    let dir = tempfile::tempdir().unwrap();
    let file = created(dir.path());
    let mut env = GrubEnv::default();
    assert_eq!(env.encode().unwrap(), fs::read(&file).unwrap());
    for (name, value) in TRICKY {
        editenv_ok(&file, &["set", &format!("{name}={value}")]);
        env.set(name, value).unwrap();
        assert_eq!(
            env.encode().unwrap(),
            fs::read(&file).unwrap(),
            "set {name}"
        );
    }
    // Shorter and longer values in place, then removals.
    for (name, value) in [
        ("backslashes", "x"),
        ("plain", "a much longer value than before"),
    ] {
        editenv_ok(&file, &["set", &format!("{name}={value}")]);
        env.set(name, value).unwrap();
        assert_eq!(
            env.encode().unwrap(),
            fs::read(&file).unwrap(),
            "reset {name}"
        );
    }
    for name in ["plain", "newlines"] {
        editenv_ok(&file, &["unset", name]);
        env.unset(name);
        assert_eq!(
            env.encode().unwrap(),
            fs::read(&file).unwrap(),
            "unset {name}"
        );
    }
}

#[test]
fn what_rust_writes_grub_editenv_lists() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grubenv");
    let mut env = GrubEnv::default();
    let mut expected = String::new();
    for (name, value) in TRICKY {
        env.set(name, value).unwrap();
        expected.push_str(&format!("{name}={value}\n"));
    }
    fs::write(&file, env.encode().unwrap()).unwrap();
    assert_eq!(listed(&file), expected);
    // grub-editenv can go on editing what Rust wrote.
    editenv_ok(&file, &["set", "added=1"]);
    assert_eq!(listed(&file), expected + "added=1\n");
}

#[test]
fn what_grub_editenv_writes_rust_reads() {
    let dir = tempfile::tempdir().unwrap();
    let file = created(dir.path());
    let sets: Vec<String> = TRICKY.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let mut args = vec!["set"];
    args.extend(sets.iter().map(String::as_str));
    editenv_ok(&file, &args);
    editenv_ok(&file, &["unset", "equals"]);
    let env = GrubEnv::parse(&fs::read(&file).unwrap()).unwrap();
    assert_eq!(env.variables().collect::<Vec<_>>(), TRICKY[..3].to_vec());
}

#[test]
fn a_full_block_is_full_at_the_same_byte_for_both() {
    let dir = tempfile::tempdir().unwrap();
    let file = created(dir.path());
    let empty = fs::read(&file).unwrap();
    // Header, create's comment and "V=\n" leave this many bytes for the value.
    let room = 1024 - 25 - 69 - 3;
    for (value, fits) in [
        ("x".repeat(room), true),
        ("x".repeat(room + 1), false),
        (format!("{}\\", "x".repeat(room - 1)), false),
        (format!("{}\n", "x".repeat(room - 2)), true),
    ] {
        fs::write(&file, &empty).unwrap();
        let output = editenv(&file, &["set", &format!("V={value}")]);
        assert_eq!(
            output.status.success(),
            fits,
            "grub-editenv, {} bytes",
            value.len()
        );
        let mut env = GrubEnv::default();
        env.set("V", &value).unwrap();
        match env.encode() {
            Ok(block) => {
                assert!(fits);
                assert_eq!(block, fs::read(&file).unwrap());
            }
            Err(EnvError::TooLarge { .. }) => {
                assert!(!fits);
                assert!(String::from_utf8_lossy(&output.stderr).contains("too small"));
                assert_eq!(fs::read(&file).unwrap(), empty, "grub-editenv left it");
            }
            Err(other) => panic!("{other}"),
        }
    }
}

struct Device {
    _dir: tempfile::TempDir,
    config: GrubConfig,
}

impl Device {
    fn new(boot_limit: u32) -> Device {
        let dir = tempfile::tempdir().unwrap();
        let config = GrubConfig {
            grubenv: created(dir.path()),
            cmdline: dir.path().join("cmdline"),
            boot_limit,
        };
        Device { _dir: dir, config }
    }

    fn booted(&self, slot: Slot) {
        fs::write(&self.config.cmdline, format!("quiet ota.slot={slot}\n")).unwrap();
    }

    fn list(&self) -> String {
        listed(&self.config.grubenv)
    }
}

#[test]
fn the_backend_steps_as_grub_editenv_lists_them() {
    let device = Device::new(2);
    editenv_ok(&device.config.grubenv, &["set", "saved_entry=0"]);
    device.booted(Slot::A);
    let mut boot = GrubBootloader::new(&device.config).unwrap();

    boot.try_slot_once(Slot::B).unwrap();
    assert_eq!(
        device.list(),
        "saved_entry=0\nORDER=B A\nA_OK=1\nB_OK=1\nB_TRY=0\nBOOT_LIMIT=2\n"
    );
    // GRUB's save_env counts two tries (the second one after a crash).
    editenv_ok(&device.config.grubenv, &["set", "B_TRY=1"]);
    editenv_ok(&device.config.grubenv, &["set", "B_TRY=2"]);
    device.booted(Slot::B);
    assert_eq!(boot.primary_slot().unwrap(), Slot::A, "out of tries");
    boot.mark_good().unwrap();
    assert_eq!(
        device.list(),
        "saved_entry=0\nORDER=B A\nA_OK=1\nB_OK=1\nBOOT_LIMIT=2\n"
    );
    assert_eq!(boot.primary_slot().unwrap(), Slot::B);

    boot.try_slot_once(Slot::A).unwrap();
    editenv_ok(&device.config.grubenv, &["set", "A_TRY=1"]);
    device.booted(Slot::A);
    boot.roll_back_to(Slot::B).unwrap();
    assert_eq!(
        device.list(),
        "saved_entry=0\nORDER=B A\nA_OK=0\nB_OK=1\nBOOT_LIMIT=2\nA_TRY=1\n"
    );
    assert_eq!(boot.primary_slot().unwrap(), Slot::B);
}

#[test]
fn a_backend_write_that_does_not_fit_leaves_the_file_as_grub_editenv_made_it() {
    let device = Device::new(1);
    editenv_ok(
        &device.config.grubenv,
        &["set", &format!("filler={}", "x".repeat(880))],
    );
    let before = fs::read(&device.config.grubenv).unwrap();
    let mut boot = GrubBootloader::new(&device.config).unwrap();
    let error = boot.try_slot_once(Slot::B).unwrap_err().to_string();
    assert!(error.contains("not written"), "{error}");
    assert_eq!(fs::read(&device.config.grubenv).unwrap(), before);
    assert!(device.list().starts_with("filler=x"));
}
