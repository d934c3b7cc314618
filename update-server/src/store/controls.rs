//! The stored facts behind the control metrics that `FleetFacts` does not carry: check-ins
//! through unapproved paths, and how long committed installs took.

use std::collections::BTreeMap;

use sqlx::FromRow;
use update_core::api::UpdateEvent;

use super::{Store, StoreError, from_db};

#[derive(FromRow)]
struct ClassTotal {
    class: String,
    total: i64,
}

#[derive(FromRow)]
struct Duration {
    class: String,
    seconds: i64,
}

impl Store {
    /// Counts one check-in of a device of `class` through an unapproved path.
    pub async fn count_unapproved_check_in(&self, class: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO unapproved_checkins (class, total) VALUES ($1, 1) \
             ON CONFLICT (class) DO UPDATE SET total = unapproved_checkins.total + 1",
        )
        .bind(class)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Check-ins through unapproved paths, by class.
    pub async fn unapproved_check_ins(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let rows: Vec<ClassTotal> = sqlx::query_as("SELECT class, total FROM unapproved_checkins")
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| Ok((row.class, from_db(row.total, "unapproved check-ins")?)))
            .collect()
    }

    /// Seconds from the `downloading` report to the `success` report of every committed
    /// update, by class. A report sent again (after a restart) moves its time, so a
    /// resumed install counts from its last start.
    pub async fn install_durations(&self) -> Result<Vec<(String, f64)>, StoreError> {
        let rows: Vec<Duration> = sqlx::query_as(
            "SELECT done.class AS class, done.reported_at - started.reported_at AS seconds \
             FROM reports done JOIN reports started \
             ON started.device_id = done.device_id AND started.target_name = done.target_name \
             WHERE done.event = $1 AND started.event = $2",
        )
        .bind(UpdateEvent::Success.as_str())
        .bind(UpdateEvent::Downloading.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.class, row.seconds.max(0) as f64))
            .collect())
    }
}
