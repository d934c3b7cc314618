//! Device identity through the admin API: registering a device's public key, revoking a
//! device, and issuing a class's enrollment secret.

use reqwest::Method;
use update_core::api::{DeviceEnrollment, EnrollmentSecret, paths};
use update_core::layout::quote_name;

use super::response::check;
use super::{AdminClient, AdminError};

impl AdminClient {
    /// Registers `public_key` (64 hex digits) as the key of `device_id` in `class`. The
    /// same key again is accepted; another key for an enrolled id is a 409 (unless the
    /// old key was revoked).
    pub async fn enroll(
        &self,
        device_id: &str,
        class: &str,
        public_key: &str,
    ) -> Result<DeviceEnrollment, AdminError> {
        let what = "POST devices";
        let body = DeviceEnrollment {
            device_id: device_id.to_string(),
            class: class.to_string(),
            public_key: public_key.to_string(),
        };
        let request = self.admin(Method::POST, paths::ADMIN_DEVICES).json(&body);
        let response = check(what, self.send(request).await?).await?;
        self.read_json(what, response).await
    }

    /// Revokes `device_id`: its signatures are refused from now on.
    pub async fn revoke(&self, device_id: &str) -> Result<(), AdminError> {
        let what = "POST devices/…/revoke";
        let path = format!(
            "{}/{}/{}",
            paths::ADMIN_DEVICES,
            quote_name(device_id),
            paths::REVOKE
        );
        check(what, self.send(self.admin(Method::POST, &path)).await?).await?;
        Ok(())
    }

    /// A new enrollment secret for `class` (the previous one stops working).
    pub async fn new_enrollment_secret(&self, class: &str) -> Result<EnrollmentSecret, AdminError> {
        let what = "PUT classes/…/enrollment-secret";
        let path = format!(
            "{}/{}/{}",
            paths::ADMIN_CLASSES,
            quote_name(class),
            paths::ENROLLMENT_SECRET
        );
        let response = check(what, self.send(self.admin(Method::PUT, &path)).await?).await?;
        self.read_json(what, response).await
    }
}
