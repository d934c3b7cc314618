//! The on-disk format of one copy of a U-Boot environment.
//!
//! A copy of `size` bytes is a little-endian CRC-32 (IEEE), in a redundant environment a
//! flag byte, then the data area: `name=value\0` entries ended by an extra `\0`, then
//! padding up to `size`. The CRC covers the whole data area, padding included, and not
//! the flag byte. Writers pad differently (mkenvimage 0xff, U-Boot 0x00, libubootenv
//! leaves stale bytes), so any padding is accepted; this writer pads with 0x00.

use std::collections::BTreeMap;
use std::fmt;

use super::error::UbootError;

/// Largest environment copy read or written: U-Boot environments are kilobytes.
pub const MAX_ENV_SIZE: usize = 1024 * 1024;
const CRC_LEN: usize = 4;

/// Bytes before the data area.
pub fn header_len(redundant: bool) -> usize {
    if redundant { CRC_LEN + 1 } else { CRC_LEN }
}

/// The variables of an environment. Names and values are bytes, so variables this agent
/// does not know survive a rewrite exactly; they are kept sorted by name, as U-Boot and
/// libubootenv write them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Variables(BTreeMap<Vec<u8>, Vec<u8>>);

impl Variables {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name.as_bytes()).map(Vec::as_slice)
    }

    /// Sets a variable. Names are non-empty and hold neither `=` nor NUL; values hold no
    /// NUL, which ends an entry.
    pub fn set(
        &mut self,
        name: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<(), UbootError> {
        let (name, value) = (name.as_ref(), value.as_ref());
        let invalid = |reason| UbootError::InvalidVariable {
            name: String::from_utf8_lossy(name).into_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("empty name"));
        }
        if name.contains(&b'=') {
            return Err(invalid("a name cannot contain '='"));
        }
        if name.contains(&0) || value.contains(&0) {
            return Err(invalid("names and values cannot contain NUL bytes"));
        }
        self.0.insert(name.to_vec(), value.to_vec());
        Ok(())
    }

    pub fn remove(&mut self, name: &str) -> Option<Vec<u8>> {
        self.0.remove(name.as_bytes())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.0.iter().map(|(n, v)| (n.as_slice(), v.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries, end marker included, as they sit in the data area.
    fn encoded_len(&self) -> usize {
        self.0
            .iter()
            .map(|(n, v)| n.len() + v.len() + 2)
            .sum::<usize>()
            + 1
    }

    /// Reads the entries at the start of a data area. Entries without `=` or with an
    /// empty name are skipped and a repeated name keeps its last value, as U-Boot and
    /// libubootenv do.
    fn parse(data: &[u8]) -> Result<Variables, CopyDefect> {
        let mut variables = Variables::new();
        let mut rest = data;
        loop {
            let end = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or(CopyDefect::Unterminated)?;
            let entry = &rest[..end];
            if entry.is_empty() {
                return Ok(variables);
            }
            if let Some(equals) = entry.iter().position(|&b| b == b'=') {
                if equals > 0 {
                    let (name, value) = (&entry[..equals], &entry[equals + 1..]);
                    variables.0.insert(name.to_vec(), value.to_vec());
                }
            }
            rest = &rest[end + 1..];
        }
    }
}

/// Why a copy read from the device cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CopyDefect {
    BadCrc {
        stored: u32,
        computed: u32,
    },
    /// The CRC matches but no end-of-environment marker was found.
    Unterminated,
    TooSmall,
}

impl fmt::Display for CopyDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CopyDefect::BadCrc { stored, computed } => write!(
                f,
                "CRC mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            CopyDefect::Unterminated => f.write_str("no end-of-environment marker"),
            CopyDefect::TooSmall => f.write_str("too small to be an environment"),
        }
    }
}

/// One decoded copy: its flag byte (redundant environments only) and its variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvCopy {
    pub flag: Option<u8>,
    pub variables: Variables,
}

impl EnvCopy {
    /// Decodes the `size` bytes of a copy; `redundant` says whether it has a flag byte.
    pub fn decode(image: &[u8], redundant: bool) -> Result<EnvCopy, CopyDefect> {
        let header = header_len(redundant);
        if image.len() <= header {
            return Err(CopyDefect::TooSmall);
        }
        let mut stored = [0u8; CRC_LEN];
        stored.copy_from_slice(&image[..CRC_LEN]);
        let stored = u32::from_le_bytes(stored);
        let data = &image[header..];
        let computed = crc32fast::hash(data);
        if stored != computed {
            return Err(CopyDefect::BadCrc { stored, computed });
        }
        Ok(EnvCopy {
            flag: redundant.then(|| image[CRC_LEN]),
            variables: Variables::parse(data)?,
        })
    }

    /// The `size` bytes of this copy; a flag byte makes it a redundant copy.
    pub fn encode(&self, size: usize) -> Result<Vec<u8>, UbootError> {
        let header = header_len(self.flag.is_some());
        let room = size.saturating_sub(header);
        let needed = self.variables.encoded_len();
        if needed > room {
            return Err(UbootError::TooLarge { needed, room });
        }
        let mut image = Vec::with_capacity(size);
        image.extend_from_slice(&[0; CRC_LEN]);
        image.extend(self.flag);
        for (name, value) in self.variables.iter() {
            image.extend_from_slice(name);
            image.push(b'=');
            image.extend_from_slice(value);
            image.push(0);
        }
        // The end marker and the padding are both zeros.
        image.resize(size, 0);
        let crc = crc32fast::hash(&image[header..]);
        image[..CRC_LEN].copy_from_slice(&crc.to_le_bytes());
        Ok(image)
    }
}

#[cfg(test)]
mod tests;
