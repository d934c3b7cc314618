//! Configuration profiles as published, and per device the facts of its last check-in
//! that the drift and management-path views need: where it came from and which profile
//! files drifted.

use std::collections::BTreeMap;

use update_core::config_profile::ConfigProfile;

use super::{Store, StoreError, from_db, to_db};

/// A published configuration profile with its contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredProfile {
    pub target_name: String,
    pub sha256: String,
    pub profile: ConfigProfile,
}

/// What the server concluded about a device's configuration at its last check-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceConfig {
    pub version: u64,
    /// Drifted paths, computed by the server (empty: no drift).
    pub drifted: Vec<String>,
}

/// Where a check-in came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckInSource {
    /// The TCP peer, or the client address a configured relay forwarded.
    pub address: String,
    /// The relay the check-in came through, if the peer is one.
    pub relay: Option<String>,
}

impl Store {
    /// Records the profiles a newly published targets version lists.
    pub async fn record_config_profiles(
        &self,
        profiles: &[StoredProfile],
        targets_version: u64,
    ) -> Result<(), StoreError> {
        let targets_version = to_db(targets_version, "targets version")?;
        let mut tx = self.begin().await?;
        for stored in profiles {
            let json = serde_json::to_string(&stored.profile)
                .map_err(|e| StoreError::Corrupt(format!("profile: {e}")))?;
            sqlx::query(
                "INSERT INTO config_profiles (class, version, target_name, sha256, \
                 profile_json, first_targets_version) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (class, version) DO UPDATE SET sha256 = excluded.sha256, \
                 profile_json = excluded.profile_json",
            )
            .bind(&stored.profile.class)
            .bind(to_db(stored.profile.version, "profile version")?)
            .bind(&stored.target_name)
            .bind(&stored.sha256)
            .bind(json)
            .bind(targets_version)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The published profile `version` of `class`, if any.
    pub async fn config_profile(
        &self,
        class: &str,
        version: u64,
    ) -> Result<Option<StoredProfile>, StoreError> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT target_name, sha256, profile_json FROM config_profiles \
             WHERE class = $1 AND version = $2",
        )
        .bind(class)
        .bind(to_db(version, "profile version")?)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(target_name, sha256, json)| {
            let profile = ConfigProfile::parse(json.as_bytes())
                .map_err(|e| StoreError::Corrupt(format!("profile {target_name:?}: {e}")))?;
            Ok(StoredProfile {
                target_name,
                sha256,
                profile,
            })
        })
        .transpose()
    }

    /// The newest profile version of every class that has one.
    pub async fn newest_config_versions(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT class, MAX(version) FROM config_profiles GROUP BY class ORDER BY class",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(class, version)| Ok((class, from_db(version, "profile version")?)))
            .collect()
    }
}

/// The drifted paths stored as JSON.
pub(super) fn drift_from_db(json: Option<&str>) -> Result<Option<Vec<String>>, StoreError> {
    json.map(|text| {
        serde_json::from_str(text)
            .map_err(|e| StoreError::Corrupt(format!("drifted paths {text:?}: {e}")))
    })
    .transpose()
}
