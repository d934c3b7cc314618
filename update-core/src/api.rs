//! Request and response bodies of the server's HTTP APIs, shared by server, client and
//! tools so the two ends cannot drift apart.
//!
//! Nothing here is trusted for security decisions on the device: an [`Assignment`] only
//! names a target; the device verifies it through TUF before it installs anything.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// URL paths of the server.
pub mod paths {
    pub const METADATA: &str = "/metadata";
    pub const TARGETS: &str = "/targets";
    pub const METRICS: &str = "/metrics";
    pub const HEALTH: &str = "/healthz";
    pub const CHECKIN: &str = "/api/v1/device/checkin";
    pub const REPORT: &str = "/api/v1/device/report";
    pub const ADMIN_STATUS: &str = "/api/v1/admin/status";
    pub const ADMIN_DEVICES: &str = "/api/v1/admin/devices";
    /// `POST {ADMIN_DEVICES}/{device_id}/retry`: let the device retry a release that
    /// failed on it.
    pub const RETRY: &str = "retry";
    /// `POST {ADMIN_DEVICES}/{device_id}/revoke`: refuse the device's signatures from now on.
    pub const REVOKE: &str = "revoke";
    /// `POST`: a device enrols itself with its class's enrollment secret (`SelfEnrollment`).
    pub const ENROLL: &str = "/api/v1/device/enroll";
    /// `PUT {ADMIN_CLASSES}/{class}/enrollment-secret`: a new enrollment secret for the class.
    pub const ENROLLMENT_SECRET: &str = "enrollment-secret";
    /// Followed by `/{sha256}`: `HEAD` tells whether the server has the image, `PUT` uploads it.
    pub const ADMIN_IMAGES: &str = "/api/v1/admin/images";
    pub const ADMIN_ROOT: &str = "/api/v1/admin/metadata/root";
    pub const ADMIN_TARGETS: &str = "/api/v1/admin/metadata/targets";
    /// `PUT {ADMIN_DELEGATIONS}/{role}`: a delegated role's signed metadata.
    pub const ADMIN_DELEGATIONS: &str = "/api/v1/admin/metadata/delegations";
    /// `GET` lists class profiles; `/{class}` is one profile, `/{class}/approved` its pin.
    pub const ADMIN_CLASSES: &str = "/api/v1/admin/classes";
    /// `POST` starts a rollout; `GET ?class=C` lists; `/{id}` and `/{id}/{pause,resume,abort}`.
    pub const ADMIN_ROLLOUTS: &str = "/api/v1/admin/rollouts";
    /// `GET ?limit=N&after=ID`: audit log entries, oldest first.
    pub const ADMIN_AUDIT: &str = "/api/v1/admin/audit";
    /// Every admin endpoint is under this prefix (and audited).
    pub const ADMIN_PREFIX: &str = "/api/v1/admin/";
}

/// One of the two slots of an A/B pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Slot::A => "A",
            Slot::B => "B",
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Slot {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "A" | "a" => Ok(Slot::A),
            "B" | "b" => Ok(Slot::B),
            other => Err(format!("unknown slot {other:?}: expected A or B")),
        }
    }
}

/// The steps of one update on a device, in the order they happen. Each is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateEvent {
    /// Verified metadata, download started.
    Downloading,
    /// Image written to the inactive slot and verified there, held until the server lets
    /// the device switch (the class's maintenance window or install cap).
    Staged,
    /// Image written to the inactive slot and verified there; bootloader switched.
    Installed,
    /// Running the new slot on trial, before the health check.
    BootedNew,
    /// Health check passed and the new slot is committed. Terminal.
    Success,
    /// The update failed before the switch; the device still runs its old slot. Terminal.
    Failure,
    /// The new slot was tried and abandoned; the device is back on the old slot. Terminal.
    RolledBack,
}

impl UpdateEvent {
    pub const ALL: [UpdateEvent; 7] = [
        UpdateEvent::Downloading,
        UpdateEvent::Staged,
        UpdateEvent::Installed,
        UpdateEvent::BootedNew,
        UpdateEvent::Success,
        UpdateEvent::Failure,
        UpdateEvent::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UpdateEvent::Downloading => "downloading",
            UpdateEvent::Staged => "staged",
            UpdateEvent::Installed => "installed",
            UpdateEvent::BootedNew => "booted-new",
            UpdateEvent::Success => "success",
            UpdateEvent::Failure => "failure",
            UpdateEvent::RolledBack => "rolled-back",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            UpdateEvent::Success | UpdateEvent::Failure | UpdateEvent::RolledBack
        )
    }
}

impl fmt::Display for UpdateEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for UpdateEvent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UpdateEvent::ALL
            .into_iter()
            .find(|event| event.as_str() == s)
            .ok_or_else(|| format!("unknown update event {s:?}"))
    }
}

/// An update the device has in progress, as its journal records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingUpdate {
    pub target_name: String,
    pub version: semver::Version,
    pub last_event: UpdateEvent,
}

/// `POST /api/v1/device/checkin`, signed with the device's own key (`device_auth`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckIn {
    pub device_id: String,
    pub class: String,
    pub hardware_id: String,
    pub firmware_version: semver::Version,
    /// sha256 of the running slot's image.
    pub image_sha256: String,
    pub boot_slot: Slot,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_update: Option<PendingUpdate>,
    /// The device's clock is behind the latest time it has proven to have passed (its
    /// TUF time floor): it checks expiry against that floor instead, and says so here.
    #[serde(default)]
    pub clock_untrusted: bool,
    /// Digests of the files of the newest configuration profile of the device's class;
    /// `None` when the verified targets list no profile for the class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigState>,
}

/// A device's configuration files measured against a profile: digests only, never
/// contents. The server recomputes `drifted` from `files` and its own copy of the profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigState {
    /// Target name of the profile (`config/<class>-<version>.json`).
    pub profile: String,
    pub version: u64,
    pub files: Vec<FileDigest>,
    /// The paths the device found different from the profile.
    pub drifted: Vec<String>,
}

/// The sha256 of one configuration file; `None` when it is missing or unreadable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub path: String,
    pub sha256: Option<String>,
}

/// The server's answer: which release to run (if any) and when to ask again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<Assignment>,
    pub poll_interval_secs: u64,
}

/// A release named by its TUF target. The device trusts nothing here but the name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub target_name: String,
    pub version: semver::Version,
    /// The operator asked this device to try the release again even if it already failed
    /// here (`ota device retry`). Without it a device never retries a failed release.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retry: bool,
    /// Why the device must not switch to the release yet (its class's maintenance window
    /// is closed, or the class's cap on concurrent installs is reached). The device may
    /// download and write the release into its inactive slot meanwhile, and switches at
    /// the first check-in whose assignment carries no hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
}

/// `POST /api/v1/device/report`: one step of an update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub device_id: String,
    pub target_name: String,
    pub version: semver::Version,
    /// The version the device ran when the update started.
    pub from_version: semver::Version,
    pub event: UpdateEvent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Bytes fetched for this update so far.
    #[serde(default)]
    pub bytes_downloaded: u64,
    /// The form the image travelled in, once the device has chosen it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
}

/// Which signed form of a release a device downloaded, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub kind: PayloadKind,
    /// The target downloaded (a delta, the compressed or the raw image).
    pub target_name: String,
    /// `delta` only: the version of the image the delta was applied to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_version: Option<semver::Version>,
    /// The signed length of `target_name`.
    pub length: u64,
    /// Why this form, in words (e.g. "no delta from the running image's sha256").
    pub reason: String,
    /// Set when a delta was tried first and failed: why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_failure: Option<String>,
}

/// The forms a release is published in (`update_core::firmware::Encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PayloadKind {
    Delta,
    Zstd,
    Raw,
}

impl PayloadKind {
    pub const ALL: [PayloadKind; 3] = [PayloadKind::Delta, PayloadKind::Zstd, PayloadKind::Raw];

    pub fn as_str(self) -> &'static str {
        match self {
            PayloadKind::Delta => "delta",
            PayloadKind::Zstd => "zstd",
            PayloadKind::Raw => "raw",
        }
    }
}

/// Answer to `PUT /api/v1/admin/metadata/targets`: the versions now published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetsPublished {
    pub targets_version: u64,
    pub snapshot_version: u64,
    pub timestamp_version: u64,
}

/// `POST /api/v1/admin/devices`: register a device's public key (made on the device).
/// Also the answer of both enrolment endpoints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEnrollment {
    pub device_id: String,
    pub class: String,
    /// Lowercase hex of the device's 32-byte ed25519 public key.
    pub public_key: String,
}

/// `POST /api/v1/device/enroll`: a device enrols itself, with its class's enrollment
/// secret as bearer token, signed by the key it registers (proof of possession).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfEnrollment {
    pub device_id: String,
    pub class: String,
    pub hardware_id: String,
    pub public_key: String,
}

/// A class's new enrollment secret, shown once (the server keeps only its sha256).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentSecret {
    pub secret: String,
}

/// `PUT /api/v1/admin/classes/{class}/approved`: pin the class's approved release. With
/// no pin, the newest published release of the class is approved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovedRelease {
    pub target_name: String,
}

/// A published firmware release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub target_name: String,
    pub version: semver::Version,
    pub class: String,
    pub hardware: Vec<String>,
    pub sha256: String,
    pub length: u64,
}

/// Terminal outcomes of update attempts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcomes {
    pub success: u64,
    pub failure: u64,
    pub rolled_back: u64,
}

impl Outcomes {
    /// Counts `count` reports of `event`; events that are not outcomes count nothing.
    pub fn add(&mut self, event: UpdateEvent, count: u64) {
        match event {
            UpdateEvent::Success => self.success += count,
            UpdateEvent::Failure => self.failure += count,
            UpdateEvent::RolledBack => self.rolled_back += count,
            UpdateEvent::Downloading
            | UpdateEvent::Staged
            | UpdateEvent::Installed
            | UpdateEvent::BootedNew => {}
        }
    }

    pub fn finished(&self) -> u64 {
        self.success + self.failure + self.rolled_back
    }

    /// Share of finished attempts that succeeded; `None` before any finished.
    pub fn success_rate(&self) -> Option<f64> {
        let finished = self.finished();
        (finished > 0).then(|| self.success as f64 / finished as f64)
    }
}

/// `GET /api/v1/admin/status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FleetStatus {
    pub classes: Vec<ClassStatus>,
    pub devices: Vec<DeviceStatus>,
    pub outcomes: Outcomes,
    /// Update traffic by payload form, one entry per class of `classes`, in the same
    /// order (servers from before payload reports send none, which reads as no traffic).
    #[serde(default)]
    pub payloads: Vec<ClassPayloads>,
}

impl FleetStatus {
    /// The update traffic of `class`, if the server reported any.
    pub fn payloads_of(&self, class: &str) -> Option<&ClassPayloads> {
        self.payloads.iter().find(|p| p.class == class)
    }
}

/// One class's update traffic by the form updates travelled in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassPayloads {
    pub class: String,
    /// One entry per form, in [`PayloadKind::ALL`] order.
    pub kinds: Vec<KindTotals>,
    /// Raw image length of every finished update that downloaded anything: what the
    /// same updates would have downloaded without compression or deltas.
    pub full_equivalent_bytes: u64,
    /// Updates whose delta failed on the device, which then fetched the full image.
    pub delta_fallbacks: u64,
}

/// Updates that chose one form first, and the bytes of the updates that ended in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindTotals {
    pub kind: PayloadKind,
    /// Updates whose first reported payload was this form (the device's choice).
    pub updates: u64,
    /// Bytes downloaded, counted at the terminal report, by the form the update ended in.
    pub bytes_downloaded: u64,
}

impl ClassPayloads {
    /// No traffic yet: every form listed with zero counts.
    pub fn empty(class: &str) -> ClassPayloads {
        ClassPayloads {
            class: class.to_string(),
            kinds: PayloadKind::ALL
                .into_iter()
                .map(|kind| KindTotals {
                    kind,
                    updates: 0,
                    bytes_downloaded: 0,
                })
                .collect(),
            full_equivalent_bytes: 0,
            delta_fallbacks: 0,
        }
    }

    pub fn kind(&self, kind: PayloadKind) -> Option<&KindTotals> {
        self.kinds.iter().find(|totals| totals.kind == kind)
    }

    pub fn kind_mut(&mut self, kind: PayloadKind) -> Option<&mut KindTotals> {
        self.kinds.iter_mut().find(|totals| totals.kind == kind)
    }

    pub fn updates(&self) -> u64 {
        self.kinds.iter().map(|totals| totals.updates).sum()
    }

    /// Bytes downloaded over all forms.
    pub fn bytes_downloaded(&self) -> u64 {
        self.kinds
            .iter()
            .map(|totals| totals.bytes_downloaded)
            .sum()
    }

    /// What the finished updates did not download compared with raw images (never
    /// negative: resumed downloads can fetch more than one image's worth).
    pub fn bytes_saved(&self) -> u64 {
        self.full_equivalent_bytes
            .saturating_sub(self.bytes_downloaded())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassStatus {
    pub class: String,
    pub approved: Option<Release>,
    pub devices: u64,
    pub on_approved: u64,
    /// Devices per running firmware version.
    pub versions: BTreeMap<String, u64>,
    pub outcomes: Outcomes,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceStatus {
    pub device_id: String,
    pub class: String,
    pub firmware_version: Option<semver::Version>,
    pub boot_slot: Option<Slot>,
    pub last_event: Option<UpdateEvent>,
    pub last_reason: Option<String>,
    pub last_seen: Option<chrono::DateTime<chrono::Utc>>,
    /// The device's last check-in said its clock is behind its TUF time floor.
    #[serde(default)]
    pub clock_untrusted: bool,
    /// Where the last check-in came from: the TCP peer, or the client address a trusted
    /// relay forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_address: Option<String>,
    /// The configured relay the last check-in came through, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<String>,
    /// Version of the configuration profile the device last measured against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_version: Option<u64>,
    /// The profile's files that differ on the device (empty: no drift); `None` when the
    /// device reported no configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_drift: Option<Vec<String>>,
}

/// Body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// One audit log entry (`GET /api/v1/admin/audit`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub time: chrono::DateTime<chrono::Utc>,
    /// The admin token's name, `unknown` for a missing or unknown token, or the device id
    /// of a check-in.
    pub actor: String,
    /// `METHOD /route/{pattern}`, or `check-in via unapproved path`.
    pub action: String,
    /// The path parameters (`class=camera`, `id=r-...`), or what the action concerned.
    pub subject: String,
    /// The HTTP status of the answer.
    pub outcome: u16,
    pub source_address: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_from_before_payload_reports_reads_as_no_traffic() {
        let plain = serde_json::json!({
            "classes": [], "devices": [],
            "outcomes": {"success": 1, "failure": 0, "rolled_back": 0}
        });
        let status: FleetStatus = serde_json::from_value(plain).unwrap();
        assert!(status.payloads.is_empty());
        assert_eq!(status.payloads_of("camera"), None);
        assert_eq!(status.outcomes.success, 1);
    }

    #[test]
    fn savings_compare_downloads_with_raw_images() {
        let mut payloads = ClassPayloads::empty("camera");
        let delta = payloads.kind_mut(PayloadKind::Delta).unwrap();
        (delta.updates, delta.bytes_downloaded) = (3, 300);
        let raw = payloads.kind_mut(PayloadKind::Raw).unwrap();
        (raw.updates, raw.bytes_downloaded) = (1, 1000);
        payloads.full_equivalent_bytes = 4000;
        assert_eq!(payloads.updates(), 4);
        assert_eq!(payloads.bytes_downloaded(), 1300);
        assert_eq!(payloads.bytes_saved(), 2700);
        assert_eq!(payloads.kind(PayloadKind::Zstd).unwrap().updates, 0);
        // A resumed download may fetch more than the image: never a negative saving.
        payloads.full_equivalent_bytes = 1000;
        assert_eq!(payloads.bytes_saved(), 0);
    }
}
