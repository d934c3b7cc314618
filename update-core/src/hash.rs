//! Streaming sha256 (and sha512 for metadata that lists it).

use std::collections::BTreeMap;
use std::io::{self, Read};

use sha2::{Digest, Sha256, Sha512};

use crate::Error;

/// Buffer size for streaming reads: large enough for throughput, small for devices.
pub const STREAM_BUFFER: usize = 64 * 1024;

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Counts and hashes bytes as they stream past.
#[derive(Clone, Default)]
pub struct StreamHasher {
    sha256: Sha256,
    length: u64,
}

impl StreamHasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        self.length += bytes.len() as u64;
    }

    pub fn length(&self) -> u64 {
        self.length
    }

    /// Length and hex sha256 of everything seen.
    pub fn finish(self) -> (u64, String) {
        (self.length, hex::encode(self.sha256.finalize()))
    }
}

/// Length and hex sha256 of everything `reader` yields, read in bounded chunks.
pub fn hash_reader<R: Read>(mut reader: R) -> io::Result<(u64, String)> {
    let mut hasher = StreamHasher::new();
    let mut buffer = vec![0u8; STREAM_BUFFER];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return Ok(hasher.finish()),
            Ok(n) => hasher.update(&buffer[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Length and hex sha256 of at most `limit` bytes of `reader` (a slot is often larger
/// than the image written to it).
pub fn hash_reader_prefix<R: Read>(reader: R, limit: u64) -> io::Result<(u64, String)> {
    hash_reader(reader.take(limit))
}

/// Checks `bytes` against every hash algorithm we know in `hashes`; at least one must be
/// known. Used for metadata files listed in snapshot and timestamp.
pub fn verify_hashes(
    what: &str,
    bytes: &[u8],
    hashes: &BTreeMap<String, String>,
) -> Result<(), Error> {
    let mut verifier = HashVerifier::new(hashes);
    verifier.update(bytes);
    verifier.verify(what)
}

/// Streams bytes through every hash algorithm a signed `hashes` map lists that we know
/// (sha256, sha512), then checks them all. Unknown algorithms are skipped, but at least
/// one known algorithm must be listed: a target we cannot check is refused.
pub struct HashVerifier<'a> {
    expected: &'a BTreeMap<String, String>,
    sha256: Option<Sha256>,
    sha512: Option<Sha512>,
}

impl<'a> HashVerifier<'a> {
    pub fn new(expected: &'a BTreeMap<String, String>) -> Self {
        HashVerifier {
            expected,
            sha256: expected.contains_key("sha256").then(Sha256::new),
            sha512: expected.contains_key("sha512").then(Sha512::new),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        if let Some(h) = &mut self.sha256 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha512 {
            h.update(bytes);
        }
    }

    pub fn verify(self, what: &str) -> Result<(), Error> {
        let computed = [
            ("sha256", self.sha256.map(|h| hex::encode(h.finalize()))),
            ("sha512", self.sha512.map(|h| hex::encode(h.finalize()))),
        ];
        let mut checked = 0;
        for (algorithm, actual) in computed {
            let (Some(actual), Some(expected)) = (actual, self.expected.get(algorithm)) else {
                continue;
            };
            if !actual.eq_ignore_ascii_case(expected) {
                return Err(Error::HashMismatch {
                    what: what.to_string(),
                });
            }
            checked += 1;
        }
        if checked == 0 {
            return Err(Error::MissingHash {
                what: what.to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_equals_one_shot() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (len, hex) = hash_reader(&data[..]).unwrap();
        assert_eq!(len, data.len() as u64);
        assert_eq!(hex, sha256_hex(&data));
        let (len, hex) = hash_reader_prefix(&data[..], 1000).unwrap();
        assert_eq!((len, hex), (1000, sha256_hex(&data[..1000])));
    }

    #[test]
    fn verify_hashes_requires_a_known_matching_hash() {
        let mut hashes = BTreeMap::new();
        hashes.insert("md5".to_string(), "00".to_string());
        assert!(matches!(
            verify_hashes("x", b"a", &hashes),
            Err(Error::MissingHash { .. })
        ));
        hashes.insert("sha256".to_string(), sha256_hex(b"a"));
        verify_hashes("x", b"a", &hashes).unwrap();
        assert!(matches!(
            verify_hashes("x", b"b", &hashes),
            Err(Error::HashMismatch { .. })
        ));
    }
}
