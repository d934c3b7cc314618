//! Group commit of check-in state. Every check-in rewrites its device's soft state
//! (running version, slot, pending update, source, configuration digests); one
//! transaction and one statement per check-in queue on SQLite's single writer and its
//! per-connection thread. Here concurrent check-ins hand their rows to one writer task,
//! which writes everything queued as one `UPDATE ... FROM (VALUES ...)` statement in one
//! commit, then answers each check-in: a check-in still returns only after its state is
//! committed, a burst costs one commit instead of hundreds.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use update_core::api::CheckIn;

use super::config::{CheckInSource, DeviceConfig};
use super::{Store, StoreError, to_db, unix_now};

/// Rows per statement: 15 parameters each, well under SQLite's 32,766.
const MAX_BATCH: usize = 256;
/// Check-ins waiting for the writer before new ones wait to be queued.
const QUEUE: usize = 4096;

/// What recording a check-in read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckInRecorded {
    /// The operator let the device retry a release that failed on it.
    pub retry_requested: bool,
}

/// One device's new soft state, owned so it can wait in the queue.
#[derive(Debug)]
struct Row {
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

struct Job {
    row: Row,
    done: oneshot::Sender<Result<CheckInRecorded, StoreError>>,
}

/// The sending side of the writer task; the task ends when the last store clone drops.
#[derive(Clone, Debug)]
pub(super) struct CheckInWriter {
    jobs: mpsc::Sender<Job>,
}

impl CheckInWriter {
    pub(super) fn start(pool: SqlitePool) -> CheckInWriter {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(pool, queue));
        CheckInWriter { jobs }
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("row", &self.row).finish()
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
        let (done, answer) = oneshot::channel();
        let stopped = || StoreError::Corrupt("the check-in writer has stopped".into());
        self.check_ins
            .jobs
            .send(Job { row, done })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_batches(pool: SqlitePool, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let rows: Vec<&Row> = jobs.iter().map(|job| &job.row).collect();
        match write(&pool, &rows).await {
            Ok(retry) => {
                for job in jobs.drain(..) {
                    let retry_requested = retry.get(&job.row.device_id).copied().unwrap_or(false);
                    // A check-in whose client went away no longer waits for its answer.
                    let _ = job.done.send(Ok(CheckInRecorded { retry_requested }));
                }
            }
            Err(error) => {
                let error = Arc::new(error);
                for job in jobs.drain(..) {
                    let _ = job.done.send(Err(StoreError::Batch(error.clone())));
                }
            }
        }
    }
}

/// Writes `rows` in one statement and one commit; each device's retry flag by id.
async fn write(pool: &SqlitePool, rows: &[&Row]) -> Result<HashMap<String, bool>, sqlx::Error> {
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
