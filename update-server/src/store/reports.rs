//! Update reports from devices, kept one row per (device, target, event) so that retried
//! reports are idempotent, and the counts that status and metrics are made of.

use sqlx::FromRow;
use update_core::api::{Report, UpdateEvent};

use super::payloads::record_payload;
use super::{Store, StoreError, from_db, to_db, unix_now};

/// How many distinct devices reported `event` for releases of `version` in `class`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseCount {
    pub class: String,
    pub version: String,
    pub event: UpdateEvent,
    pub count: u64,
}

#[derive(FromRow)]
struct CountRow {
    class: String,
    version: String,
    event: String,
    count: i64,
}

impl Store {
    /// Stores a report (replacing an earlier identical one), its payload and the device's
    /// latest event.
    /// A terminal event also tells which version the device now runs: the new one after
    /// `success`, the one it started from after `failure` or `rolled-back`.
    pub async fn record_report(&self, class: &str, report: &Report) -> Result<(), StoreError> {
        let now = unix_now();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO reports (device_id, target_name, event, class, version, from_version, \
             reason, bytes_downloaded, reported_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (device_id, target_name, event) DO UPDATE SET class = excluded.class, \
             version = excluded.version, from_version = excluded.from_version, \
             reason = excluded.reason, bytes_downloaded = excluded.bytes_downloaded, \
             reported_at = excluded.reported_at",
        )
        .bind(&report.device_id)
        .bind(&report.target_name)
        .bind(report.event.as_str())
        .bind(class)
        .bind(report.version.to_string())
        .bind(report.from_version.to_string())
        .bind(report.reason.as_deref())
        .bind(to_db(report.bytes_downloaded, "bytes downloaded")?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(payload) = &report.payload {
            record_payload(&mut tx, class, report, payload).await?;
        }
        let running = match report.event {
            UpdateEvent::Success => Some(&report.version),
            UpdateEvent::Failure | UpdateEvent::RolledBack => Some(&report.from_version),
            _ => None,
        };
        sqlx::query(
            "UPDATE devices SET last_event = $2, last_reason = $3, \
             firmware_version = COALESCE($4, firmware_version), \
             install_place_at = CASE WHEN $5 THEN NULL WHEN install_place_at IS NULL THEN NULL \
             ELSE $6 END WHERE device_id = $1",
        )
        .bind(&report.device_id)
        .bind(report.event.as_str())
        .bind(report.reason.as_deref())
        .bind(running.map(ToString::to_string))
        // A finished update frees its install place; progress keeps it alive.
        .bind(report.event.is_terminal())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts of update starts (`downloading`) and outcomes per class and release version.
    pub async fn release_counts(&self) -> Result<Vec<ReleaseCount>, StoreError> {
        let rows: Vec<CountRow> = sqlx::query_as(
            "SELECT class, version, event, COUNT(*) AS count FROM reports \
             WHERE event IN ($1, $2, $3, $4) GROUP BY class, version, event \
             ORDER BY class, version, event",
        )
        .bind(UpdateEvent::Downloading.as_str())
        .bind(UpdateEvent::Success.as_str())
        .bind(UpdateEvent::Failure.as_str())
        .bind(UpdateEvent::RolledBack.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let event =
                    row.event.parse::<UpdateEvent>().ok().ok_or_else(|| {
                        StoreError::Corrupt(format!("report event {:?}", row.event))
                    })?;
                Ok(ReleaseCount {
                    class: row.class,
                    version: row.version,
                    event,
                    count: from_db(row.count, "report count")?,
                })
            })
            .collect()
    }
}
