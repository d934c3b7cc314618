//! The delta file's fixed header (`docs/delta-format.md`).
//!
//! ```text
//! magic "OTADELTA" | format version u8 | algorithm u8 | reserved u16 (0)
//! base length u64 LE | base sha256 [32] | result length u64 LE | result sha256 [32]
//! ```
//! then the algorithm's body.

use std::io::{self, Read, Write};

use crate::ApplyError;

pub const MAGIC: &[u8; 8] = b"OTADELTA";
pub const FORMAT_VERSION: u8 = 1;
pub const HEADER_LEN: usize = 8 + 1 + 1 + 2 + 8 + 32 + 8 + 32;

/// How the body encodes the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// The result alone, zstd-compressed; the base is only checked (a placeholder the
    /// real algorithms replace).
    Literal,
}

impl Algorithm {
    pub fn id(self) -> u8 {
        match self {
            Algorithm::Literal => 0,
        }
    }

    pub fn from_id(id: u8) -> Result<Self, ApplyError> {
        match id {
            0 => Ok(Algorithm::Literal),
            other => Err(ApplyError::UnknownAlgorithm(other)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Literal => "literal",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub algorithm: Algorithm,
    pub base_length: u64,
    pub base_sha256: [u8; 32],
    pub result_length: u64,
    pub result_sha256: [u8; 32],
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
        out.write_all(&bytes)
    }

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
        let algorithm = Algorithm::from_id(bytes[9])?;
        if bytes[10..12] != [0, 0] {
            return Err(ApplyError::Corrupt(
                "reserved header bytes are not zero".into(),
            ));
        }
        let u64_at = |at: usize| {
            let mut le = [0u8; 8];
            le.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(le)
        };
        let sha_at = |at: usize| {
            let mut sha = [0u8; 32];
            sha.copy_from_slice(&bytes[at..at + 32]);
            sha
        };
        Ok(Header {
            algorithm,
            base_length: u64_at(12),
            base_sha256: sha_at(20),
            result_length: u64_at(52),
            result_sha256: sha_at(60),
        })
    }

    pub fn base_sha256_hex(&self) -> String {
        hex::encode(self.base_sha256)
    }

    pub fn result_sha256_hex(&self) -> String {
        hex::encode(self.result_sha256)
    }
}
