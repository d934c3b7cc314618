//! `fw_env.config` parsing: the columns, number formats and checks libubootenv applies.

use super::*;

fn parse(text: &str) -> Result<EnvLayout, UbootError> {
    EnvLayout::parse(text, Path::new("/etc/fw_env.config"))
}

#[test]
fn one_line_is_single_two_lines_are_redundant() {
    let single = parse("# comment\n\n/dev/mmcblk0 0x3e0000 0x4000\n").unwrap();
    assert!(!single.is_redundant());
    assert_eq!(single.size(), 0x4000);
    assert_eq!(
        single.copies()[0],
        CopyLocation {
            device: "/dev/mmcblk0".into(),
            offset: 0x3e0000,
            size: 0x4000,
            sector_size: None,
            sectors: None,
            mtd_lock: true,
        }
    );
    let redundant = parse(
        "/dev/mtd1 0x0 0x20000 0x10000 2   # env\n  # other\n/dev/mtd2 0 0x20000 10000 2 1\n",
    )
    .unwrap();
    assert!(redundant.is_redundant());
    let second = &redundant.copies()[1];
    assert_eq!(second.device, PathBuf::from("/dev/mtd2"));
    assert_eq!(second.sector_size, Some(0x10000));
    assert_eq!(second.sectors, Some(2));
    assert!(!second.mtd_lock);
    assert!(redundant.copies()[0].mtd_lock);
}

#[test]
fn numbers_read_as_the_c_tools_read_them() {
    let offset = |text: &str| parse(&format!("/d {text} 4000")).unwrap().copies()[0].offset;
    assert_eq!(offset("0x4000"), 0x4000);
    assert_eq!(offset("16384"), 16384);
    assert_eq!(offset("010"), 8, "leading zero: octal, as %lli");
    assert_eq!(offset("0"), 0);
    assert_eq!(offset("-0x4000"), -0x4000);
    // SIZE is %x: hexadecimal even without 0x.
    assert_eq!(parse("/d 0 4000").unwrap().size(), 0x4000);
    assert_eq!(parse("/d 0 0X4000").unwrap().size(), 0x4000);
}

#[test]
fn relative_devices_are_relative_to_the_config_file() {
    let layout = EnvLayout::parse("env.img 0 0x4000", Path::new("/etc/ota/fw_env.config")).unwrap();
    assert_eq!(layout.copies()[0].device, PathBuf::from("/etc/ota/env.img"));
}

#[test]
fn malformed_files_are_refused_with_the_line() {
    for (text, expected) in [
        ("", "no environment lines"),
        ("/d 0x0", "line 1: expected DEVICE OFFSET SIZE"),
        ("# c\n/d zero 0x4000", "line 2: OFFSET \"zero\""),
        ("/d 0 16k", "SIZE \"16k\""),
        ("/d 0 0x4000 0x1000 1 0 extra", "too many fields"),
        (
            "/d 0 0x4000\n/d 0x4000 0x4000\n/d 0x8000 0x4000",
            "more than two",
        ),
        ("/d 0 0x4000\n/e 0 0x2000", "same size"),
        ("/d 0 0x4", "out of range"),
        ("/d 0 0x100001", "out of range"),
        ("/d 0 0x10000000000000000", "SIZE"),
        ("/d 99999999999999999999 0x4000", "OFFSET"),
    ] {
        let error = parse(text).unwrap_err().to_string();
        assert!(error.contains(expected), "{text:?}: {error}");
        assert!(error.contains("/etc/fw_env.config"), "{error}");
    }
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = EnvLayout::load(&dir.path().join("fw_env.config"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("no such file"), "{error}");
}
