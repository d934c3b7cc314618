//! Self-enrolment: with `[device] enrollment_secret_file` set, the agent registers its
//! public key with the server (class secret as bearer token, request signed by the key
//! itself) before its first check-in, and records that in `<state dir>/enrolled`.

use update_core::api::{SelfEnrollment, paths};

use super::Agent;
use crate::atomic::{read_limited, write_atomic};
use crate::config::config_error;
use crate::error::{Error, Result};
use crate::fetch::join_url;

/// Marker file in the state directory: holds the public key that was enrolled.
pub const ENROLLED_MARKER: &str = "enrolled";
/// Largest enrollment secret file read.
const MAX_SECRET_FILE: u64 = 4096;

impl Agent {
    /// Enrols the device unless it has no secret to do so or already did with this key.
    pub(super) async fn enrol_if_needed(&self) -> Result<()> {
        let Some(secret_file) = &self.config.device.enrollment_secret_file else {
            return Ok(());
        };
        let marker = self.config.state.dir.join(ENROLLED_MARKER);
        let public_key = self.identity.public_key_hex();
        let enrolled = read_limited(&marker, 256)
            .map_err(Error::io(format!("reading {}", marker.display())))?;
        if enrolled.as_deref() == Some(public_key.as_bytes()) {
            return Ok(());
        }
        let secret = read_limited(secret_file, MAX_SECRET_FILE)
            .map_err(Error::io(format!("reading {}", secret_file.display())))?
            .ok_or_else(|| {
                config_error(secret_file, "enrollment secret file does not exist".into())
            })?;
        let secret = zeroize::Zeroizing::new(
            String::from_utf8(secret)
                .map_err(|_| config_error(secret_file, "enrollment secret is not text".into()))?,
        );
        let secret = secret.trim();
        if secret.is_empty() || !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(config_error(
                secret_file,
                "enrollment secret must be one token of printable ASCII".into(),
            ));
        }
        let body = SelfEnrollment {
            device_id: self.config.device.id.clone(),
            class: self.config.device.class.clone(),
            hardware_id: self.config.device.hardware_id.clone(),
            public_key: public_key.clone(),
        };
        let url = join_url(&self.config.server.url, paths::ENROLL)?;
        self.http
            .post_signed_with(&url, &self.identity, Some(secret), &body)
            .await?;
        write_atomic(&marker, public_key.as_bytes())
            .map_err(Error::io(format!("writing {}", marker.display())))?;
        tracing::info!(public_key = %public_key, "enrolled with the server");
        Ok(())
    }
}
