//! `ota delta create|apply|info` and `ota release add`'s table, through the binary: exit
//! statuses, messages, and files written only when everything checked out.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use update_core::hash::sha256_hex;

fn ota(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ota"))
        .args(args)
        .env_remove("OTA_ADMIN_TOKEN")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Two images sharing most of their bytes.
fn image_pair(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let mut old = vec![0u8; 600_000];
    StdRng::seed_from_u64(1).fill_bytes(&mut old);
    let mut new = old.clone();
    new[1000..1100].fill(7);
    new.splice(
        300_000..300_000,
        b"inserted in the new release".iter().copied(),
    );
    std::fs::write(dir.join("old.img"), &old).unwrap();
    std::fs::write(dir.join("new.img"), &new).unwrap();
    (old, new)
}

#[test]
fn create_info_and_apply_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = image_pair(dir.path());
    let (old_path, new_path) = (dir.path().join("old.img"), dir.path().join("new.img"));
    let delta = dir.path().join("new.delta");

    let created = ota(&[
        "delta",
        "create",
        arg(&old_path),
        arg(&new_path),
        arg(&delta),
    ]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let stdout = text(&created.stdout);
    assert!(stdout.contains("algorithm"), "{stdout}");
    assert!(stdout.contains(&std::fs::metadata(&delta).unwrap().len().to_string()));

    let info = ota(&["delta", "info", arg(&delta)]);
    assert!(info.status.success(), "{}", text(&info.stderr));
    let stdout = text(&info.stdout);
    assert!(stdout.contains(&sha256_hex(&old)), "{stdout}");
    assert!(stdout.contains(&sha256_hex(&new)), "{stdout}");
    assert!(stdout.contains(&format!("{} bytes", new.len())), "{stdout}");

    let out = dir.path().join("rebuilt.img");
    let applied = ota(&["delta", "apply", arg(&old_path), arg(&delta), arg(&out)]);
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    assert!(std::fs::read(&out).unwrap() == new);
    assert!(text(&applied.stdout).contains(&sha256_hex(&new)));
}

#[test]
fn a_wrong_base_or_a_broken_delta_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    image_pair(dir.path());
    let (old_path, new_path) = (dir.path().join("old.img"), dir.path().join("new.img"));
    let delta = dir.path().join("new.delta");
    let created = ota(&[
        "delta",
        "create",
        arg(&old_path),
        arg(&new_path),
        arg(&delta),
    ]);
    assert!(created.status.success(), "{}", text(&created.stderr));

    let out = dir.path().join("out.img");
    let wrong = ota(&["delta", "apply", arg(&new_path), arg(&delta), arg(&out)]);
    assert_eq!(wrong.status.code(), Some(1));
    let stderr = text(&wrong.stderr);
    assert!(stderr.contains("is not this delta's base"), "{stderr}");
    assert!(stderr.contains(arg(&new_path)), "{stderr}");
    assert!(!out.exists());

    let garbage = dir.path().join("garbage.delta");
    std::fs::write(&garbage, b"this is not a delta at all, just some text").unwrap();
    for command in [
        vec!["delta", "apply", arg(&old_path), arg(&garbage), arg(&out)],
        vec!["delta", "info", arg(&garbage)],
    ] {
        let refused = ota(&command);
        assert_eq!(refused.status.code(), Some(1));
        assert!(
            text(&refused.stderr).contains("not a usable delta"),
            "{}",
            text(&refused.stderr)
        );
    }
    assert!(!out.exists());
    let leftovers: Vec<String> = common::entries(dir.path())
        .into_iter()
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let missing = ota(&[
        "delta",
        "create",
        "/nonexistent/old",
        arg(&new_path),
        arg(&out),
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("/nonexistent/old"));
}

#[test]
fn release_add_prints_a_table_of_the_signed_forms() {
    let keys = common::make_keys();
    let repo = keys.dir.path().join("repo");
    common::init_repo(&keys, &repo);
    let image = keys.dir.path().join("fw.img");
    common::write_image(&image, 300_000, 4);
    let output = ota(&[
        "release",
        "add",
        arg(&image),
        "--repo",
        arg(&repo),
        "--key",
        arg(&keys.targets),
        "--version",
        "1.0.0",
        "--class",
        "camera",
        "--hardware",
        "cam-v2",
        "--zstd-level",
        "3",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let header = stdout
        .lines()
        .find(|line| line.starts_with("TARGET"))
        .unwrap_or_else(|| panic!("{stdout}"));
    for column in ["KIND", "BASE", "SIZE", "RATIO", "TIME"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("camera-1.0.0.img.zst") && line.contains("zstd")),
        "{stdout}"
    );

    let refused = ota(&[
        "release",
        "add",
        arg(&image),
        "--repo",
        arg(&repo),
        "--key",
        arg(&keys.targets),
        "--version",
        "1.1.0",
        "--class",
        "camera",
        "--hardware",
        "cam-v2",
        "--deltas",
        "2",
        "--no-deltas",
    ]);
    assert_eq!(refused.status.code(), Some(1));
}
