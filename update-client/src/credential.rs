//! The device's bearer token: read from its file, handed only to the HTTP layer, never
//! printed (`Debug` hides it).

use std::fmt;
use std::path::Path;

use crate::config::config_error;
use crate::error::{Error, Result};

const MAX_CREDENTIAL_SIZE: u64 = 4096;

#[derive(Clone)]
pub struct Credential(String);

impl Credential {
    /// Reads a token file; surrounding whitespace is ignored.
    pub fn read(path: &Path) -> Result<Credential> {
        let bytes = crate::atomic::read_limited(path, MAX_CREDENTIAL_SIZE)
            .map_err(Error::io(format!(
                "reading credential file {}",
                path.display()
            )))?
            .ok_or_else(|| config_error(path, "credential file does not exist".into()))?;
        let token = String::from_utf8(bytes)
            .map_err(|_| config_error(path, "credential is not UTF-8 text".into()))?;
        let token = token.trim();
        let printable = token.bytes().all(|b| b.is_ascii_graphic());
        if token.is_empty() || !printable {
            return Err(config_error(
                path,
                "credential must be one non-empty token of printable ASCII".into(),
            ));
        }
        Ok(Credential(token.to_string()))
    }

    /// The token itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}
