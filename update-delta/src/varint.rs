//! LEB128 varints (unsigned and zigzag-signed) for the control stream and chunk headers,
//! decoded with every length checked: a hostile delta gets an error, never a panic.

use std::io::{self, Read};

use crate::ApplyError;

/// The most bytes a u64 varint takes.
pub const MAX_VARINT_LEN: usize = 10;

pub fn put_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub fn put_i64(out: &mut Vec<u8>, value: i64) {
    put_u64(out, ((value << 1) ^ (value >> 63)) as u64);
}

/// Reads a varint from the front of `bytes`, advancing it.
pub fn take_u64(bytes: &mut &[u8]) -> Result<u64, ApplyError> {
    let mut value = 0u64;
    for (index, &byte) in bytes.iter().enumerate().take(MAX_VARINT_LEN) {
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            if index == MAX_VARINT_LEN - 1 && byte > 1 {
                break;
            }
            *bytes = &bytes[index + 1..];
            return Ok(value);
        }
    }
    Err(ApplyError::Corrupt(
        "bad varint in the control stream".into(),
    ))
}

pub fn take_i64(bytes: &mut &[u8]) -> Result<i64, ApplyError> {
    let zigzag = take_u64(bytes)?;
    Ok(((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64))
}

/// Reads one varint from a stream (the chunk headers between compressed segments).
pub fn read_u64(input: &mut dyn Read) -> Result<u64, ApplyError> {
    let mut value = 0u64;
    for index in 0..MAX_VARINT_LEN {
        let mut byte = [0u8; 1];
        input
            .read_exact(&mut byte)
            .map_err(|error| match error.kind() {
                io::ErrorKind::UnexpectedEof => ApplyError::Corrupt("the delta ends early".into()),
                _ => ApplyError::ReadDelta(error),
            })?;
        let byte = byte[0];
        if index == MAX_VARINT_LEN - 1 && byte > 1 {
            break;
        }
        value |= u64::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(ApplyError::Corrupt("bad varint in a chunk header".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_extremes_and_rejects_overlong() {
        for value in [0, 1, 127, 128, 300, u64::MAX / 3, u64::MAX] {
            let mut bytes = Vec::new();
            put_u64(&mut bytes, value);
            let mut slice = bytes.as_slice();
            assert_eq!(take_u64(&mut slice).unwrap(), value);
            assert!(slice.is_empty());
            assert_eq!(read_u64(&mut bytes.as_slice()).unwrap(), value);
        }
        for value in [0, -1, 1, i64::MIN, i64::MAX, -300] {
            let mut bytes = Vec::new();
            put_i64(&mut bytes, value);
            assert_eq!(take_i64(&mut bytes.as_slice()).unwrap(), value);
        }
        let overlong = [0xffu8; 11];
        assert!(take_u64(&mut &overlong[..]).is_err());
        assert!(read_u64(&mut &overlong[..]).is_err());
        let too_big = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(take_u64(&mut &too_big[..]).is_err());
        assert!(take_u64(&mut &[0x80u8][..]).is_err());
    }
}
