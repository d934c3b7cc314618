//! Published metadata of delegated targets roles (the per-class signing roles of
//! docs/delegations.md), and the transaction that makes a new role version current
//! together with the snapshot and timestamp that name it.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use update_core::api::Release;

use super::blobs::BlobId;
use super::metadata::{MetadataRecord, PublishedTarget, insert_record, insert_targets};
use super::releases::upsert_release;
use super::{Store, StoreError, from_db, time_from_db, to_db, unique_violation, unix_now};

/// One published version of a delegated role; its bytes are the blob `sha256`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelegatedRecord {
    pub role_name: String,
    pub version: u64,
    pub sha256: BlobId,
    pub length: u64,
    pub expires: DateTime<Utc>,
}

#[derive(FromRow)]
struct DelegatedRow {
    role_name: String,
    version: i64,
    sha256: String,
    length: i64,
    expires: i64,
}

impl TryFrom<DelegatedRow> for DelegatedRecord {
    type Error = StoreError;
    fn try_from(row: DelegatedRow) -> Result<Self, StoreError> {
        Ok(DelegatedRecord {
            version: from_db(row.version, "delegated metadata version")?,
            sha256: BlobId::parse(&row.sha256)
                .map_err(|_| StoreError::Corrupt(format!("metadata hash {:?}", row.sha256)))?,
            length: from_db(row.length, "delegated metadata length")?,
            expires: time_from_db(row.expires)?,
            role_name: row.role_name,
        })
    }
}

const COLUMNS: &str = "role_name, version, sha256, length, expires";

/// What one delegated role version adds to the repository.
pub struct DelegatedPublish<'a> {
    pub role: &'a DelegatedRecord,
    /// The new snapshot and timestamp.
    pub metadata: &'a [MetadataRecord],
    /// The current top-level targets version, under which the role's releases count as
    /// current.
    pub targets_version: u64,
    pub targets: &'a [PublishedTarget],
    pub releases: &'a [Release],
}

impl Store {
    /// The newest version of delegated role `role_name`, if any was published.
    pub async fn latest_delegated(
        &self,
        role_name: &str,
    ) -> Result<Option<DelegatedRecord>, StoreError> {
        let row: Option<DelegatedRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM delegated_metadata WHERE role_name = $1 \
             ORDER BY version DESC LIMIT 1"
        ))
        .bind(role_name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(DelegatedRecord::try_from).transpose()
    }

    pub async fn delegated_version(
        &self,
        role_name: &str,
        version: u64,
    ) -> Result<Option<DelegatedRecord>, StoreError> {
        let row: Option<DelegatedRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM delegated_metadata WHERE role_name = $1 AND version = $2"
        ))
        .bind(role_name)
        .bind(to_db(version, "delegated metadata version")?)
        .fetch_optional(&self.pool)
        .await?;
        row.map(DelegatedRecord::try_from).transpose()
    }

    /// The newest version of every delegated role ever published, by role name: the
    /// snapshot lists them all, since a role once listed may never disappear from it.
    pub async fn latest_delegated_roles(&self) -> Result<Vec<DelegatedRecord>, StoreError> {
        let rows: Vec<DelegatedRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM delegated_metadata d WHERE version = \
             (SELECT MAX(m.version) FROM delegated_metadata m WHERE m.role_name = d.role_name) \
             ORDER BY role_name"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(DelegatedRecord::try_from).collect()
    }

    /// Makes a new delegated role version current in one transaction: the role's file,
    /// the snapshot and timestamp naming it, the target files it lists and its releases.
    pub async fn record_delegated_publish(
        &self,
        publish: DelegatedPublish<'_>,
    ) -> Result<(), StoreError> {
        let targets_version = to_db(publish.targets_version, "targets version")?;
        let role = publish.role;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO delegated_metadata (role_name, version, sha256, length, expires, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&role.role_name)
        .bind(to_db(role.version, "delegated metadata version")?)
        .bind(role.sha256.as_str())
        .bind(to_db(role.length, "delegated metadata length")?)
        .bind(role.expires.timestamp())
        .bind(unix_now())
        .execute(&mut *tx)
        .await
        .map_err(unique_violation(|| {
            format!("{} metadata version {}", role.role_name, role.version)
        }))?;
        for record in publish.metadata {
            insert_record(&mut tx, record).await?;
        }
        insert_targets(&mut tx, publish.targets, targets_version).await?;
        for release in publish.releases {
            upsert_release(&mut tx, release, targets_version).await?;
        }
        self.commit_class_change(tx).await?;
        Ok(())
    }
}
