//! Check-in state, written by group commit ([`super::group_commit`]): every check-in
//! rewrites its device's soft state (running version, slot, pending update, source,
//! configuration digests), and concurrent check-ins share one `UPDATE ... FROM (VALUES
//! ...)` statement and one commit.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use update_core::api::CheckIn;

use super::config::{CheckInSource, DeviceConfig};
use super::group_commit::BatchWrite;
use super::{Store, StoreError, to_db, unix_now};

/// What recording a check-in read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckInRecorded {
    /// The operator let the device retry a release that failed on it.
    pub retry_requested: bool,
}

/// One device's new soft state, owned so it can wait in the queue.
#[derive(Debug)]
pub(super) struct Row {
    device_id: String,
    hardware_id: String,
    firmware_version: String,
    image_sha256: String,
    boot_slot: &'static str,
    pending_target: Option<String>,
    pending_version: Option<String>,
    pending_event: Option<&'static str>,
    last_seen: i64,
    peer_address: String,
    clock_untrusted: bool,
    source_address: String,
    relay: Option<String>,
    config_version: Option<i64>,
    config_drift_json: Option<String>,
}

/// Check-in rows (15 parameters each, 3,840 in a full batch).
pub(super) struct CheckInRows;

impl BatchWrite for CheckInRows {
    type Item = Row;
    type Answer = CheckInRecorded;

    async fn write(pool: &SqlitePool, rows: &[Row]) -> Result<Vec<CheckInRecorded>, sqlx::Error> {
        let retry = write(pool, rows).await?;
        Ok(rows
            .iter()
            .map(|row| CheckInRecorded {
                retry_requested: retry.get(&row.device_id).copied().unwrap_or(false),
            })
            .collect())
    }
}

impl Store {
    /// Records a check-in: what the device runs, where the request came from
    /// (`peer_address` as connected, `source` as the management path) and its
    /// configuration state (`None`: it reported none); answers whether the operator let
    /// the device retry a failed release. Returns once the state is committed.
    pub async fn record_check_in(
        &self,
        check_in: &CheckIn,
        peer_address: &str,
        source: &CheckInSource,
        config: Option<&DeviceConfig>,
    ) -> Result<CheckInRecorded, StoreError> {
        let pending = check_in.pending_update.as_ref();
        let row = Row {
            device_id: check_in.device_id.clone(),
            hardware_id: check_in.hardware_id.clone(),
            firmware_version: check_in.firmware_version.to_string(),
            image_sha256: check_in.image_sha256.clone(),
            boot_slot: check_in.boot_slot.as_str(),
            pending_target: pending.map(|p| p.target_name.clone()),
            pending_version: pending.map(|p| p.version.to_string()),
            pending_event: pending.map(|p| p.last_event.as_str()),
            last_seen: unix_now(),
            peer_address: peer_address.to_string(),
            clock_untrusted: check_in.clock_untrusted,
            source_address: source.address.clone(),
            relay: source.relay.clone(),
            config_version: config
                .map(|c| to_db(c.version, "profile version"))
                .transpose()?,
            config_drift_json: config
                .map(|c| serde_json::to_string(&c.drifted))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("drifted paths: {e}")))?,
        };
        self.check_ins.write(row).await
    }
}

/// Writes `rows` in one statement and one commit; each device's retry flag by id.
async fn write(pool: &SqlitePool, rows: &[Row]) -> Result<HashMap<String, bool>, sqlx::Error> {
    let mut query: QueryBuilder<Sqlite> = QueryBuilder::new(
        "WITH v (device_id, hardware_id, firmware_version, image_sha256, boot_slot, \
         pending_target, pending_version, pending_event, last_seen, peer_address, \
         clock_untrusted, source_address, relay, config_version, config_drift_json) AS (",
    );
    query.push_values(rows, |mut values, row| {
        values
            .push_bind(&row.device_id)
            .push_bind(&row.hardware_id)
            .push_bind(&row.firmware_version)
            .push_bind(&row.image_sha256)
            .push_bind(row.boot_slot)
            .push_bind(row.pending_target.as_deref())
            .push_bind(row.pending_version.as_deref())
            .push_bind(row.pending_event)
            .push_bind(row.last_seen)
            .push_bind(&row.peer_address)
            .push_bind(row.clock_untrusted)
            .push_bind(&row.source_address)
            .push_bind(row.relay.as_deref())
            .push_bind(row.config_version)
            .push_bind(row.config_drift_json.as_deref());
    });
    query.push(
        ") UPDATE devices SET hardware_id = v.hardware_id, \
         firmware_version = v.firmware_version, image_sha256 = v.image_sha256, \
         boot_slot = v.boot_slot, pending_target = v.pending_target, \
         pending_version = v.pending_version, pending_event = v.pending_event, \
         last_seen = v.last_seen, peer_address = v.peer_address, \
         clock_untrusted = v.clock_untrusted, source_address = v.source_address, \
         relay = v.relay, config_version = v.config_version, \
         config_drift_json = v.config_drift_json \
         FROM v WHERE devices.device_id = v.device_id \
         RETURNING devices.device_id, devices.retry_requested",
    );
    let mut tx = pool.begin().await?;
    let returned: Vec<(String, bool)> = query.build_query_as().fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(returned.into_iter().collect())
}
