//! Key files: ed25519 private keys as PKCS#8 PEM (mode 0600) and public keys as TUF key
//! JSON (`OUT.pub`).
//!
//! Wherever a command takes a key, either file form is accepted; steps that sign insist
//! on the private one. A private key readable by group or others still loads (demo keys
//! checked out from git lose their mode) but draws a warning.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use update_core::keys::{ED25519, KeyId, PublicKey, SigningKey};
use zeroize::Zeroizing;

use crate::fsutil::{create_new_with_mode, read_limited};

/// Key files are a few hundred bytes; anything this large is not a key.
pub const MAX_KEY_FILE: u64 = 64 * 1024;

const PRIVATE_KEY_MODE: u32 = 0o600;
const PUBLIC_KEY_MODE: u32 = 0o644;

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read key file {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("key file {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path} is a public key; signing needs the private key (PEM)")]
    NotPrivate { path: PathBuf },
    #[error("{path} already exists; refusing to overwrite a key")]
    Exists { path: PathBuf },
    #[error("cannot write key file {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// A key as read from a file: the private key (which implies its public key) or only the
/// public key.
#[derive(Debug)]
pub enum KeyFile {
    Private(Box<SigningKey>),
    Public { key: PublicKey, key_id: KeyId },
}

impl KeyFile {
    pub fn public_key(&self) -> &PublicKey {
        match self {
            KeyFile::Private(key) => key.public_key(),
            KeyFile::Public { key, .. } => key,
        }
    }

    pub fn key_id(&self) -> &KeyId {
        match self {
            KeyFile::Private(key) => key.key_id(),
            KeyFile::Public { key_id, .. } => key_id,
        }
    }
}

/// Reads a private (PEM) or public (TUF JSON) key file.
pub fn load(path: &Path) -> Result<KeyFile, KeyFileError> {
    let bytes =
        Zeroizing::new(
            read_limited(path, MAX_KEY_FILE).map_err(|source| KeyFileError::Read {
                path: path.to_path_buf(),
                source,
            })?,
        );
    let invalid = |reason: String| KeyFileError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(&bytes).map_err(|_| invalid("PEM is not UTF-8".into()))?;
        let key = SigningKey::from_pkcs8_pem(text).map_err(|e| invalid(e.to_string()))?;
        warn_if_exposed(path);
        return Ok(KeyFile::Private(Box::new(key)));
    }
    let key: PublicKey = serde_json::from_slice(&bytes).map_err(|e| {
        invalid(format!(
            "neither a PKCS#8 PEM private key nor a TUF public key JSON ({e})"
        ))
    })?;
    check_public_key(&key).map_err(invalid)?;
    let key_id = key.key_id().map_err(|e| invalid(e.to_string()))?;
    Ok(KeyFile::Public { key, key_id })
}

/// Reads a key file that must hold a private key.
pub fn load_private(path: &Path) -> Result<SigningKey, KeyFileError> {
    match load(path)? {
        KeyFile::Private(key) => Ok(*key),
        KeyFile::Public { .. } => Err(KeyFileError::NotPrivate {
            path: path.to_path_buf(),
        }),
    }
}

/// `OUT.pub`: where `ota keygen OUT` puts the public half.
pub fn public_key_path(private_path: &Path) -> PathBuf {
    let mut name = private_path.as_os_str().to_os_string();
    name.push(".pub");
    PathBuf::from(name)
}

/// Generates a key pair: `out` (PKCS#8 PEM, created with mode 0600) and `out.pub` (TUF
/// public key JSON). Refuses to overwrite either file. Returns the key id.
/// Creates the missing directories above a new key file, readable by the owner only
/// (an existing directory is left as it is).
fn create_key_directory(out: &Path) -> Result<(), KeyFileError> {
    use std::os::unix::fs::DirBuilderExt;
    match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| KeyFileError::Write {
                path: dir.to_path_buf(),
                source,
            }),
        _ => Ok(()),
    }
}

pub fn generate(out: &Path) -> Result<KeyId, KeyFileError> {
    let public_path = public_key_path(out);
    for path in [out, public_path.as_path()] {
        if path.symlink_metadata().is_ok() {
            return Err(KeyFileError::Exists {
                path: path.to_path_buf(),
            });
        }
    }
    create_key_directory(out)?;
    let key = SigningKey::generate();
    let pem = key.to_pkcs8_pem().map_err(|e| KeyFileError::Invalid {
        path: out.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut public_json =
        serde_json::to_vec_pretty(key.public_key()).map_err(|e| KeyFileError::Write {
            path: public_path.clone(),
            source: io::Error::other(e),
        })?;
    public_json.push(b'\n');

    create_new_with_mode(out, pem.as_bytes(), PRIVATE_KEY_MODE).map_err(|source| {
        match source.kind() {
            io::ErrorKind::AlreadyExists => KeyFileError::Exists {
                path: out.to_path_buf(),
            },
            _ => KeyFileError::Write {
                path: out.to_path_buf(),
                source,
            },
        }
    })?;
    if let Err(source) = create_new_with_mode(&public_path, &public_json, PUBLIC_KEY_MODE) {
        // Without its public half the new private key is useless; do not leave it behind.
        let _ = std::fs::remove_file(out);
        return Err(match source.kind() {
            io::ErrorKind::AlreadyExists => KeyFileError::Exists { path: public_path },
            _ => KeyFileError::Write {
                path: public_path,
                source,
            },
        });
    }
    Ok(key.key_id().clone())
}

/// Only ed25519 keys with 32 bytes of hex key material are accepted from files.
fn check_public_key(key: &PublicKey) -> Result<(), String> {
    if key.keytype != ED25519 || key.scheme != ED25519 {
        return Err(format!(
            "unsupported key type {:?} / scheme {:?}; only ed25519 is supported",
            key.keytype, key.scheme
        ));
    }
    match hex::decode(&key.keyval.public) {
        Ok(bytes) if bytes.len() == 32 => Ok(()),
        _ => Err("public key is not 32 bytes of hex".to_string()),
    }
}

fn warn_if_exposed(path: &Path) {
    if let Ok(metadata) = std::fs::metadata(path) {
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                "private key {} is readable by group or others (mode {mode:o}); use chmod 600",
                path.display()
            );
        }
    }
}
