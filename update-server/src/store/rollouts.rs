//! Staged rollouts: their specs and current state (which survive restarts), and the
//! per-device progress the rollout rules count.

use std::collections::BTreeMap;

use sqlx::FromRow;
use update_core::api::UpdateEvent;
use update_core::classes::{RolloutSpec, RolloutState, RolloutStatus};

use super::classes::write_pin;
use super::{Store, StoreError, from_db, parse_db, time_from_db, to_db};
use crate::rollout::DeviceProgress;

#[derive(FromRow)]
struct RolloutRow {
    id: String,
    class: String,
    target_name: String,
    version: String,
    waves: String,
    soak_secs: i64,
    max_failure_rate: f64,
    min_finished: i64,
    halt_confidence: Option<f64>,
    state: String,
    wave: i64,
    wave_opened_at: i64,
    reason: Option<String>,
    created_at: i64,
}

const ROLLOUT_SELECT: &str = "SELECT id, class, target_name, version, waves, soak_secs, \
     max_failure_rate, min_finished, halt_confidence, state, wave, wave_opened_at, reason, created_at \
     FROM rollouts";

const ACTIVE: &str = "state IN ('running', 'paused', 'halted')";

impl TryFrom<RolloutRow> for RolloutStatus {
    type Error = StoreError;
    fn try_from(row: RolloutRow) -> Result<Self, StoreError> {
        let waves = row
            .waves
            .split(',')
            .map(|w| parse_db::<u8>(w, "rollout wave"))
            .collect::<Result<Vec<u8>, _>>()?;
        let wave = usize::try_from(from_db(row.wave, "rollout wave index")?)
            .map_err(|_| StoreError::Corrupt(format!("rollout wave index {}", row.wave)))?;
        Ok(RolloutStatus {
            spec: RolloutSpec {
                class: row.class,
                target_name: row.target_name,
                waves,
                soak_secs: from_db(row.soak_secs, "soak")?,
                max_failure_rate: row.max_failure_rate,
                min_finished: from_db(row.min_finished, "min finished")?,
                halt_confidence: row.halt_confidence,
            },
            id: row.id,
            version: parse_db(&row.version, "rollout version")?,
            state: parse_db(&row.state, "rollout state")?,
            wave,
            wave_opened_at: time_from_db(row.wave_opened_at)?,
            created_at: time_from_db(row.created_at)?,
            reason: row.reason,
            waves: Vec::new(),
        })
    }
}

fn collect(rows: Vec<RolloutRow>) -> Result<Vec<RolloutStatus>, StoreError> {
    rows.into_iter().map(RolloutStatus::try_from).collect()
}

impl Store {
    /// Stores a new rollout. [`StoreError::AlreadyExists`] if its class has a running or
    /// paused rollout; a halted one is aborted, superseded by the new one.
    pub async fn insert_rollout(&self, rollout: &RolloutStatus) -> Result<(), StoreError> {
        let spec = &rollout.spec;
        let mut tx = self.begin().await?;
        let busy: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM rollouts WHERE class = $1 AND state IN ('running', 'paused')",
        )
        .bind(&spec.class)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((id,)) = busy {
            return Err(StoreError::AlreadyExists(format!(
                "an active rollout {id} of class {}",
                spec.class
            )));
        }
        sqlx::query(
            "UPDATE rollouts SET state = 'aborted', reason = $2 \
             WHERE class = $1 AND state = 'halted'",
        )
        .bind(&spec.class)
        .bind(format!("superseded by rollout {}", rollout.id))
        .execute(&mut *tx)
        .await?;
        let waves: Vec<String> = spec.waves.iter().map(u8::to_string).collect();
        sqlx::query(
            "INSERT INTO rollouts (id, class, target_name, version, waves, soak_secs, \
             max_failure_rate, min_finished, halt_confidence, state, wave, wave_opened_at, reason, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&rollout.id)
        .bind(&spec.class)
        .bind(&spec.target_name)
        .bind(rollout.version.to_string())
        .bind(waves.join(","))
        .bind(to_db(spec.soak_secs, "soak")?)
        .bind(spec.max_failure_rate)
        .bind(to_db(spec.min_finished, "min finished")?)
        .bind(spec.halt_confidence)
        .bind(rollout.state.as_str())
        .bind(to_db(rollout.wave as u64, "wave index")?)
        .bind(rollout.wave_opened_at.timestamp())
        .bind(rollout.reason.as_deref())
        .bind(rollout.created_at.timestamp())
        .execute(&mut *tx)
        .await?;
        self.commit_class_change(tx).await?;
        Ok(())
    }

    pub async fn rollout(&self, id: &str) -> Result<Option<RolloutStatus>, StoreError> {
        let row: Option<RolloutRow> = sqlx::query_as(&format!("{ROLLOUT_SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(RolloutStatus::try_from).transpose()
    }

    /// Rollouts, newest first, of one class or of all.
    pub async fn rollouts(&self, class: Option<&str>) -> Result<Vec<RolloutStatus>, StoreError> {
        let rows = match class {
            Some(class) => {
                sqlx::query_as(&format!(
                    "{ROLLOUT_SELECT} WHERE class = $1 ORDER BY created_at DESC, id"
                ))
                .bind(class)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query_as(&format!("{ROLLOUT_SELECT} ORDER BY created_at DESC, id"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        collect(rows)
    }

    /// The rollout that governs `class`'s assignments: its running, paused or halted one.
    pub async fn active_rollout(&self, class: &str) -> Result<Option<RolloutStatus>, StoreError> {
        let row: Option<RolloutRow> = sqlx::query_as(&format!(
            "{ROLLOUT_SELECT} WHERE class = $1 AND {ACTIVE} ORDER BY created_at DESC, id LIMIT 1"
        ))
        .bind(class)
        .fetch_optional(&self.pool)
        .await?;
        row.map(RolloutStatus::try_from).transpose()
    }

    /// The rollout that governs each class that has one (see [`Store::active_rollout`]).
    pub async fn active_rollouts(&self) -> Result<BTreeMap<String, RolloutStatus>, StoreError> {
        let rows: Vec<RolloutRow> = sqlx::query_as(&format!(
            "{ROLLOUT_SELECT} WHERE {ACTIVE} ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        // Oldest first, so each class ends with its newest.
        let mut by_class = BTreeMap::new();
        for row in rows {
            let status = RolloutStatus::try_from(row)?;
            by_class.insert(status.spec.class.clone(), status);
        }
        Ok(by_class)
    }

    /// Moves a rollout from `(from_state, from_wave)` to `next`'s state, wave and reason;
    /// `false` if another request changed it first. Completion also makes the release the
    /// class's baseline, in the same transaction.
    pub async fn update_rollout(
        &self,
        from_state: RolloutState,
        from_wave: usize,
        next: &RolloutStatus,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE rollouts SET state = $4, wave = $5, wave_opened_at = $6, reason = $7 \
             WHERE id = $1 AND state = $2 AND wave = $3",
        )
        .bind(&next.id)
        .bind(from_state.as_str())
        .bind(to_db(from_wave as u64, "wave index")?)
        .bind(next.state.as_str())
        .bind(to_db(next.wave as u64, "wave index")?)
        .bind(next.wave_opened_at.timestamp())
        .bind(next.reason.as_deref())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        if next.state == RolloutState::Completed {
            write_pin(&mut tx, &next.spec.class, Some(&next.spec.target_name)).await?;
        }
        self.commit_class_change(tx).await?;
        Ok(true)
    }

    /// Every device of `class` and what it reported for `target_name`.
    pub async fn rollout_progress(
        &self,
        class: &str,
        target_name: &str,
    ) -> Result<Vec<DeviceProgress>, StoreError> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT d.device_id, r.event FROM devices d LEFT JOIN reports r \
             ON r.device_id = d.device_id AND r.target_name = $2 WHERE d.class = $1 \
             ORDER BY d.device_id, r.reported_at",
        )
        .bind(class)
        .bind(target_name)
        .fetch_all(&self.pool)
        .await?;
        fold_progress(rows)
    }

    /// What one device reported for `target_name`.
    pub async fn device_progress(
        &self,
        device_id: &str,
        target_name: &str,
    ) -> Result<DeviceProgress, StoreError> {
        let events: Vec<(String,)> = sqlx::query_as(
            "SELECT event FROM reports WHERE device_id = $1 AND target_name = $2 \
             ORDER BY reported_at",
        )
        .bind(device_id)
        .bind(target_name)
        .fetch_all(&self.pool)
        .await?;
        let rows = events
            .into_iter()
            .map(|(event,)| (device_id.to_string(), Some(event)));
        let progress = fold_progress(std::iter::once((device_id.to_string(), None)).chain(rows))?;
        Ok(progress.into_iter().next().unwrap_or(DeviceProgress {
            device_id: device_id.to_string(),
            started: false,
            outcome: None,
        }))
    }
}

/// Folds (device, event) rows, grouped by device and oldest first, into progress: the
/// latest terminal report is the device's outcome.
fn fold_progress(
    rows: impl IntoIterator<Item = (String, Option<String>)>,
) -> Result<Vec<DeviceProgress>, StoreError> {
    let mut devices: Vec<DeviceProgress> = Vec::new();
    for (device_id, event) in rows {
        if devices.last().is_none_or(|d| d.device_id != device_id) {
            devices.push(DeviceProgress {
                device_id,
                started: false,
                outcome: None,
            });
        }
        let (Some(device), Some(event)) = (devices.last_mut(), event) else {
            continue;
        };
        let event: UpdateEvent = parse_db(&event, "report event")?;
        device.started = true;
        if event.is_terminal() {
            device.outcome = Some(event);
        }
    }
    Ok(devices)
}
