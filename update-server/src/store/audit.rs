//! The audit log: who did what to which subject, from where, and how it ended.

use update_core::api::AuditEntry;

use super::{Store, StoreError, time_from_db, unix_now};

/// Attempts at an id before giving up: only concurrent writers on PostgreSQL can collide.
const INSERT_ATTEMPTS: usize = 5;

/// An entry to append; its id and time are the store's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub outcome: u16,
    pub source_address: Option<String>,
}

type AuditRow = (i64, i64, String, String, String, i64, Option<String>);

impl Store {
    /// Appends `entry` and returns its id.
    pub async fn add_audit_entry(&self, entry: &NewAuditEntry) -> Result<i64, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let inserted = sqlx::query_scalar(
                "INSERT INTO audit_log (id, at, actor, action, subject, outcome, source_address) \
                 SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, $6 FROM audit_log \
                 RETURNING id",
            )
            .bind(unix_now())
            .bind(&entry.actor)
            .bind(&entry.action)
            .bind(&entry.subject)
            .bind(i64::from(entry.outcome))
            .bind(&entry.source_address)
            .fetch_one(&self.pool)
            .await;
            match inserted {
                Ok(id) => return Ok(id),
                Err(sqlx::Error::Database(db))
                    if db.is_unique_violation() && attempt < INSERT_ATTEMPTS => {}
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Up to `limit` entries, oldest first: those after id `after`, or else the newest.
    pub async fn audit_entries(
        &self,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        const COLUMNS: &str = "id, at, actor, action, subject, outcome, source_address";
        let rows: Vec<AuditRow> = match after {
            Some(after) => {
                sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM audit_log WHERE id > $1 ORDER BY id ASC LIMIT $2"
                ))
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                let mut rows: Vec<AuditRow> = sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM audit_log ORDER BY id DESC LIMIT $1"
                ))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.reverse();
                rows
            }
        };
        rows.into_iter()
            .map(
                |(id, at, actor, action, subject, outcome, source_address)| {
                    Ok(AuditEntry {
                        id,
                        time: time_from_db(at)?,
                        actor,
                        action,
                        subject,
                        outcome: u16::try_from(outcome)
                            .map_err(|_| StoreError::Corrupt(format!("audit outcome {outcome}")))?,
                        source_address,
                    })
                },
            )
            .collect()
    }
}
