//! The server's online keys (snapshot and timestamp) and the check that the current root
//! authorises them.

use std::path::Path;

use chrono::Utc;
use update_core::keys::SigningKey;
use update_core::schema::{Metadata, Root, Snapshot, Timestamp};
use update_core::sign::sign_metadata;
use update_core::trust::verify_with_root;

use super::RepositoryError;

/// A PEM key file is well under this size.
const MAX_KEY_FILE: u64 = 64 * 1024;

#[derive(Debug)]
pub struct OnlineKeys {
    pub snapshot: SigningKey,
    pub timestamp: SigningKey,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("key file {path} is larger than {MAX_KEY_FILE} bytes")]
    TooLarge { path: String },
    #[error("key file {path}: {source}")]
    Invalid {
        path: String,
        #[source]
        source: update_core::Error,
    },
}

impl OnlineKeys {
    pub fn load(snapshot: &Path, timestamp: &Path) -> Result<OnlineKeys, KeyFileError> {
        Ok(OnlineKeys {
            snapshot: read_key(snapshot)?,
            timestamp: read_key(timestamp)?,
        })
    }
}

fn read_key(path: &Path) -> Result<SigningKey, KeyFileError> {
    let shown = path.display().to_string();
    let read_error = |source| KeyFileError::Read {
        path: shown.clone(),
        source,
    };
    if std::fs::metadata(path).map_err(read_error)?.len() > MAX_KEY_FILE {
        return Err(KeyFileError::TooLarge { path: shown });
    }
    let pem = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(read_error)?);
    SigningKey::from_pkcs8_pem(&pem).map_err(|source| KeyFileError::Invalid {
        path: shown,
        source,
    })
}

/// Fails unless metadata signed by our key alone verifies under `root` for each online
/// role: the key is listed for the role and the role's threshold is 1.
pub fn check_authorised(keys: &OnlineKeys, root: &Root) -> Result<(), RepositoryError> {
    let now = Utc::now();
    probe(
        &Snapshot::new(1, now, Default::default()),
        &keys.snapshot,
        root,
    )?;
    let meta = update_core::schema::MetaFile::new(1);
    probe(&Timestamp::new(1, now, meta), &keys.timestamp, root)
}

fn probe<T: Metadata>(sample: &T, key: &SigningKey, root: &Root) -> Result<(), RepositoryError> {
    let envelope = sign_metadata(sample, &[key]).map_err(|source| RepositoryError::Signing {
        role: T::ROLE_TYPE,
        source,
    })?;
    verify_with_root::<T>(root, &envelope).map_err(|e| {
        RepositoryError::OnlineKeyNotAuthorised(format!(
            "the {role} key {id} is not enough to sign {role} metadata under root version {version} ({e}); \
             the root must list this key for the {role} role with threshold 1",
            role = T::ROLE_TYPE,
            id = key.key_id(),
            version = root.version,
        ))
    })?;
    Ok(())
}
