//! Admin bearer tokens, stored only as their sha256.

use super::{Store, StoreError, unique_violation, unix_now};

impl Store {
    pub async fn add_admin_token(&self, name: &str, token_sha256: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO admin_tokens (token_sha256, name, created_at) VALUES ($1, $2, $3)",
        )
        .bind(token_sha256)
        .bind(name)
        .bind(unix_now())
        .execute(&self.pool)
        .await
        .map_err(unique_violation(|| "this admin token".to_string()))?;
        Ok(())
    }

    /// The name of the admin token with this hash, if there is one.
    pub async fn admin_token_name(&self, token_sha256: &str) -> Result<Option<String>, StoreError> {
        let name = sqlx::query_scalar("SELECT name FROM admin_tokens WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(name)
    }
}
