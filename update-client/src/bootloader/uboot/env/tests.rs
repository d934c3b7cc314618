//! The copy format: round trips, CRC coverage, padding, and what readers must tolerate.

use proptest::prelude::*;

use super::*;

fn variables(pairs: &[(&str, &str)]) -> Variables {
    let mut variables = Variables::new();
    for (name, value) in pairs {
        variables.set(name, value).unwrap();
    }
    variables
}

/// A copy built byte by byte, as another writer would: `data` then `padding`.
fn foreign_copy(size: usize, flag: Option<u8>, data: &[u8], padding: u8) -> Vec<u8> {
    let mut image = vec![0; 4];
    image.extend(flag);
    image.extend_from_slice(data);
    image.resize(size, padding);
    let crc = crc32fast::hash(&image[header_len(flag.is_some())..]);
    image[..4].copy_from_slice(&crc.to_le_bytes());
    image
}

#[test]
fn encodes_sorted_entries_an_end_marker_and_zero_padding() {
    let copy = EnvCopy {
        flag: Some(7),
        variables: variables(&[("ota_slot", "B"), ("bootcount", "0")]),
    };
    let image = copy.encode(64).unwrap();
    assert_eq!(image.len(), 64);
    assert_eq!(image[4], 7);
    let data = b"bootcount=0\0ota_slot=B\0\0";
    assert_eq!(&image[5..5 + data.len()], data);
    assert!(image[5 + data.len()..].iter().all(|&b| b == 0));
    let crc = u32::from_le_bytes(image[..4].try_into().unwrap());
    assert_eq!(
        crc,
        crc32fast::hash(&image[5..]),
        "CRC over the whole data area"
    );
    assert_eq!(EnvCopy::decode(&image, true).unwrap(), copy);
}

#[test]
fn reads_copies_whatever_their_padding() {
    let data = b"bootlimit=3\0ota_slot=A\0\0";
    let expected = variables(&[("bootlimit", "3"), ("ota_slot", "A")]);
    for padding in [0x00, 0xff, b'x'] {
        for flag in [None, Some(1)] {
            let image = foreign_copy(0x4000, flag, data, padding);
            let copy = EnvCopy::decode(&image, flag.is_some()).unwrap();
            assert_eq!(copy.variables, expected);
            assert_eq!(copy.flag, flag);
        }
    }
    // libubootenv leaves stale entries after the end marker: they are padding too.
    let stale = foreign_copy(256, None, b"a=1\0\0old=stale\0\0", 0xff);
    assert_eq!(
        EnvCopy::decode(&stale, false).unwrap().variables,
        variables(&[("a", "1")])
    );
}

#[test]
fn the_crc_covers_the_padding_but_not_the_flag() {
    let image = foreign_copy(128, Some(1), b"a=1\0\0", 0xff);
    let mut padding_changed = image.clone();
    padding_changed[100] ^= 0x01;
    assert!(matches!(
        EnvCopy::decode(&padding_changed, true),
        Err(CopyDefect::BadCrc { .. })
    ));
    let mut flag_changed = image.clone();
    flag_changed[4] = 9;
    assert_eq!(EnvCopy::decode(&flag_changed, true).unwrap().flag, Some(9));
}

#[test]
fn the_empty_environment_is_a_lone_end_marker() {
    let empty = EnvCopy {
        flag: None,
        variables: Variables::new(),
    };
    let image = empty.encode(16).unwrap();
    assert_eq!(&image[4..], &[0; 12]);
    assert!(EnvCopy::decode(&image, false).unwrap().variables.is_empty());
}

#[test]
fn readers_skip_what_u_boot_skips_and_keep_the_last_duplicate() {
    let image = foreign_copy(128, None, b"a=1\0junk\0=nameless\0a=2\0b=\0c=x=y\0\0", 0xff);
    assert_eq!(
        EnvCopy::decode(&image, false).unwrap().variables,
        variables(&[("a", "2"), ("b", ""), ("c", "x=y")])
    );
}

#[test]
fn a_copy_without_an_end_marker_or_too_small_is_defective() {
    let mut image = vec![0u8; 32];
    image[4..].fill(b'a');
    let crc = crc32fast::hash(&image[4..]);
    image[..4].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(
        EnvCopy::decode(&image, false),
        Err(CopyDefect::Unterminated)
    );
    assert_eq!(EnvCopy::decode(&[0; 5], true), Err(CopyDefect::TooSmall));
}

#[test]
fn variables_that_do_not_fit_are_refused_and_an_exact_fit_is_not() {
    let copy = EnvCopy {
        flag: Some(1),
        variables: variables(&[("name", "value")]),
    };
    // header 5 + "name=value\0" 11 + end marker 1
    assert!(copy.encode(17).is_ok());
    assert!(matches!(
        copy.encode(16),
        Err(UbootError::TooLarge {
            needed: 12,
            room: 11
        })
    ));
}

#[test]
fn names_and_values_that_would_corrupt_the_format_are_refused() {
    let mut variables = Variables::new();
    assert!(variables.set("", "x").is_err());
    assert!(variables.set("a=b", "x").is_err());
    assert!(variables.set("a\0", "x").is_err());
    assert!(variables.set("a", "x\0y").is_err());
    assert!(variables.is_empty());
    variables.set("bootcmd", "run a; run b\n").unwrap();
    assert_eq!(variables.get("bootcmd"), Some(&b"run a; run b\n"[..]));
}

fn any_variables() -> impl Strategy<Value = Variables> {
    let name = proptest::collection::vec(
        any::<u8>().prop_filter("no NUL or =", |&b| b != 0 && b != b'='),
        1..12,
    );
    let value = proptest::collection::vec(1u8..=255, 0..40);
    proptest::collection::btree_map(name, value, 0..20).prop_map(|map| {
        let mut variables = Variables::new();
        for (name, value) in map {
            variables.set(name, value).unwrap();
        }
        variables
    })
}

proptest! {
    #[test]
    fn decode_after_encode_is_the_identity(
        variables in any_variables(),
        flag in proptest::option::of(any::<u8>()),
        padding in any::<u8>(),
    ) {
        let copy = EnvCopy { flag, variables };
        let image = copy.encode(0x1000).unwrap();
        prop_assert_eq!(&EnvCopy::decode(&image, flag.is_some()).unwrap(), &copy);
        // The same entries padded by another writer read the same.
        let header = header_len(flag.is_some());
        let used = copy.variables.encoded_len();
        let repadded = foreign_copy(0x1000, flag, &image[header..header + used], padding);
        prop_assert_eq!(&EnvCopy::decode(&repadded, flag.is_some()).unwrap(), &copy);
    }
}
