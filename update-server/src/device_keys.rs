//! Registered device keys, kept in memory after their first use so that a check-in does
//! not read the database to learn who signed it. The copy only ever speeds up a lookup:
//! revocation still takes effect at once, because every signed request must also advance
//! the device's sequence, which the database refuses for a revoked device; and a key
//! replaced after a revocation (possibly on another replica) is read again as soon as a
//! signature fails to verify with the remembered one.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use ed25519_dalek::VerifyingKey;
use update_core::device_auth::parse_public_key;

use crate::store::{Store, StoreError};

/// Keys remembered before the copy starts over (about 250 bytes each).
const MAX_KEYS: usize = 200_000;

/// A device's registered, unrevoked key.
#[derive(Debug)]
pub struct KnownKey {
    pub device_id: String,
    pub class: String,
    pub key: VerifyingKey,
}

#[derive(Debug, Default)]
pub struct DeviceKeys {
    known: RwLock<HashMap<String, Arc<KnownKey>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyLookupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored key of device {device_id}: {reason}")]
    BadStoredKey { device_id: String, reason: String },
}

impl DeviceKeys {
    /// The key `device_id` signs with, if it is enrolled with one and not revoked: the
    /// remembered one, or (with `reread`, or when none is remembered) the stored one.
    pub async fn get(
        &self,
        store: &Store,
        device_id: &str,
        reread: bool,
    ) -> Result<Option<Arc<KnownKey>>, KeyLookupError> {
        if !reread && let Some(known) = self.read().get(device_id) {
            return Ok(Some(known.clone()));
        }
        let record = store.device_key(device_id).await?;
        let known = match record {
            Some(record) => match (&record.public_key, record.revoked_at) {
                (Some(hex), None) => {
                    let key = parse_public_key(hex).map_err(|e| KeyLookupError::BadStoredKey {
                        device_id: device_id.to_string(),
                        reason: e.to_string(),
                    })?;
                    Some(Arc::new(KnownKey {
                        device_id: record.device_id,
                        class: record.class,
                        key,
                    }))
                }
                _ => None,
            },
            None => None,
        };
        let mut remembered = self.known.write().unwrap_or_else(PoisonError::into_inner);
        match &known {
            Some(known) => {
                if remembered.len() >= MAX_KEYS {
                    remembered.clear();
                }
                remembered.insert(device_id.to_string(), known.clone());
            }
            None => {
                remembered.remove(device_id);
            }
        }
        Ok(known)
    }

    /// Forgets `device_id`'s key (revoked or replaced here).
    pub fn forget(&self, device_id: &str) {
        self.known
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(device_id);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<KnownKey>>> {
        self.known.read().unwrap_or_else(PoisonError::into_inner)
    }
}
