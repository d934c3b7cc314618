//! A simulated device's bearer token: its saved `ID.token` file (read with a size
//! limit, checked to be one printable token), else a new enrolment over the admin API,
//! saved with mode 0600 when a tokens directory is given.

use std::path::Path;

use crate::device::{DeviceError, FleetConfig};
use crate::stats::{Counters, FleetStats};

/// Largest token file read.
const MAX_TOKEN_FILE: u64 = 4096;

/// The device's token: its saved file, else a new enrolment (saved when a tokens
/// directory is given).
pub async fn obtain_token(
    config: &FleetConfig,
    index: usize,
    id: &str,
    stats: &FleetStats,
) -> Result<String, DeviceError> {
    let file = config
        .tokens_dir
        .as_ref()
        .map(|dir| dir.join(format!("{id}.token")));
    if let Some(file) = &file {
        if let Some(token) = read_token(file)? {
            return Ok(token);
        }
    }
    if !config.enroll {
        return Err(DeviceError::NoToken(id.to_string()));
    }
    let api = config.api_for(index);
    let token = api.enroll(&config.admin_token, id, &config.class).await?;
    Counters::add(&stats.counters.enrolled, 1);
    if let Some(file) = &file {
        write_token(file, &token)?;
    }
    Ok(token)
}

fn read_token(path: &Path) -> Result<Option<String>, DeviceError> {
    let error = |reason: String| DeviceError::TokenFile {
        path: path.display().to_string(),
        reason,
    };
    let bytes = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(error(e.to_string())),
        Ok(meta) if meta.len() > MAX_TOKEN_FILE => return Err(error("too large".into())),
        Ok(_) => std::fs::read(path).map_err(|e| error(e.to_string()))?,
    };
    let text = String::from_utf8(bytes).map_err(|_| error("not UTF-8".into()))?;
    let token = text.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(error("not one token of printable ASCII".into()));
    }
    Ok(Some(token.to_string()))
}

fn write_token(path: &Path, token: &str) -> Result<(), DeviceError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let error = |e: std::io::Error| DeviceError::TokenFile {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(error)?;
    file.write_all(format!("{token}\n").as_bytes())
        .map_err(error)
}
