//! The audit log through the admin API.

use reqwest::Method;
use update_core::api::{AuditEntry, paths};

use super::response::check;
use super::{AdminClient, AdminError};

impl AdminClient {
    /// The newest `limit` audit entries, oldest first.
    pub async fn audit(&self, limit: u32) -> Result<Vec<AuditEntry>, AdminError> {
        let what = "GET audit";
        let path = format!("{}?limit={limit}", paths::ADMIN_AUDIT);
        let response = check(what, self.send(self.admin(Method::GET, &path)).await?).await?;
        self.read_json(what, response).await
    }
}
