//! The device's identity: its ed25519 key pair, made here on first start and never sent
//! anywhere (only the public key is, at enrolment), and the sequence numbers that make
//! each signed request unique (`update_core::device_auth`).
//!
//! The key file is PKCS#8 PEM, mode 0600, written atomically; it is never logged.

use std::path::Path;
use std::sync::{Arc, Mutex};

use update_core::device_auth::{DeviceKey, SignatureHeaders, sign_request};

use crate::atomic::{read_limited, write_atomic};
use crate::config::{Config, config_error};
use crate::error::{Error, Result};

/// Largest key file read.
const MAX_KEY_FILE: u64 = 4096;

/// The device's key and request counter; clones share the counter.
#[derive(Clone)]
pub struct Identity {
    device_id: String,
    key: Arc<DeviceKey>,
    sequence: Arc<Mutex<u64>>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Reads the configured key file, creating a new key there if there is none.
    pub fn load_or_create(config: &Config) -> Result<Identity> {
        let key = load_or_create_key(&config.device_key_file())?;
        Ok(Identity::new(&config.device.id, key))
    }

    /// An identity for `device_id` whose counter starts at the current Unix time in
    /// microseconds: above anything an earlier run sent, if the clock is right; if it
    /// is not, the server's sequence floor corrects it.
    pub fn new(device_id: &str, key: DeviceKey) -> Identity {
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX / 2))
            .unwrap_or(1);
        Identity {
            device_id: device_id.to_string(),
            key: Arc::new(key),
            sequence: Arc::new(Mutex::new(start)),
        }
    }

    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    pub fn public_key_hex(&self) -> String {
        self.key.public_key_hex()
    }

    /// Signs a POST of `body` to `path` with the next sequence number.
    pub fn sign_post(&self, path: &str, body: &[u8]) -> SignatureHeaders {
        let sequence = {
            let mut counter = self
                .sequence
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *counter = counter.saturating_add(1);
            *counter
        };
        sign_request(&self.key, &self.device_id, sequence, "POST", path, body)
    }

    /// The server's last accepted sequence: the next request goes above it.
    pub fn raise_floor(&self, floor: u64) {
        let mut counter = self
            .sequence
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *counter = (*counter).max(floor);
    }
}

/// Reads the device key at `path`, or makes one and writes it there (mode 0600).
pub fn load_or_create_key(path: &Path) -> Result<DeviceKey> {
    let reading = || format!("reading device key {}", path.display());
    if let Some(bytes) = read_limited(path, MAX_KEY_FILE).map_err(Error::io(reading()))? {
        let pem = zeroize::Zeroizing::new(
            String::from_utf8(bytes)
                .map_err(|_| config_error(path, "device key is not PEM text".into()))?,
        );
        return DeviceKey::from_pkcs8_pem(&pem)
            .map_err(|e| config_error(path, format!("device key: {e}")));
    }
    let key = DeviceKey::generate();
    let pem = key
        .to_pkcs8_pem()
        .map_err(|e| config_error(path, format!("cannot encode the new device key: {e}")))?;
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
    }
    // The temporary file `write_atomic` renames into place is created with mode 0600.
    write_atomic(path, pem.as_bytes())
        .map_err(Error::io(format!("writing device key {}", path.display())))?;
    tracing::info!(path = %path.display(), public_key = %key.public_key_hex(), "created the device key");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_key_is_made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/device.key");
        let first = load_or_create_key(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create_key(&path).unwrap();
        assert_eq!(first.public_key_hex(), again.public_key_hex());
        std::fs::write(&path, "not a key").unwrap();
        assert!(load_or_create_key(&path).is_err());
    }

    #[test]
    fn sequences_grow_and_jump_above_the_server_floor() {
        let identity = Identity::new("dev-1", DeviceKey::generate());
        let sequence = |headers: &SignatureHeaders| {
            let (_, nonce) = headers.signature_input.split_once("nonce=\"").unwrap();
            nonce.trim_end_matches('"').parse::<u64>().unwrap()
        };
        let first = sequence(&identity.sign_post("/p", b""));
        let second = sequence(&identity.sign_post("/p", b""));
        assert_eq!(second, first + 1);
        identity.raise_floor(first + 1000);
        assert_eq!(
            sequence(&identity.clone().sign_post("/p", b"")),
            first + 1001
        );
    }
}
