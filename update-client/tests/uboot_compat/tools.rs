//! The real tools (`mkenvimage`, `fw_printenv`, `fw_setenv`) and environments in temporary
//! files, for the compatibility tests of `uboot_compat.rs`.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use update_client::bootloader::uboot::{UbootEnvironment, Variables};
use update_client::config::RedundantFlags;

pub type Vars = BTreeMap<String, String>;

pub fn run(program: &str, args: &[&str]) -> Output {
    match Command::new(program).args(args).output() {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "{program} is not installed: install the Debian packages u-boot-tools \
             (mkenvimage) and libubootenv-tool (fw_printenv, fw_setenv); .ci/run does"
        ),
        Err(e) => panic!("running {program}: {e}"),
    }
}

pub fn run_ok(program: &str, args: &[&str]) -> String {
    let output = run(program, args);
    assert!(
        output.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

pub fn vars(pairs: &[(&str, &str)]) -> Vars {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Values with the characters boot scripts use: spaces, `=`, `;`, quotes, `${}`.
pub fn initial() -> Vars {
    vars(&[
        ("altbootcmd", "run ota_swap; saveenv; run ota_boot"),
        (
            "bootargs",
            "console=ttyS0 root=/dev/mmcblk0p2 ota.slot=${ota_slot}",
        ),
        ("bootcount", "0"),
        ("bootlimit", "3"),
        ("ota_slot", "A"),
        ("quoted", "if test \"${a}\" = \"b\"; then echo x=y; fi"),
        ("upgrade_available", "0"),
    ])
}

/// An environment in a temporary directory, described by an `fw_env.config`.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    /// (file, offset) of each copy.
    pub copies: Vec<(PathBuf, u64)>,
    pub size: u64,
}

pub enum Layout {
    Single { offset: u64 },
    OneFile { offset: u64 },
    TwoFiles,
}

impl Env {
    /// Made with mkenvimage (`-r` for a redundant copy, then duplicated), inside files
    /// otherwise filled with 0xff.
    pub fn new(size: u64, layout: Layout, mkenvimage_extra: &[&str]) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| dir.path().join(name);
        let copies = match layout {
            Layout::Single { offset } => vec![(file("env.img"), offset)],
            Layout::OneFile { offset } => {
                vec![(file("env.img"), offset), (file("env.img"), offset + size)]
            }
            Layout::TwoFiles => vec![(file("env1.img"), 0), (file("env2.img"), 0)],
        };
        let image = mkenvimage(
            dir.path(),
            size,
            copies.len() == 2,
            mkenvimage_extra,
            &initial(),
        );
        for (path, offset) in &copies {
            let mut bytes = fs::read(path).unwrap_or_default();
            let end = (offset + size) as usize;
            if bytes.len() < end + 0x100 {
                bytes.resize(end + 0x100, 0xff);
            }
            bytes[*offset as usize..end].copy_from_slice(&image);
            fs::write(path, bytes).unwrap();
        }
        let config = file("fw_env.config");
        let lines: String = copies
            .iter()
            .map(|(path, offset)| format!("{} {offset:#x} {size:#x}\n", path.display()))
            .collect();
        fs::write(&config, format!("# test environment\n{lines}")).unwrap();
        Env {
            dir,
            config,
            copies,
            size,
        }
    }

    pub fn rust(&self, flags: RedundantFlags) -> UbootEnvironment {
        UbootEnvironment::open(&self.config, flags).unwrap()
    }

    pub fn rust_read(&self) -> Vars {
        to_strings(&self.rust(RedundantFlags::Counter).read().unwrap())
    }

    pub fn rust_set(&self, flags: RedundantFlags, pairs: &[(&str, &str)]) {
        self.rust(flags)
            .update(|variables| {
                pairs
                    .iter()
                    .try_for_each(|(name, value)| variables.set(name, value))
            })
            .unwrap();
    }

    pub fn fw_printenv(&self) -> Vars {
        run_ok("fw_printenv", &["-c", self.config.to_str().unwrap()])
            .lines()
            .map(|line| {
                let (name, value) = line.split_once('=').unwrap();
                (name.to_string(), value.to_string())
            })
            .collect()
    }

    pub fn fw_setenv(&self, name: &str, value: &str) {
        run_ok(
            "fw_setenv",
            &["-c", self.config.to_str().unwrap(), name, value],
        );
    }

    pub fn fw_setenv_script(&self, lines: &str) {
        let script = self.dir.path().join("script.txt");
        fs::write(&script, lines).unwrap();
        let (config, script) = (self.config.to_str().unwrap(), script.to_str().unwrap());
        run_ok("fw_setenv", &["-c", config, "-s", script]);
    }

    pub fn copy_bytes(&self, copy: usize) -> Vec<u8> {
        let (path, offset) = &self.copies[copy];
        fs::read(path).unwrap()[*offset as usize..][..self.size as usize].to_vec()
    }

    pub fn flags(&self) -> (u8, u8) {
        (self.copy_bytes(0)[4], self.copy_bytes(1)[4])
    }

    pub fn corrupt(&self, copy: usize) {
        let (path, offset) = &self.copies[copy];
        let mut bytes = fs::read(path).unwrap();
        for at in [10, 11, 200] {
            bytes[*offset as usize + at] ^= 0x5a;
        }
        fs::write(path, bytes).unwrap();
    }
}

pub fn mkenvimage(dir: &Path, size: u64, redundant: bool, extra: &[&str], vars: &Vars) -> Vec<u8> {
    let input = dir.join("input.txt");
    let output = dir.join("mkenvimage.bin");
    let text: String = vars.iter().map(|(n, v)| format!("{n}={v}\n")).collect();
    fs::write(&input, text).unwrap();
    let size = format!("{size:#x}");
    let mut args = vec!["-s", &size];
    if redundant {
        args.push("-r");
    }
    args.extend_from_slice(extra);
    args.extend(["-o", output.to_str().unwrap(), input.to_str().unwrap()]);
    run_ok("mkenvimage", &args);
    fs::read(output).unwrap()
}

pub fn to_strings(variables: &Variables) -> Vars {
    variables
        .iter()
        .map(|(n, v)| {
            (
                String::from_utf8(n.to_vec()).unwrap(),
                String::from_utf8(v.to_vec()).unwrap(),
            )
        })
        .collect()
}

pub fn layouts() -> Vec<(&'static str, u64, Layout)> {
    vec![
        ("single 0x4000", 0x4000, Layout::Single { offset: 0 }),
        (
            "single 0x20000 at 0x3000",
            0x20000,
            Layout::Single { offset: 0x3000 },
        ),
        ("redundant 0x4000", 0x4000, Layout::OneFile { offset: 0 }),
        (
            "redundant 0x20000 at 0x10000",
            0x20000,
            Layout::OneFile { offset: 0x10000 },
        ),
        ("redundant in two files", 0x4000, Layout::TwoFiles),
    ]
}
