//! The delta file's fixed header (`docs/delta-format.md`), readable on its own: the client
//! and `ota` check base and result against signed metadata before applying.
//!
//! ```text
//! magic "OTADELTA" | format version u8 (1) | algorithm u8 | reserved u16 (0)
//! base length u64 LE | base sha256 [32] | result length u64 LE | result sha256 [32]
//! apply memory u64 LE | base transform length u32 LE | check [4]
//! ```
//! `check` is the first 4 bytes of the SHA-256 of the 104 bytes before it: a damaged
//! header is refused as such rather than misread.
//! then the base transform section (that many bytes), then the algorithm's body.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use crate::ApplyError;

pub const MAGIC: &[u8; 8] = b"OTADELTA";
pub const FORMAT_VERSION: u8 = 1;
pub const HEADER_LEN: usize = CHECKED_LEN + 4;
/// The header bytes the check covers.
const CHECKED_LEN: usize = 8 + 1 + 1 + 2 + 8 + 32 + 8 + 32 + 8 + 4;

/// How the body encodes the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// bsdiff-class: copies from the base with byte-wise differences added, and literal
    /// bytes, as three zstd streams interleaved in bounded chunks.
    CopyAdd,
    /// zstd's patch mode: the result compressed with the whole base as prefix dictionary.
    /// The device holds the base in memory, so this is only made for small images.
    ZstdPatch,
}

impl Algorithm {
    pub const ALL: [Algorithm; 2] = [Algorithm::CopyAdd, Algorithm::ZstdPatch];

    pub fn id(self) -> u8 {
        match self {
            Algorithm::CopyAdd => 1,
            Algorithm::ZstdPatch => 2,
        }
    }

    pub fn from_id(id: u8) -> Result<Self, ApplyError> {
        Algorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.id() == id)
            .ok_or(ApplyError::UnknownAlgorithm(id))
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::CopyAdd => "copy-add",
            Algorithm::ZstdPatch => "zstd-patch",
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub algorithm: Algorithm,
    pub base_length: u64,
    pub base_sha256: [u8; 32],
    pub result_length: u64,
    pub result_sha256: [u8; 32],
    /// The most memory (bytes) applying this delta allocates: a device whose budget is
    /// smaller refuses it before reading further.
    pub apply_memory: u64,
    /// Length of the base transform section after the header; 0: the base is used as is.
    pub transform_length: u32,
}

impl Header {
    pub fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(HEADER_LEN);
        bytes.extend_from_slice(MAGIC);
        bytes.push(FORMAT_VERSION);
        bytes.push(self.algorithm.id());
        bytes.extend_from_slice(&[0, 0]);
        bytes.extend_from_slice(&self.base_length.to_le_bytes());
        bytes.extend_from_slice(&self.base_sha256);
        bytes.extend_from_slice(&self.result_length.to_le_bytes());
        bytes.extend_from_slice(&self.result_sha256);
        bytes.extend_from_slice(&self.apply_memory.to_le_bytes());
        bytes.extend_from_slice(&self.transform_length.to_le_bytes());
        let check = check(&bytes);
        bytes.extend_from_slice(&check);
        out.write_all(&bytes)
    }

    /// Reads exactly [`HEADER_LEN`] bytes and checks what can be checked alone.
    pub fn read_from(input: &mut dyn Read) -> Result<Header, ApplyError> {
        let mut bytes = [0u8; HEADER_LEN];
        input.read_exact(&mut bytes).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => ApplyError::NotADelta,
            _ => ApplyError::ReadDelta(e),
        })?;
        if &bytes[..8] != MAGIC {
            return Err(ApplyError::NotADelta);
        }
        if bytes[8] != FORMAT_VERSION {
            return Err(ApplyError::UnsupportedVersion(bytes[8]));
        }
        if check(&bytes[..CHECKED_LEN]) != bytes[CHECKED_LEN..] {
            return Err(ApplyError::Corrupt(
                "the header check does not match".into(),
            ));
        }
        let algorithm = Algorithm::from_id(bytes[9])?;
        if bytes[10..12] != [0, 0] {
            return Err(ApplyError::Corrupt(
                "reserved header bytes are not zero".into(),
            ));
        }
        let mut field = Fields {
            bytes: &bytes[12..],
        };
        Ok(Header {
            algorithm,
            base_length: field.u64(),
            base_sha256: field.sha256(),
            result_length: field.u64(),
            result_sha256: field.sha256(),
            apply_memory: field.u64(),
            transform_length: field.u32(),
        })
    }

    pub fn base_sha256_hex(&self) -> String {
        hex::encode(self.base_sha256)
    }

    pub fn result_sha256_hex(&self) -> String {
        hex::encode(self.result_sha256)
    }
}

fn check(covered: &[u8]) -> [u8; 4] {
    let digest = Sha256::digest(covered);
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Consecutive little-endian fields of the fixed-size header array (its length is a
/// constant, so the splits cannot run past the end).
struct Fields<'a> {
    bytes: &'a [u8],
}

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut field = [0u8; N];
        let (head, rest) = self.bytes.split_at(N.min(self.bytes.len()));
        field[..head.len()].copy_from_slice(head);
        self.bytes = rest;
        field
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    fn sha256(&mut self) -> [u8; 32] {
        self.take()
    }
}
