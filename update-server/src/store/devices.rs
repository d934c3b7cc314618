//! Enrolled devices and the state of their last check-in (keys: `identity`).

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use update_core::api::{Slot, UpdateEvent};

use super::config::drift_from_db;
use super::{Store, StoreError, from_db, parse_db, time_from_db};

/// A device and its class.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct DeviceIdentity {
    pub device_id: String,
    pub class: String,
}

/// What the server knows about a device, for status and metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceRecord {
    pub device_id: String,
    pub class: String,
    pub hardware_id: Option<String>,
    pub firmware_version: Option<semver::Version>,
    pub boot_slot: Option<Slot>,
    pub last_event: Option<UpdateEvent>,
    pub last_reason: Option<String>,
    pub last_seen: Option<DateTime<Utc>>,
    pub clock_untrusted: bool,
    /// Where the last check-in came from (TCP peer or the address a relay forwarded).
    pub source_address: Option<String>,
    /// The relay the last check-in came through.
    pub relay: Option<String>,
    /// The profile version the last check-in measured; `None`: no configuration reported.
    pub config_version: Option<u64>,
    /// The profile files that drifted at the last check-in (empty: none).
    pub config_drift: Option<Vec<String>>,
}

#[derive(FromRow)]
struct DeviceRow {
    device_id: String,
    class: String,
    hardware_id: Option<String>,
    firmware_version: Option<String>,
    boot_slot: Option<String>,
    last_event: Option<String>,
    last_reason: Option<String>,
    last_seen: Option<i64>,
    clock_untrusted: bool,
    source_address: Option<String>,
    relay: Option<String>,
    config_version: Option<i64>,
    config_drift_json: Option<String>,
}

impl TryFrom<DeviceRow> for DeviceRecord {
    type Error = StoreError;
    fn try_from(row: DeviceRow) -> Result<Self, StoreError> {
        let last_event = match row.last_event.as_deref() {
            Some(text) => Some(
                text.parse::<UpdateEvent>()
                    .map_err(|_| StoreError::Corrupt(format!("device event {text:?}")))?,
            ),
            None => None,
        };
        Ok(DeviceRecord {
            firmware_version: row
                .firmware_version
                .as_deref()
                .map(|v| parse_db(v, "firmware version"))
                .transpose()?,
            boot_slot: row
                .boot_slot
                .as_deref()
                .map(|s| parse_db(s, "boot slot"))
                .transpose()?,
            last_seen: row.last_seen.map(time_from_db).transpose()?,
            config_version: row
                .config_version
                .map(|v| from_db(v, "profile version"))
                .transpose()?,
            config_drift: drift_from_db(row.config_drift_json.as_deref())?,
            source_address: row.source_address,
            relay: row.relay,
            last_event,
            device_id: row.device_id,
            class: row.class,
            hardware_id: row.hardware_id,
            last_reason: row.last_reason,
            clock_untrusted: row.clock_untrusted,
        })
    }
}

impl Store {
    /// Lets the device retry a release that failed on it; `false` if no such device.
    pub async fn request_retry(&self, device_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE devices SET retry_requested = 1 WHERE device_id = $1")
            .bind(device_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The device started an update: an earlier retry request has been acted on.
    pub async fn clear_retry(&self, device_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE devices SET retry_requested = 0 WHERE device_id = $1")
            .bind(device_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every enrolled device, ordered by id.
    pub async fn devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        let rows: Vec<DeviceRow> = sqlx::query_as(
            "SELECT device_id, class, hardware_id, firmware_version, boot_slot, last_event, \
             last_reason, last_seen, clock_untrusted, source_address, relay, config_version, \
             config_drift_json FROM devices ORDER BY device_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(DeviceRecord::try_from).collect()
    }
}
