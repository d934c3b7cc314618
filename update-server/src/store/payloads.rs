//! The form each update travelled in (delta, zstd or raw image), as devices report it,
//! and the totals status and metrics are made of: updates per form, bytes downloaded, the
//! bytes the same updates would have cost as raw images, and fallbacks from failed deltas.

use std::collections::BTreeMap;

use sqlx::FromRow;
use update_core::api::{ClassPayloads, Payload, PayloadKind, Report, UpdateEvent};

use super::{Store, StoreError, Tx, from_db, to_db, unix_now};

fn kind_from_db(text: &str) -> Result<PayloadKind, StoreError> {
    PayloadKind::ALL
        .into_iter()
        .find(|kind| kind.as_str() == text)
        .ok_or_else(|| StoreError::Corrupt(format!("payload kind {text:?}")))
}

/// Records the payload of a report within the report's transaction. The first payload
/// of an update fixes the form it is counted under; later ones update the rest, and a
/// delta failure, once reported, stays.
pub(super) async fn record_payload(
    tx: &mut Tx,
    class: &str,
    report: &Report,
    payload: &Payload,
) -> Result<(), StoreError> {
    let now = unix_now();
    sqlx::query(
        "INSERT INTO update_payloads (device_id, target_name, class, first_kind, kind, \
         payload_target, base_version, length, reason, delta_failure, first_reported_at, \
         reported_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (device_id, target_name) DO UPDATE SET class = excluded.class, \
         kind = excluded.kind, payload_target = excluded.payload_target, \
         base_version = excluded.base_version, length = excluded.length, \
         reason = excluded.reason, \
         delta_failure = COALESCE(excluded.delta_failure, update_payloads.delta_failure), \
         reported_at = excluded.reported_at",
    )
    .bind(&report.device_id)
    .bind(&report.target_name)
    .bind(class)
    .bind(payload.kind.as_str())
    .bind(payload.kind.as_str())
    .bind(&payload.target_name)
    .bind(payload.base_version.as_ref().map(ToString::to_string))
    .bind(to_db(payload.length, "payload length")?)
    .bind(&payload.reason)
    .bind(payload.delta_failure.as_deref())
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct KindRow {
    class: String,
    kind: String,
    total: i64,
}

#[derive(FromRow)]
struct ClassRow {
    class: String,
    total: i64,
}

/// Updates per class and first reported form. An update that finished having downloaded
/// bytes without ever reporting a payload counts as raw: clients from before payload
/// reports download only the raw image.
const UPDATES_BY_KIND: &str = "SELECT class, kind, COUNT(*) AS total FROM ( \
     SELECT device_id, target_name, class, first_kind AS kind FROM update_payloads \
     UNION \
     SELECT r.device_id, r.target_name, r.class, 'raw' AS kind FROM reports r \
     WHERE r.event IN ($1, $2, $3) AND r.bytes_downloaded > 0 AND NOT EXISTS ( \
         SELECT 1 FROM update_payloads p \
         WHERE p.device_id = r.device_id AND p.target_name = r.target_name) \
     ) AS updates GROUP BY class, kind";

/// Bytes downloaded per class and final form, from the terminal reports.
const BYTES_BY_KIND: &str = "SELECT r.class, COALESCE(p.kind, 'raw') AS kind, \
     CAST(SUM(r.bytes_downloaded) AS BIGINT) AS total FROM reports r \
     LEFT JOIN update_payloads p \
         ON p.device_id = r.device_id AND p.target_name = r.target_name \
     WHERE r.event IN ($1, $2, $3) GROUP BY r.class, COALESCE(p.kind, 'raw')";

/// Raw image bytes of the finished updates that downloaded anything.
const FULL_EQUIVALENT: &str = "SELECT r.class, CAST(SUM(rel.length) AS BIGINT) AS total \
     FROM reports r JOIN releases rel ON rel.target_name = r.target_name \
     WHERE r.event IN ($1, $2, $3) AND r.bytes_downloaded > 0 GROUP BY r.class";

const FALLBACKS: &str = "SELECT class, COUNT(*) AS total FROM update_payloads \
     WHERE delta_failure IS NOT NULL GROUP BY class";

impl Store {
    /// Update traffic per class, for the classes that have any.
    pub async fn payload_totals(&self) -> Result<BTreeMap<String, ClassPayloads>, StoreError> {
        let mut classes = BTreeMap::<String, ClassPayloads>::new();
        for row in self.kind_rows(UPDATES_BY_KIND).await? {
            let kind = kind_from_db(&row.kind)?;
            if let Some(totals) = class_entry(&mut classes, &row.class).kind_mut(kind) {
                totals.updates = from_db(row.total, "update count")?;
            }
        }
        for row in self.kind_rows(BYTES_BY_KIND).await? {
            let kind = kind_from_db(&row.kind)?;
            if let Some(totals) = class_entry(&mut classes, &row.class).kind_mut(kind) {
                totals.bytes_downloaded = from_db(row.total, "bytes downloaded")?;
            }
        }
        let full: Vec<ClassRow> = sqlx::query_as(FULL_EQUIVALENT)
            .bind(UpdateEvent::Success.as_str())
            .bind(UpdateEvent::Failure.as_str())
            .bind(UpdateEvent::RolledBack.as_str())
            .fetch_all(&self.pool)
            .await?;
        for row in full {
            class_entry(&mut classes, &row.class).full_equivalent_bytes =
                from_db(row.total, "full-equivalent bytes")?;
        }
        let fallbacks: Vec<ClassRow> = sqlx::query_as(FALLBACKS).fetch_all(&self.pool).await?;
        for row in fallbacks {
            class_entry(&mut classes, &row.class).delta_fallbacks =
                from_db(row.total, "delta fallbacks")?;
        }
        Ok(classes)
    }

    async fn kind_rows(&self, sql: &str) -> Result<Vec<KindRow>, StoreError> {
        Ok(sqlx::query_as(sql)
            .bind(UpdateEvent::Success.as_str())
            .bind(UpdateEvent::Failure.as_str())
            .bind(UpdateEvent::RolledBack.as_str())
            .fetch_all(&self.pool)
            .await?)
    }
}

fn class_entry<'a>(
    classes: &'a mut BTreeMap<String, ClassPayloads>,
    class: &str,
) -> &'a mut ClassPayloads {
    classes
        .entry(class.to_string())
        .or_insert_with(|| ClassPayloads::empty(class))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_totals_list_every_kind_once() {
        let empty = ClassPayloads::empty("camera");
        let kinds: Vec<PayloadKind> = empty.kinds.iter().map(|k| k.kind).collect();
        assert_eq!(kinds, PayloadKind::ALL.to_vec());
        assert_eq!(empty.bytes_downloaded(), 0);
        assert_eq!(kind_from_db("delta").unwrap(), PayloadKind::Delta);
        assert!(kind_from_db("gzip").is_err());
    }
}
