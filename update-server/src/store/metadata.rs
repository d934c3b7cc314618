//! Which metadata files the repository published (role, version, content hash, expiry),
//! and the publish transaction that makes a new targets version current.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use update_core::api::Release;
use update_core::schema::RoleType;

use super::blobs::BlobId;
use super::releases::upsert_release;
use super::{Store, StoreError, Tx, from_db, time_from_db, to_db, unique_violation, unix_now};

/// One published metadata file; its bytes are the blob `sha256`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataRecord {
    pub role: RoleType,
    pub version: u64,
    pub sha256: BlobId,
    pub length: u64,
    pub expires: DateTime<Utc>,
}

/// A target file listed by a published targets version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedTarget {
    pub target_name: String,
    pub sha256: BlobId,
    pub length: u64,
}

#[derive(FromRow)]
struct MetadataRow {
    role: String,
    version: i64,
    sha256: String,
    length: i64,
    expires: i64,
}

impl TryFrom<MetadataRow> for MetadataRecord {
    type Error = StoreError;
    fn try_from(row: MetadataRow) -> Result<Self, StoreError> {
        let role: RoleType = row
            .role
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("metadata role {:?}", row.role)))?;
        Ok(MetadataRecord {
            role,
            version: from_db(row.version, "metadata version")?,
            sha256: BlobId::parse(&row.sha256)
                .map_err(|_| StoreError::Corrupt(format!("metadata hash {:?}", row.sha256)))?,
            length: from_db(row.length, "metadata length")?,
            expires: time_from_db(row.expires)?,
        })
    }
}

const COLUMNS: &str = "role, version, sha256, length, expires";

impl Store {
    /// The newest version of `role`, if any was published.
    pub async fn latest_metadata(
        &self,
        role: RoleType,
    ) -> Result<Option<MetadataRecord>, StoreError> {
        let row: Option<MetadataRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM metadata_versions WHERE role = $1 \
             ORDER BY version DESC LIMIT 1"
        ))
        .bind(role.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(MetadataRecord::try_from).transpose()
    }

    pub async fn metadata_version(
        &self,
        role: RoleType,
        version: u64,
    ) -> Result<Option<MetadataRecord>, StoreError> {
        let row: Option<MetadataRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM metadata_versions WHERE role = $1 AND version = $2"
        ))
        .bind(role.as_str())
        .bind(to_db(version, "metadata version")?)
        .fetch_optional(&self.pool)
        .await?;
        row.map(MetadataRecord::try_from).transpose()
    }

    /// Records new metadata versions together (a root, or a re-signed snapshot and
    /// timestamp). A version that exists already fails the whole set.
    pub async fn insert_metadata(&self, records: &[MetadataRecord]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for record in records {
            insert_record(&mut tx, record).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Makes a new targets version current in one transaction: its metadata with the
    /// snapshot and timestamp naming it, the target files it lists and its firmware
    /// releases.
    pub async fn record_publish(
        &self,
        metadata: &[MetadataRecord],
        targets_version: u64,
        targets: &[PublishedTarget],
        releases: &[Release],
    ) -> Result<(), StoreError> {
        let version = to_db(targets_version, "targets version")?;
        let mut tx = self.begin().await?;
        for record in metadata {
            insert_record(&mut tx, record).await?;
        }
        insert_targets(&mut tx, targets, version).await?;
        for release in releases {
            upsert_release(&mut tx, release, version).await?;
        }
        self.commit_class_change(tx).await?;
        Ok(())
    }

    /// Whether some published targets version listed `target_name` with this content.
    pub async fn is_published_target(
        &self,
        target_name: &str,
        sha256: &BlobId,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT length FROM published_targets WHERE target_name = $1 AND sha256 = $2",
        )
        .bind(target_name)
        .bind(sha256.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }
}

/// Records the target files a targets version (or a delegated role) lists.
pub(super) async fn insert_targets(
    tx: &mut Tx,
    targets: &[PublishedTarget],
    version: i64,
) -> Result<(), StoreError> {
    for target in targets {
        sqlx::query(
            "INSERT INTO published_targets (target_name, sha256, length, \
             first_targets_version) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (target_name, sha256) DO NOTHING",
        )
        .bind(&target.target_name)
        .bind(target.sha256.as_str())
        .bind(to_db(target.length, "target length")?)
        .bind(version)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub(super) async fn insert_record(tx: &mut Tx, record: &MetadataRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO metadata_versions (role, version, sha256, length, expires, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(record.role.as_str())
    .bind(to_db(record.version, "metadata version")?)
    .bind(record.sha256.as_str())
    .bind(to_db(record.length, "metadata length")?)
    .bind(record.expires.timestamp())
    .bind(unix_now())
    .execute(&mut **tx)
    .await
    .map_err(unique_violation(|| {
        format!("{} metadata version {}", record.role, record.version)
    }))?;
    Ok(())
}
