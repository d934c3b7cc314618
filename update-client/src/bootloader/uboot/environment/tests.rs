//! Reading and writing real files: one copy per write, flag sequences in both modes,
//! torn copies repaired, and refusals that leave the device untouched.

use std::fs;

use super::*;
use crate::bootloader::uboot::CopyLocation;

const SIZE: usize = 0x400;

fn location(device: &Path, offset: i64) -> CopyLocation {
    CopyLocation {
        device: device.to_path_buf(),
        offset,
        size: SIZE,
        sector_size: None,
        sectors: None,
        mtd_lock: true,
    }
}

fn vars(pairs: &[(&str, &str)]) -> Variables {
    let mut variables = Variables::new();
    for (name, value) in pairs {
        variables.set(name, value).unwrap();
    }
    variables
}

fn image(flag: Option<u8>, pairs: &[(&str, &str)]) -> Vec<u8> {
    EnvCopy {
        flag,
        variables: vars(pairs),
    }
    .encode(SIZE)
    .unwrap()
}

/// A redundant environment in one file, both copies as mkenvimage -r + cat make them.
fn redundant(dir: &Path, flags: RedundantFlags) -> (UbootEnvironment, PathBuf) {
    let path = dir.join("env.img");
    let copy = image(Some(1), &[("ota_slot", "A"), ("keep", "me")]);
    fs::write(&path, [copy.clone(), copy].concat()).unwrap();
    let layout = EnvLayout::new(vec![location(&path, 0), location(&path, SIZE as i64)]).unwrap();
    (UbootEnvironment::new(layout, flags), path)
}

fn flags(path: &Path) -> (u8, u8) {
    let bytes = fs::read(path).unwrap();
    (bytes[4], bytes[SIZE + 4])
}

fn set(environment: &UbootEnvironment, name: &str, value: &str) -> Result<(), UbootError> {
    environment.update(|variables| variables.set(name, value))
}

#[test]
fn counter_writes_alternate_copies_with_increasing_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (environment, path) = redundant(dir.path(), RedundantFlags::Counter);
    let mut expected_flags = vec![(1, 1)];
    for round in 0..4 {
        let before = fs::read(&path).unwrap();
        set(&environment, "round", &round.to_string()).unwrap();
        let after = fs::read(&path).unwrap();
        let changed: Vec<bool> = (0..2)
            .map(|copy| before[copy * SIZE..][..SIZE] != after[copy * SIZE..][..SIZE])
            .collect();
        assert_eq!(
            changed.iter().filter(|&&c| c).count(),
            1,
            "one copy per write"
        );
        expected_flags.push(flags(&path));
        let read = environment.read().unwrap();
        assert_eq!(read.get("round"), Some(round.to_string().as_bytes()));
        assert_eq!(read.get("keep"), Some(&b"me"[..]));
    }
    assert_eq!(expected_flags, vec![(1, 1), (1, 2), (3, 2), (3, 4), (5, 4)]);
}

#[test]
fn counter_wraps_from_255_to_0() {
    let dir = tempfile::tempdir().unwrap();
    let (environment, path) = redundant(dir.path(), RedundantFlags::Counter);
    let mut bytes = fs::read(&path).unwrap();
    bytes[SIZE + 4] = 255;
    fs::write(&path, &bytes).unwrap();
    set(&environment, "a", "1").unwrap();
    assert_eq!(flags(&path), (0, 255));
    assert_eq!(environment.read().unwrap().get("a"), Some(&b"1"[..]));
    set(&environment, "a", "2").unwrap();
    assert_eq!(flags(&path), (0, 1));
}

#[test]
fn boolean_writes_the_obsolete_copy_active_then_clears_the_old_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (environment, path) = redundant(dir.path(), RedundantFlags::Boolean);
    set(&environment, "a", "1").unwrap();
    assert_eq!(flags(&path), (0, 1));
    set(&environment, "a", "2").unwrap();
    assert_eq!(flags(&path), (1, 0));
    assert_eq!(environment.read().unwrap().get("a"), Some(&b"2"[..]));
}

#[test]
fn boolean_refuses_flags_no_nor_rule_explains() {
    let dir = tempfile::tempdir().unwrap();
    let (environment, path) = redundant(dir.path(), RedundantFlags::Boolean);
    let mut bytes = fs::read(&path).unwrap();
    (bytes[4], bytes[SIZE + 4]) = (3, 2);
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        environment.read(),
        Err(UbootError::AmbiguousFlags {
            first: 3,
            second: 2
        })
    ));
    assert!(set(&environment, "a", "1").is_err());
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[test]
fn a_torn_copy_is_ignored_and_the_next_write_repairs_it() {
    for torn in [0, 1] {
        let dir = tempfile::tempdir().unwrap();
        let (environment, path) = redundant(dir.path(), RedundantFlags::Counter);
        set(&environment, "a", "new").unwrap(); // copy 2 now current, flags (1, 2)
        let mut bytes = fs::read(&path).unwrap();
        bytes[torn * SIZE + 20] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        let expected = if torn == 1 { None } else { Some(&b"new"[..]) };
        assert_eq!(
            environment.read().unwrap().get("a"),
            expected,
            "torn {torn}"
        );
        let good = bytes[(1 - torn) * SIZE..][..SIZE].to_vec();
        set(&environment, "b", "1").unwrap();
        let after = fs::read(&path).unwrap();
        assert_eq!(
            after[(1 - torn) * SIZE..][..SIZE],
            good,
            "good copy untouched"
        );
        assert!(EnvCopy::decode(&after[torn * SIZE..][..SIZE], true).is_ok());
        assert_eq!(environment.read().unwrap().get("b"), Some(&b"1"[..]));
    }
}

#[test]
fn an_update_that_changes_nothing_writes_nothing_unless_a_copy_needs_repair() {
    let dir = tempfile::tempdir().unwrap();
    let (environment, path) = redundant(dir.path(), RedundantFlags::Counter);
    set(&environment, "ota_slot", "A").unwrap();
    assert_eq!(flags(&path), (1, 1));
    let mut bytes = fs::read(&path).unwrap();
    bytes[SIZE + 20] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    set(&environment, "ota_slot", "A").unwrap();
    assert_eq!(flags(&path), (1, 2), "the torn copy was rewritten");
}

#[test]
fn no_valid_copy_is_an_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (environment, path) = redundant(dir.path(), RedundantFlags::Counter);
    let mut bytes = fs::read(&path).unwrap();
    bytes[10] ^= 1;
    bytes[SIZE + 10] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let error = environment.read().unwrap_err().to_string();
    assert!(
        error.contains("copy 1") && error.contains("copy 2"),
        "{error}"
    );
    assert!(error.contains("CRC mismatch"), "{error}");
    assert!(set(&environment, "a", "1").is_err());
    assert_eq!(fs::read(&path).unwrap(), bytes);

    let single = dir.path().join("single.img");
    fs::write(&single, vec![0xff; SIZE]).unwrap();
    let layout = EnvLayout::new(vec![location(&single, 0)]).unwrap();
    let environment = UbootEnvironment::new(layout, RedundantFlags::Counter);
    assert!(matches!(
        environment.read(),
        Err(UbootError::NoValidCopy { .. })
    ));
}

#[test]
fn a_single_copy_at_an_offset_is_rewritten_in_place_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    let mut disk = vec![0x5a; 0x1000];
    disk[0x800..0x800 + SIZE].copy_from_slice(&image(None, &[("ota_slot", "A")]));
    fs::write(&path, &disk).unwrap();
    let layout = EnvLayout::new(vec![location(&path, 0x800)]).unwrap();
    let environment = UbootEnvironment::new(layout, RedundantFlags::Counter);
    set(&environment, "ota_slot", "B").unwrap();
    let after = fs::read(&path).unwrap();
    assert_eq!(after.len(), disk.len());
    assert_eq!(after[..0x800], disk[..0x800]);
    assert_eq!(after[0x800 + SIZE..], disk[0x800 + SIZE..]);
    assert_eq!(environment.read().unwrap().get("ota_slot"), Some(&b"B"[..]));
}

#[test]
fn copies_in_two_files() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    fs::write(&one, image(Some(4), &[("v", "old")])).unwrap();
    fs::write(&two, image(Some(5), &[("v", "new")])).unwrap();
    let layout = EnvLayout::new(vec![location(&one, 0), location(&two, 0)]).unwrap();
    let environment = UbootEnvironment::new(layout, RedundantFlags::Counter);
    assert_eq!(environment.read().unwrap().get("v"), Some(&b"new"[..]));
    set(&environment, "v", "newer").unwrap();
    assert_eq!(fs::read(&one).unwrap()[4], 6);
    assert_eq!(environment.read().unwrap().get("v"), Some(&b"newer"[..]));
}

#[test]
fn refuses_devices_that_cannot_hold_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.img");
    fs::write(&path, vec![0; SIZE + 10]).unwrap();
    let check = |copies: Vec<CopyLocation>, expected: &str| {
        let layout = EnvLayout::new(copies).unwrap();
        let error = UbootEnvironment::new(layout, RedundantFlags::Counter)
            .read()
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
    };
    check(vec![location(&path, 11)], "does not fit");
    check(vec![location(&path, -1)], "block device");
    check(vec![location(&path, 0), location(&path, 10)], "overlap");
    check(vec![location(&dir.path().join("absent"), 0)], "absent");
    check(vec![location(Path::new("/dev/null"), 0)], "not an MTD");
    assert_eq!(fs::metadata(&path).unwrap().len(), SIZE as u64 + 10);
}

#[test]
fn variables_that_do_not_fit_leave_the_environment_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (environment, path) = redundant(dir.path(), RedundantFlags::Counter);
    let before = fs::read(&path).unwrap();
    let error = set(&environment, "big", &"x".repeat(SIZE)).unwrap_err();
    assert!(matches!(error, UbootError::TooLarge { .. }));
    assert_eq!(fs::read(&path).unwrap(), before);
}
