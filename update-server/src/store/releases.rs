//! Firmware releases (the firmware targets of published targets versions) and the
//! operators' approved-release pins per class.

use std::collections::BTreeMap;

use sqlx::FromRow;
use update_core::api::Release;

use super::classes::write_pin;
use super::{Store, StoreError, Tx, from_db, parse_db, to_db};

#[derive(FromRow)]
struct ReleaseRow {
    target_name: String,
    class: String,
    version: String,
    sha256: String,
    length: i64,
    hardware_id: String,
}

const RELEASE_SELECT: &str = "SELECT r.target_name, r.class, r.version, r.sha256, r.length, \
     h.hardware_id FROM releases r JOIN release_hardware h ON h.target_name = r.target_name";

/// Folds one row per (release, hardware id), ordered by target name, into releases.
fn collect_releases(rows: Vec<ReleaseRow>) -> Result<Vec<Release>, StoreError> {
    let mut releases: Vec<Release> = Vec::new();
    for row in rows {
        match releases.last_mut() {
            Some(last) if last.target_name == row.target_name => {
                last.hardware.push(row.hardware_id);
            }
            _ => releases.push(Release {
                version: parse_db(&row.version, "release version")?,
                length: from_db(row.length, "release length")?,
                hardware: vec![row.hardware_id],
                target_name: row.target_name,
                class: row.class,
                sha256: row.sha256,
            }),
        }
    }
    Ok(releases)
}

/// Inserts or updates a release listed by targets version `targets_version`.
pub(super) async fn upsert_release(
    tx: &mut Tx,
    release: &Release,
    targets_version: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO releases (target_name, class, version, sha256, length, \
         first_targets_version, last_targets_version) VALUES ($1, $2, $3, $4, $5, $6, $6) \
         ON CONFLICT (target_name) DO UPDATE SET class = excluded.class, \
         version = excluded.version, sha256 = excluded.sha256, length = excluded.length, \
         first_targets_version = CASE WHEN releases.sha256 = excluded.sha256 \
         THEN releases.first_targets_version ELSE excluded.first_targets_version END, \
         last_targets_version = excluded.last_targets_version",
    )
    .bind(&release.target_name)
    .bind(&release.class)
    .bind(release.version.to_string())
    .bind(&release.sha256)
    .bind(to_db(release.length, "release length")?)
    .bind(targets_version)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM release_hardware WHERE target_name = $1")
        .bind(&release.target_name)
        .execute(&mut **tx)
        .await?;
    for hardware_id in &release.hardware {
        sqlx::query(
            "INSERT INTO release_hardware (target_name, hardware_id) VALUES ($1, $2) \
             ON CONFLICT (target_name, hardware_id) DO NOTHING",
        )
        .bind(&release.target_name)
        .bind(hardware_id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Releases listed by the newest published targets version, ordered by target name.
    pub async fn current_releases(&self) -> Result<Vec<Release>, StoreError> {
        let rows = sqlx::query_as(&format!(
            "{RELEASE_SELECT} WHERE r.last_targets_version = \
             (SELECT MAX(version) FROM metadata_versions WHERE role = 'targets') \
             ORDER BY r.target_name, h.hardware_id"
        ))
        .fetch_all(&self.pool)
        .await?;
        collect_releases(rows)
    }

    /// A release any published targets version listed under `target_name` (its latest form).
    pub async fn release(&self, target_name: &str) -> Result<Option<Release>, StoreError> {
        let rows = sqlx::query_as(&format!(
            "{RELEASE_SELECT} WHERE r.target_name = $1 ORDER BY r.target_name, h.hardware_id"
        ))
        .bind(target_name)
        .fetch_all(&self.pool)
        .await?;
        Ok(collect_releases(rows)?.pop())
    }

    /// Pins `class` to the release `target_name` (the baseline of its profile).
    pub async fn set_pin(&self, class: &str, target_name: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        write_pin(&mut tx, class, Some(target_name)).await?;
        self.commit_class_change(tx).await?;
        Ok(())
    }

    /// Pinned target name per class.
    pub async fn pins(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT class, target_name FROM class_pins")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().collect())
    }
}
