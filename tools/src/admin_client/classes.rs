//! Class profiles and staged rollouts through the admin API.

use reqwest::Method;
use update_core::api::paths;
use update_core::classes::{ClassProfile, RolloutSpec, RolloutStatus};
use update_core::layout::quote_name;

use super::response::check;
use super::{AdminClient, AdminError};

impl AdminClient {
    /// Replaces the profile of `profile.class`.
    pub async fn put_profile(&self, profile: &ClassProfile) -> Result<ClassProfile, AdminError> {
        let what = "PUT class profile";
        let path = format!("{}/{}", paths::ADMIN_CLASSES, quote_name(&profile.class));
        let request = self.admin(Method::PUT, &path).json(profile);
        let response = check(what, self.send(request).await?).await?;
        self.read_json(what, response).await
    }

    /// The profile of `class`; `None` if it has none.
    pub async fn profile(&self, class: &str) -> Result<Option<ClassProfile>, AdminError> {
        let what = "GET class profile";
        let path = format!("{}/{}", paths::ADMIN_CLASSES, quote_name(class));
        let response = self.send(self.admin(Method::GET, &path)).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = check(what, response).await?;
        self.read_json(what, response).await.map(Some)
    }

    pub async fn profiles(&self) -> Result<Vec<ClassProfile>, AdminError> {
        let what = "GET class profiles";
        let request = self.admin(Method::GET, paths::ADMIN_CLASSES);
        let response = check(what, self.send(request).await?).await?;
        self.read_json(what, response).await
    }

    pub async fn start_rollout(&self, spec: &RolloutSpec) -> Result<RolloutStatus, AdminError> {
        let what = "POST rollouts";
        let request = self.admin(Method::POST, paths::ADMIN_ROLLOUTS).json(spec);
        let response = check(what, self.send(request).await?).await?;
        self.read_json(what, response).await
    }

    /// Rollouts, newest first, of `class` or of every class.
    pub async fn rollouts(&self, class: Option<&str>) -> Result<Vec<RolloutStatus>, AdminError> {
        let what = "GET rollouts";
        let mut request = self.admin(Method::GET, paths::ADMIN_ROLLOUTS);
        if let Some(class) = class {
            request = request.query(&[("class", class)]);
        }
        let response = check(what, self.send(request).await?).await?;
        self.read_json(what, response).await
    }

    pub async fn rollout(&self, id: &str) -> Result<RolloutStatus, AdminError> {
        let what = "GET rollout";
        let path = format!("{}/{}", paths::ADMIN_ROLLOUTS, quote_name(id));
        let response = check(what, self.send(self.admin(Method::GET, &path)).await?).await?;
        self.read_json(what, response).await
    }

    /// `action` is `pause`, `resume` or `abort`.
    pub async fn rollout_action(
        &self,
        id: &str,
        action: &str,
    ) -> Result<RolloutStatus, AdminError> {
        let what = format!("POST rollout {action}");
        let path = format!("{}/{}/{action}", paths::ADMIN_ROLLOUTS, quote_name(id));
        let response = check(&what, self.send(self.admin(Method::POST, &path)).await?).await?;
        self.read_json(&what, response).await
    }
}
