//! Class control profiles. The baseline of a profile is the class pin (`class_pins`), so
//! `ota class set --baseline` and `PUT .../approved` change the same row.

use std::collections::BTreeMap;

use sqlx::FromRow;
use update_core::api::UpdateEvent;
use update_core::classes::{ApprovedPaths, ClassProfile, MaintenanceWindow};

use super::{Store, StoreError, Tx, from_db, to_db, unix_now};

#[derive(FromRow)]
struct ProfileRow {
    class: String,
    hardware: String,
    networks: String,
    relays: String,
    poll_interval_secs: Option<i64>,
    window_start: Option<String>,
    window_end: Option<String>,
    max_concurrent_installs: Option<i64>,
    success_threshold: Option<f64>,
}

const PROFILE_SELECT: &str = "SELECT class, hardware, networks, relays, poll_interval_secs, \
     window_start, window_end, max_concurrent_installs, success_threshold FROM class_profiles";

fn list_to_db(items: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(items).map_err(|e| StoreError::Corrupt(format!("list: {e}")))
}

fn list_from_db(text: &str, what: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(format!("{what} {text:?}")))
}

impl ProfileRow {
    fn into_profile(self, baseline: Option<String>) -> Result<ClassProfile, StoreError> {
        let maintenance_window = match (self.window_start, self.window_end) {
            (Some(start), Some(end)) => Some(MaintenanceWindow { start, end }),
            _ => None,
        };
        let max_concurrent_installs = self
            .max_concurrent_installs
            .map(|n| u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("max installs {n}"))))
            .transpose()?;
        Ok(ClassProfile {
            hardware: list_from_db(&self.hardware, "hardware list")?,
            approved_paths: ApprovedPaths {
                networks: list_from_db(&self.networks, "network list")?,
                relays: list_from_db(&self.relays, "relay list")?,
            },
            poll_interval_secs: self
                .poll_interval_secs
                .map(|s| from_db(s, "poll interval"))
                .transpose()?,
            maintenance_window,
            max_concurrent_installs,
            success_threshold: self.success_threshold,
            baseline,
            class: self.class,
        })
    }
}

/// Sets or clears the class pin inside a transaction.
pub(super) async fn write_pin(
    tx: &mut Tx,
    class: &str,
    target_name: Option<&str>,
) -> Result<(), StoreError> {
    match target_name {
        Some(target_name) => {
            sqlx::query(
                "INSERT INTO class_pins (class, target_name, pinned_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (class) DO UPDATE SET target_name = excluded.target_name, \
                 pinned_at = excluded.pinned_at",
            )
            .bind(class)
            .bind(target_name)
            .bind(unix_now())
            .execute(&mut **tx)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM class_pins WHERE class = $1")
                .bind(class)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

impl Store {
    /// Replaces the profile of `profile.class`, its baseline pin included (no baseline
    /// removes the pin: the newest release of the class is then approved).
    pub async fn put_profile(&self, profile: &ClassProfile) -> Result<(), StoreError> {
        let window = profile.maintenance_window.as_ref();
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO class_profiles (class, hardware, networks, relays, poll_interval_secs, \
             window_start, window_end, max_concurrent_installs, success_threshold, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (class) DO UPDATE SET \
             hardware = excluded.hardware, networks = excluded.networks, \
             relays = excluded.relays, poll_interval_secs = excluded.poll_interval_secs, \
             window_start = excluded.window_start, window_end = excluded.window_end, \
             max_concurrent_installs = excluded.max_concurrent_installs, \
             success_threshold = excluded.success_threshold, updated_at = excluded.updated_at",
        )
        .bind(&profile.class)
        .bind(list_to_db(&profile.hardware)?)
        .bind(list_to_db(&profile.approved_paths.networks)?)
        .bind(list_to_db(&profile.approved_paths.relays)?)
        .bind(
            profile
                .poll_interval_secs
                .map(|s| to_db(s, "poll interval"))
                .transpose()?,
        )
        .bind(window.map(|w| w.start.as_str()))
        .bind(window.map(|w| w.end.as_str()))
        .bind(profile.max_concurrent_installs.map(i64::from))
        .bind(profile.success_threshold)
        .bind(unix_now())
        .execute(&mut *tx)
        .await?;
        write_pin(&mut tx, &profile.class, profile.baseline.as_deref()).await?;
        self.commit_class_change(tx).await?;
        Ok(())
    }

    /// The profile of `class`, if one was set or the class is pinned.
    pub async fn profile(&self, class: &str) -> Result<Option<ClassProfile>, StoreError> {
        let row: Option<ProfileRow> = sqlx::query_as(&format!("{PROFILE_SELECT} WHERE class = $1"))
            .bind(class)
            .fetch_optional(&self.pool)
            .await?;
        let baseline = self.pins().await?.remove(class);
        match row {
            Some(row) => row.into_profile(baseline).map(Some),
            // A class pinned through `.../approved` has a profile holding just that.
            None => Ok(baseline.map(|baseline| ClassProfile {
                class: class.to_string(),
                baseline: Some(baseline),
                ..ClassProfile::default()
            })),
        }
    }

    /// Every class profile, by class name.
    pub async fn profiles(&self) -> Result<BTreeMap<String, ClassProfile>, StoreError> {
        let rows: Vec<ProfileRow> = sqlx::query_as(&format!("{PROFILE_SELECT} ORDER BY class"))
            .fetch_all(&self.pool)
            .await?;
        let mut pins = self.pins().await?;
        let mut profiles = BTreeMap::new();
        for row in rows {
            let baseline = pins.remove(&row.class);
            let profile = row.into_profile(baseline)?;
            profiles.insert(profile.class.clone(), profile);
        }
        // Classes pinned through `.../approved` without a profile row.
        for (class, baseline) in pins {
            let profile = ClassProfile {
                class: class.clone(),
                baseline: Some(baseline),
                ..ClassProfile::default()
            };
            profiles.insert(class, profile);
        }
        Ok(profiles)
    }

    /// Grants `device_id` one of its class's `limit` install places unless they are all
    /// taken; whether it holds one now. A place is taken by a device granted one since
    /// `live_since` that has not finished (a terminal report frees it), or by a device
    /// that reported the switch (`installed`, `booted-new`) without a grant. One
    /// statement, so that on SQLite concurrent check-ins cannot both take the last place;
    /// PostgreSQL would need the class row locked first (`SELECT ... FOR UPDATE`).
    pub async fn grant_install_place(
        &self,
        class: &str,
        device_id: &str,
        limit: u32,
        now: i64,
        live_since: i64,
    ) -> Result<bool, StoreError> {
        let granted = sqlx::query(
            "UPDATE devices SET install_place_at = $1 WHERE device_id = $2 AND class = $3 AND \
             (install_place_at >= $4 OR (SELECT COUNT(*) FROM devices WHERE class = $3 AND \
             device_id <> $2 AND (install_place_at >= $4 OR last_event IN ($6, $7))) < $5)",
        )
        .bind(now)
        .bind(device_id)
        .bind(class)
        .bind(live_since)
        .bind(i64::from(limit))
        .bind(UpdateEvent::Installed.as_str())
        .bind(UpdateEvent::BootedNew.as_str())
        .execute(&self.pool)
        .await?;
        Ok(granted.rows_affected() == 1)
    }
}
