//! Loads the signature vectors beside this file, made by the TUF reference implementation
//! (securesystemslib / python-tuf) with `make_vectors.py`.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::Path;

use serde::Deserialize;
use update_core::keys::PublicKey;

#[derive(Deserialize)]
struct VectorFile {
    vectors: Vec<Vector>,
}

/// One signature securesystemslib made (and verified itself), with what update-core must
/// answer for it.
#[derive(Deserialize)]
pub struct Vector {
    pub name: String,
    /// The key id securesystemslib computed.
    pub keyid: String,
    /// The key exactly as `SSlibKey.to_dict()` wrote it.
    pub key: PublicKey,
    #[serde(deserialize_with = "from_hex")]
    pub message: Vec<u8>,
    #[serde(deserialize_with = "from_hex")]
    pub sig: Vec<u8>,
    pub sslib_verifies: bool,
    /// `valid`, `invalid` or `unsupported`.
    pub expect: String,
}

fn from_hex<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    hex::decode(text).map_err(serde::de::Error::custom)
}

pub fn read_vector_file(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn vectors() -> Vec<Vector> {
    let file: VectorFile = serde_json::from_slice(&read_vector_file("signatures.json")).unwrap();
    assert!(file.vectors.iter().all(|v| v.sslib_verifies));
    file.vectors
}

pub fn valid_vectors() -> Vec<Vector> {
    vectors()
        .into_iter()
        .filter(|v| v.expect == "valid")
        .collect()
}

/// The first valid vector of `scheme` whose name contains `name_part` (e.g. a key size).
pub fn first_valid(scheme: &str, name_part: &str) -> Vector {
    valid_vectors()
        .into_iter()
        .find(|v| v.key.scheme == scheme && v.name.contains(name_part))
        .unwrap_or_else(|| panic!("no valid {scheme} vector named *{name_part}*"))
}

pub fn by_name(name: &str) -> Vector {
    vectors()
        .into_iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no vector {name:?}"))
}
