//! Publishing a class's delegated role metadata through the admin API.

use reqwest::Method;
use update_core::api::{TargetsPublished, paths};
use update_core::layout::quote_name;

use super::response::check;
use super::{AdminClient, AdminError};

impl AdminClient {
    /// Publishes a new version of delegated role `role`; the server signs a new snapshot
    /// and timestamp naming it.
    pub async fn put_delegated_role(
        &self,
        role: &str,
        bytes: Vec<u8>,
    ) -> Result<TargetsPublished, AdminError> {
        let what = "PUT delegated role";
        let path = format!("{}/{}", paths::ADMIN_DELEGATIONS, quote_name(role));
        let request = self.admin(Method::PUT, &path).body(bytes);
        let response = check(what, self.send(request).await?).await?;
        self.read_json(what, response).await
    }
}
