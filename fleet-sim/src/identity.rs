//! A simulated device's key pair: its saved `ID.key` file in `--tokens-dir` (PKCS#8
//! PEM, read and made by the client's own `identity::load_or_create_key`, mode 0600),
//! else a key made in memory; with `--enroll` its public key is registered over the
//! admin API (the same key again is accepted, so re-runs can enrol again).

use update_client::identity::{Identity, load_or_create_key};
use update_core::device_auth::DeviceKey;

use crate::device::{DeviceError, FleetConfig};
use crate::stats::{Counters, FleetStats};

/// The device's identity, enrolled when `--enroll` is given.
pub async fn obtain_identity(
    config: &FleetConfig,
    index: usize,
    id: &str,
    stats: &FleetStats,
) -> Result<Identity, DeviceError> {
    let file = config
        .tokens_dir
        .as_ref()
        .map(|dir| dir.join(format!("{id}.key")));
    let saved = file.as_ref().is_some_and(|file| file.exists());
    if !saved && !config.enroll {
        return Err(DeviceError::NoKey(id.to_string()));
    }
    let key = match &file {
        Some(file) => load_or_create_key(file).map_err(|e| DeviceError::KeyFile {
            path: file.display().to_string(),
            reason: e.to_string(),
        })?,
        None => DeviceKey::generate(),
    };
    if config.enroll {
        let api = config.api_for(index);
        api.enroll(
            &config.admin_token,
            id,
            &config.class,
            &key.public_key_hex(),
        )
        .await?;
        Counters::add(&stats.counters.enrolled, 1);
    }
    Ok(Identity::new(id, key))
}
