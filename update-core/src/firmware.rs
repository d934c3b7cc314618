//! The firmware fields a release carries in its target's `custom` object.
//!
//! ```json
//! "custom": { "firmware": {
//!     "version": "1.1.0", "class": "camera", "hardware": ["cam-v2"],
//!     "image": { "length": 33554432, "sha256": "…" }, "encoding": "raw" } }
//! ```
//! `image` describes the bytes that end up in the slot, whatever form the target itself
//! travels in, so a compressed or delta download can be checked after expansion.
//!
//! A release is published as up to three kinds of targets, all signed, all carrying the
//! same `version`, `class`, `hardware` and `image`:
//! - the raw image (`encoding: "raw"`), named by [`default_target_name`]; devices are
//!   assigned this name;
//! - the image compressed with zstd (`encoding: "zstd"`), named [`zstd_target_name`];
//! - deltas from earlier images (`encoding: "delta"`), named [`delta_target_name`] after
//!   the sha256 of their base, with `base` (what the delta applies to) and `release` (the
//!   raw target the result equals). A device looks its delta up by the sha256 of the image
//!   it runs, so nothing has to list the deltas.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;
use crate::schema::{TargetFile, Unrecognized};

/// The `zstd` form is a concatenation of independent zstd frames, each decompressing to at
/// most this many bytes of image: a device decodes it with a window no larger, and after
/// a power cut resumes the download at the last frame boundary it made durable.
pub const ZSTD_FRAME_MAX: u64 = 4 << 20;

/// Key of the firmware object inside a target's `custom`.
pub const CUSTOM_KEY: &str = "firmware";

/// How a target's bytes encode the slot image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// The target is the image.
    #[default]
    Raw,
    /// One zstd frame that decompresses to the image.
    Zstd,
    /// An `update-delta` patch that turns `base` into the image.
    Delta,
}

/// The image a delta applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaBase {
    pub version: semver::Version,
    pub length: u64,
    pub sha256: String,
}
/// The image as written to a slot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    pub length: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Firmware {
    pub version: semver::Version,
    pub class: String,
    pub hardware: Vec<String>,
    pub image: ImageInfo,
    #[serde(default)]
    pub encoding: Encoding,
    /// `delta` only: the image the delta applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<DeltaBase>,
    /// `zstd` and `delta` only: the raw target this one stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    #[serde(flatten)]
    pub unrecognized: Unrecognized,
}

impl Firmware {
    /// The firmware fields of a target; `Ok(None)` for targets that are not firmware.
    pub fn of_target(name: &str, target: &TargetFile) -> Result<Option<Firmware>, Error> {
        let Some(value) = target.custom.as_ref().and_then(|c| c.get(CUSTOM_KEY)) else {
            return Ok(None);
        };
        let invalid = |reason: String| Error::InvalidFirmware {
            target: name.to_string(),
            reason,
        };
        let firmware: Firmware =
            serde_json::from_value(value.clone()).map_err(|e| invalid(e.to_string()))?;
        check_identifier("class", &firmware.class).map_err(invalid)?;
        for hardware in &firmware.hardware {
            check_identifier("hardware id", hardware).map_err(invalid)?;
        }
        if firmware.hardware.is_empty() {
            return Err(invalid("no compatible hardware listed".into()));
        }
        if firmware.encoding == Encoding::Raw
            && (firmware.image.length != target.length
                || Some(firmware.image.sha256.as_str()) != target.sha256())
        {
            return Err(invalid(
                "raw image fields differ from the target's length or sha256".into(),
            ));
        }
        match (firmware.encoding, &firmware.base, &firmware.release) {
            (Encoding::Raw, None, None) => {}
            (Encoding::Zstd, None, Some(_)) | (Encoding::Delta, Some(_), Some(_)) => {}
            (encoding, _, _) => {
                return Err(invalid(format!(
                    "encoding {encoding:?} needs `release` (zstd, delta) and `base` (delta only)"
                )));
            }
        }
        Ok(Some(firmware))
    }

    /// Whether `other` describes the same release as `self` (a compressed or delta form
    /// of the raw target `self`).
    pub fn same_release(&self, other: &Firmware) -> bool {
        self.version == other.version
            && self.class == other.class
            && self.hardware == other.hardware
            && self.image.length == other.image.length
            && self.image.sha256.eq_ignore_ascii_case(&other.image.sha256)
    }

    /// The `custom` object carrying these fields.
    pub fn to_custom(&self) -> Result<Value, Error> {
        let value =
            serde_json::to_value(self).map_err(|e| Error::InvalidMetadata(e.to_string()))?;
        Ok(serde_json::json!({ CUSTOM_KEY: value }))
    }

    pub fn runs_on(&self, hardware_id: &str) -> bool {
        self.hardware.iter().any(|h| h == hardware_id)
    }
}

/// Class names and hardware ids travel in URLs, file names and metric labels: keep them
/// to `[A-Za-z0-9._-]`, 1 to 64 characters, not starting with a dot.
pub fn check_identifier(kind: &str, value: &str) -> Result<(), String> {
    let ok_chars = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if value.is_empty() || value.len() > 64 || !ok_chars || value.starts_with('.') {
        return Err(format!(
            "{kind} {value:?} must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-' and not start with '.'"
        ));
    }
    Ok(())
}

/// The target name `ota` gives a release when none is chosen.
pub fn default_target_name(class: &str, version: &semver::Version) -> String {
    format!("{class}-{version}.img")
}

/// The name of the zstd-compressed form of the raw target `release`.
pub fn zstd_target_name(release: &str) -> String {
    format!("{release}.zst")
}

/// The name of the delta that turns the image with sha256 `base_sha256` into the raw
/// target `release`.
pub fn delta_target_name(release: &str, base_sha256: &str) -> String {
    format!("{release}.from-{}.delta", base_sha256.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn target_with(custom: Value, length: u64, sha256: &str) -> TargetFile {
        let mut hashes = BTreeMap::new();
        hashes.insert("sha256".to_string(), sha256.to_string());
        TargetFile {
            length,
            hashes,
            custom: Some(custom),
            unrecognized: Unrecognized::new(),
        }
    }

    fn firmware() -> Firmware {
        Firmware {
            version: semver::Version::new(1, 2, 3),
            class: "camera".into(),
            hardware: vec!["cam-v2".into()],
            image: ImageInfo {
                length: 10,
                sha256: "ab".repeat(32),
            },
            encoding: Encoding::Raw,
            base: None,
            release: None,
            unrecognized: Unrecognized::new(),
        }
    }

    #[test]
    fn round_trips_through_custom() {
        let fw = firmware();
        let target = target_with(fw.to_custom().unwrap(), 10, &"ab".repeat(32));
        assert_eq!(Firmware::of_target("t", &target).unwrap(), Some(fw));
    }

    #[test]
    fn raw_image_must_match_the_target() {
        let fw = firmware();
        let target = target_with(fw.to_custom().unwrap(), 11, &"ab".repeat(32));
        assert!(Firmware::of_target("t", &target).is_err());
    }

    #[test]
    fn non_firmware_targets_are_none() {
        let target = target_with(serde_json::json!({"other": 1}), 1, "00");
        assert_eq!(Firmware::of_target("t", &target).unwrap(), None);
    }

    #[test]
    fn identifiers_are_restricted() {
        assert!(check_identifier("class", "camera-v2_x.1").is_ok());
        for bad in ["", ".hidden", "a/b", "a b", "é", &"x".repeat(65)] {
            assert!(check_identifier("class", bad).is_err(), "{bad:?}");
        }
    }
}
