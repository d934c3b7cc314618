//! Persistence: every SQL statement of the server lives in this module, behind [`Store`],
//! and the content-addressed files live in [`blobs`].
//!
//! The SQL is portable (`$N` parameters, `INSERT ... ON CONFLICT`, no SQLite-only types),
//! so a PostgreSQL backend needs a different pool type here and nothing elsewhere; see
//! `docs/server.md`.

mod audit;
pub mod blobs;
mod bulk;
mod check_ins;
mod classes;
mod config;
mod controls;
mod delegated;
mod devices;
mod group_commit;
mod identity;
mod metadata;
mod payloads;
mod releases;
mod reports;
mod rollouts;
mod tokens;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

pub use audit::NewAuditEntry;
pub use check_ins::CheckInRecorded;
pub use config::{CheckInSource, DeviceConfig, StoredProfile};
pub use delegated::{DelegatedPublish, DelegatedRecord};
pub use devices::{DeviceIdentity, DeviceRecord};
pub use identity::{DeviceKeyRecord, EnrollOutcome, KeyEnrollment};
pub use metadata::{MetadataRecord, PublishedTarget};
pub use reports::ReleaseCount;
pub use tokens::AdminTokenInfo;

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "server.db";

/// Readers run in parallel under WAL; requests beyond this wait for a connection.
const MAX_CONNECTIONS: u32 = 8;
/// Soft-state writes are serialized by SQLite anyway.
const SOFT_CONNECTIONS: u32 = 2;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("the database holds an invalid value: {0}")]
    Corrupt(String),
    /// A write shared by several requests failed (group commit).
    #[error("database error: {0}")]
    Batch(Arc<sqlx::Error>),
}

/// The server's database. Cheap to clone (a connection pool).
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    /// Bumped after every commit that changes class-level facts (releases, pins, class
    /// profiles, rollouts), so in-memory copies of them know they are stale.
    class_generation: Arc<AtomicU64>,
    /// Soft state, group-committed: what every device re-sends at each check-in (its
    /// running version, slot, source address, configuration digests) and its request
    /// sequences. On a pool with `synchronous = NORMAL` under WAL: its commits are not
    /// fsynced one by one (the database never corrupts; a power cut may lose the last
    /// commits, which the next check-ins restore), so a check-in does not wait for the
    /// disk. Everything acknowledged that is not re-sent (publishing, enrolment, reports,
    /// rollouts) goes through `pool`. On PostgreSQL the same split is
    /// `synchronous_commit = off` for these statements.
    check_ins: group_commit::GroupCommit<check_ins::CheckInRows>,
    sequences: group_commit::GroupCommit<identity::Sequences>,
}

type Tx = Transaction<'static, Sqlite>;

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and applies migrations.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a publish or enrolment acknowledged to a client survives power loss.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let soft = SqlitePoolOptions::new()
            .max_connections(SOFT_CONNECTIONS)
            .connect_with(options.synchronous(SqliteSynchronous::Normal))
            .await?;
        Ok(Store {
            pool,
            check_ins: group_commit::GroupCommit::start(soft.clone()),
            sequences: group_commit::GroupCommit::start(soft),
            class_generation: Arc::default(),
        })
    }

    async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Commits a transaction that changed class-level facts and says so to
    /// [`Store::class_generation`] readers.
    async fn commit_class_change(&self, tx: Tx) -> Result<(), StoreError> {
        tx.commit().await?;
        self.class_generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Changes when this process commits class-level facts; other replicas' changes are
    /// not seen here (readers bound their age instead).
    pub fn class_generation(&self) -> u64 {
        self.class_generation.load(Ordering::Acquire)
    }
}

/// Maps a unique-key violation to [`StoreError::AlreadyExists`] naming `what`.
fn unique_violation(what: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists(what()),
        _ => StoreError::Database(error),
    }
}

pub(crate) fn unix_now() -> i64 {
    Utc::now().timestamp()
}

fn to_db(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value} is too large")))
}

fn from_db(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value} is negative")))
}

fn time_from_db(seconds: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp(seconds, 0)
        .ok_or_else(|| StoreError::Corrupt(format!("time {seconds} is out of range")))
}

fn parse_db<T: FromStr>(text: &str, what: &str) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} {text:?}")))
}
