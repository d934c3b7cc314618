//! Device keys, request sequences, revocation and per-class enrollment secrets.
//!
//! Replay protection is one conditional `UPDATE` (the sequence must grow and the device
//! must not be revoked), so it holds across server replicas sharing the database;
//! concurrent requests share it by group commit.

use std::collections::{HashMap, HashSet};

use sqlx::{FromRow, QueryBuilder, Sqlite, SqlitePool};

use super::group_commit::BatchWrite;
use super::{Store, StoreError, unix_now};

/// A device's registered key, as the signature check needs it.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct DeviceKeyRecord {
    pub device_id: String,
    pub class: String,
    /// `None` for a device enrolled before device keys existed: it cannot sign in.
    pub public_key: Option<String>,
    pub revoked_at: Option<i64>,
}

/// A device to register with its public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEnrollment<'a> {
    pub device_id: &'a str,
    pub class: &'a str,
    pub public_key: &'a str,
    pub hardware_id: Option<&'a str>,
    /// The sequence of the enrolment request itself, if it was signed.
    pub sequence: i64,
}

/// What registering a key did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrollOutcome {
    /// A new device, or a revoked (or keyless) one given a new key.
    Created,
    /// The device already had this key in this class: nothing changed.
    Unchanged,
    /// The id belongs to another key (or this key was revoked, or another class).
    Conflict,
}

/// `token_sha256` is still `NOT NULL UNIQUE` (0001); keyed devices store this there,
/// which is no sha256 and so matches no token.
fn no_token(device_id: &str) -> String {
    format!("device-key:{device_id}")
}

impl Store {
    pub async fn device_key(&self, device_id: &str) -> Result<Option<DeviceKeyRecord>, StoreError> {
        let record = sqlx::query_as(
            "SELECT device_id, class, public_key, revoked_at FROM devices WHERE device_id = $1",
        )
        .bind(device_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(record)
    }

    /// Accepts `sequence` for the device if it is above the last accepted one and the
    /// device is not revoked; `false` otherwise. Group-committed on the soft-state
    /// connections like the rest of a check-in: a power cut of the server (not a crash)
    /// may forget the last sequences, re-opening a window for replaying those few
    /// requests.
    pub async fn advance_sequence(
        &self,
        device_id: &str,
        sequence: i64,
    ) -> Result<bool, StoreError> {
        self.sequences
            .write((device_id.to_string(), sequence))
            .await
    }

    /// The last accepted sequence of a device that is not revoked.
    pub async fn sequence_floor(&self, device_id: &str) -> Result<Option<i64>, StoreError> {
        let floor = sqlx::query_scalar(
            "SELECT last_sequence FROM devices WHERE device_id = $1 AND revoked_at IS NULL",
        )
        .bind(device_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(floor)
    }

    /// Registers a device's key: a new device, the same key again (unchanged), or a new
    /// key for a revoked or keyless device (replaces it and lifts the revocation).
    pub async fn enroll_device_key(
        &self,
        enrollment: &KeyEnrollment<'_>,
    ) -> Result<EnrollOutcome, StoreError> {
        let mut tx = self.begin().await?;
        // Writing first takes SQLite's write lock at once: a read first would have to
        // upgrade its lock, which fails (busy) when enrolments run concurrently.
        let inserted = sqlx::query(
            "INSERT INTO devices (device_id, class, token_sha256, enrolled_at, \
             public_key, last_sequence, hardware_id) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (device_id) DO NOTHING",
        )
        .bind(enrollment.device_id)
        .bind(enrollment.class)
        .bind(no_token(enrollment.device_id))
        .bind(unix_now())
        .bind(enrollment.public_key)
        .bind(enrollment.sequence)
        .bind(enrollment.hardware_id)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(EnrollOutcome::Created);
        }
        let record: DeviceKeyRecord = sqlx::query_as(
            "SELECT device_id, class, public_key, revoked_at FROM devices WHERE device_id = $1",
        )
        .bind(enrollment.device_id)
        .fetch_one(&mut *tx)
        .await?;
        let same_key = record.public_key.as_deref() == Some(enrollment.public_key);
        let replaceable = record.revoked_at.is_some() || record.public_key.is_none();
        let outcome = if record.class != enrollment.class {
            EnrollOutcome::Conflict
        } else if same_key {
            // A revoked key never comes back.
            if record.revoked_at.is_none() {
                EnrollOutcome::Unchanged
            } else {
                EnrollOutcome::Conflict
            }
        } else if replaceable {
            sqlx::query(
                "UPDATE devices SET public_key = $2, revoked_at = NULL, last_sequence = $3, \
                 token_sha256 = $4 WHERE device_id = $1",
            )
            .bind(enrollment.device_id)
            .bind(enrollment.public_key)
            .bind(enrollment.sequence)
            .bind(no_token(enrollment.device_id))
            .execute(&mut *tx)
            .await?;
            EnrollOutcome::Created
        } else {
            EnrollOutcome::Conflict
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Revokes a device from now on; `false` if there is no such device.
    pub async fn revoke_device(&self, device_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE devices SET revoked_at = $2 WHERE device_id = $1 AND revoked_at IS NULL",
        )
        .bind(device_id)
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(true);
        }
        Ok(self.device_key(device_id).await?.is_some())
    }

    /// Replaces the class's enrollment secret (given as its sha256).
    pub async fn set_enrollment_secret(
        &self,
        class: &str,
        secret_sha256: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO enrollment_secrets (class, secret_sha256, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (class) DO UPDATE SET secret_sha256 = excluded.secret_sha256, \
             created_at = excluded.created_at",
        )
        .bind(class)
        .bind(secret_sha256)
        .bind(unix_now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The sha256 of the class's enrollment secret, if it has one.
    pub async fn enrollment_secret(&self, class: &str) -> Result<Option<String>, StoreError> {
        let hash =
            sqlx::query_scalar("SELECT secret_sha256 FROM enrollment_secrets WHERE class = $1")
                .bind(class)
                .fetch_optional(&self.pool)
                .await?;
        Ok(hash)
    }
}

/// Request sequences: `(device id, sequence)`, answered whether each was accepted.
pub(super) struct Sequences;

impl BatchWrite for Sequences {
    type Item = (String, i64);
    type Answer = bool;

    async fn write(pool: &SqlitePool, items: &[(String, i64)]) -> Result<Vec<bool>, sqlx::Error> {
        // Two requests of one device in a batch: only the highest sequence can win, so
        // the others are refused as the database would have refused them in turn.
        let mut highest: HashMap<&str, i64> = HashMap::new();
        for (device_id, sequence) in items {
            let entry = highest.entry(device_id.as_str()).or_insert(*sequence);
            *entry = (*entry).max(*sequence);
        }
        let mut query: QueryBuilder<Sqlite> =
            QueryBuilder::new("WITH v (device_id, sequence) AS (");
        query.push_values(&highest, |mut values, (device_id, sequence)| {
            values.push_bind(*device_id).push_bind(*sequence);
        });
        query.push(
            ") UPDATE devices SET last_sequence = v.sequence FROM v \
             WHERE devices.device_id = v.device_id AND devices.last_sequence < v.sequence \
             AND devices.revoked_at IS NULL RETURNING devices.device_id",
        );
        let mut tx = pool.begin().await?;
        let accepted: Vec<(String,)> = query.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let mut accepted: HashSet<String> = accepted.into_iter().map(|(id,)| id).collect();
        // The same sequence twice in a batch (a replay racing its original): one wins.
        Ok(items
            .iter()
            .map(|(device_id, sequence)| {
                highest.get(device_id.as_str()) == Some(sequence) && accepted.remove(device_id)
            })
            .collect())
    }
}
