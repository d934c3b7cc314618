//! Admin bearer tokens, stored only as their sha256, with their scopes.

use super::{Store, StoreError, parse_db, time_from_db, unique_violation, unix_now};
use crate::scope::Scopes;

/// An admin token as listed: never the token itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminTokenInfo {
    pub name: String,
    pub scopes: Scopes,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Store {
    pub async fn add_admin_token(
        &self,
        name: &str,
        token_sha256: &str,
        scopes: &Scopes,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO admin_tokens (token_sha256, name, created_at, scopes) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_sha256)
        .bind(name)
        .bind(unix_now())
        .bind(scopes.to_string())
        .execute(&self.pool)
        .await
        .map_err(unique_violation(|| "this admin token".to_string()))?;
        Ok(())
    }

    /// The name and scopes of the admin token with this hash, if there is one.
    pub async fn admin_token(
        &self,
        token_sha256: &str,
    ) -> Result<Option<(String, Scopes)>, StoreError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT name, scopes FROM admin_tokens WHERE token_sha256 = $1")
                .bind(token_sha256)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(name, scopes)| Ok((name, parse_db(&scopes, "token scopes")?)))
            .transpose()
    }

    /// Every admin token, by name.
    pub async fn admin_tokens(&self) -> Result<Vec<AdminTokenInfo>, StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT name, scopes, created_at FROM admin_tokens ORDER BY name, created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(name, scopes, created_at)| {
                Ok(AdminTokenInfo {
                    name,
                    scopes: parse_db(&scopes, "token scopes")?,
                    created_at: time_from_db(created_at)?,
                })
            })
            .collect()
    }

    /// Deletes every admin token named `name`; returns how many there were.
    pub async fn revoke_admin_tokens(&self, name: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM admin_tokens WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
