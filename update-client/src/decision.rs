//! Whether this device may install a verified release: the policy checks that come after
//! TUF has vouched for a target's bytes. Every refusal is final for that release.

use update_core::firmware::{Encoding, Firmware};
use update_core::schema::TargetFile;

/// Why a verified release is not for this device.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("target {0} is not in the signed targets metadata")]
    UnknownTarget(String),
    #[error("target {0} carries no firmware fields")]
    NotFirmware(String),
    #[error("{0}")]
    InvalidFirmware(String),
    #[error("target {name} is the {encoding} form of a release, not a raw firmware image")]
    NotRawImage { name: String, encoding: String },
    #[error("release is for class {release}, this device is class {device}")]
    OtherClass { release: String, device: String },
    #[error("release does not support hardware {device} (it lists {listed})")]
    OtherHardware { device: String, listed: String },
    #[error("release version {offered} is not newer than the running version {running}")]
    NotNewer {
        offered: semver::Version,
        running: semver::Version,
    },
    #[error("signed release version {signed} differs from the assigned version {assigned}")]
    AssignmentMismatch {
        signed: semver::Version,
        assigned: semver::Version,
    },
}

/// What the decision needs to know about this device.
#[derive(Clone, Debug)]
pub struct Device<'a> {
    pub class: &'a str,
    pub hardware_id: &'a str,
    pub running_version: &'a semver::Version,
}

/// Checks a release against the device: firmware fields present and valid, a raw image
/// (devices are assigned raw targets; the compressed and delta forms are chosen here), same class,
/// listed hardware, version strictly newer than the running one (anti-rollback), and the
/// version the server assigned. Returns the firmware fields to install.
pub fn decide(
    device: &Device<'_>,
    target_name: &str,
    target: Option<&TargetFile>,
    assigned_version: &semver::Version,
) -> Result<Firmware, Refusal> {
    let target = target.ok_or_else(|| Refusal::UnknownTarget(target_name.to_string()))?;
    let firmware = Firmware::of_target(target_name, target)
        .map_err(|e| Refusal::InvalidFirmware(e.to_string()))?
        .ok_or_else(|| Refusal::NotFirmware(target_name.to_string()))?;
    if firmware.encoding != Encoding::Raw {
        return Err(Refusal::NotRawImage {
            name: target_name.to_string(),
            encoding: encoding_name(firmware.encoding).to_string(),
        });
    }
    if firmware.class != device.class {
        return Err(Refusal::OtherClass {
            release: firmware.class,
            device: device.class.to_string(),
        });
    }
    if !firmware.runs_on(device.hardware_id) {
        return Err(Refusal::OtherHardware {
            device: device.hardware_id.to_string(),
            listed: firmware.hardware.join(", "),
        });
    }
    if firmware.version <= *device.running_version {
        return Err(Refusal::NotNewer {
            offered: firmware.version,
            running: device.running_version.clone(),
        });
    }
    if firmware.version != *assigned_version {
        return Err(Refusal::AssignmentMismatch {
            signed: firmware.version,
            assigned: assigned_version.clone(),
        });
    }
    Ok(firmware)
}

/// The name `custom.firmware.encoding` gives an encoding.
pub fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Raw => "raw",
        Encoding::Zstd => "zstd",
        Encoding::Delta => "delta",
    }
}

#[cfg(test)]
mod tests {
    use update_core::firmware::{DeltaBase, ImageInfo};
    use update_core::schema::Unrecognized;

    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn target(version: &str, class: &str, hardware: &[&str]) -> TargetFile {
        let firmware = Firmware {
            version: version.parse().unwrap(),
            class: class.into(),
            hardware: hardware.iter().map(|h| h.to_string()).collect(),
            image: ImageInfo {
                length: 4096,
                sha256: SHA.into(),
            },
            encoding: Encoding::Raw,
            base: None,
            release: None,
            unrecognized: Unrecognized::new(),
        };
        TargetFile::new(4096, SHA.into(), Some(firmware.to_custom().unwrap()))
    }

    fn device(running: &semver::Version) -> Device<'_> {
        Device {
            class: "camera",
            hardware_id: "cam-v2",
            running_version: running,
        }
    }

    fn decide_for(
        running: &str,
        t: Option<&TargetFile>,
        assigned: &str,
    ) -> Result<Firmware, Refusal> {
        let running = running.parse().unwrap();
        decide(&device(&running), "fw.img", t, &assigned.parse().unwrap())
    }

    #[test]
    fn a_newer_release_for_this_device_is_accepted() {
        let t = target("1.1.0", "camera", &["cam-v1", "cam-v2"]);
        let firmware = decide_for("1.0.0", Some(&t), "1.1.0").unwrap();
        assert_eq!(firmware.version, semver::Version::new(1, 1, 0));
    }

    #[test]
    fn older_and_equal_versions_are_refused() {
        for offered in ["0.9.0", "1.0.0", "1.0.0-rc.1"] {
            let t = target(offered, "camera", &["cam-v2"]);
            let refusal = decide_for("1.0.0", Some(&t), offered).unwrap_err();
            assert!(matches!(refusal, Refusal::NotNewer { .. }), "{offered}");
            assert!(refusal.to_string().contains("not newer"));
        }
    }

    #[test]
    fn other_hardware_and_class_are_refused() {
        let t = target("2.0.0", "camera", &["cam-v3"]);
        let refusal = decide_for("1.0.0", Some(&t), "2.0.0").unwrap_err();
        assert!(matches!(refusal, Refusal::OtherHardware { .. }));
        assert!(refusal.to_string().contains("cam-v2"));
        let t = target("2.0.0", "doorbell", &["cam-v2"]);
        let refusal = decide_for("1.0.0", Some(&t), "2.0.0").unwrap_err();
        assert!(matches!(refusal, Refusal::OtherClass { .. }));
    }

    #[test]
    fn missing_or_invalid_firmware_fields_are_refused() {
        assert!(matches!(
            decide_for("1.0.0", None, "2.0.0"),
            Err(Refusal::UnknownTarget(_))
        ));
        let plain = TargetFile::new(10, SHA.into(), None);
        assert!(matches!(
            decide_for("1.0.0", Some(&plain), "2.0.0"),
            Err(Refusal::NotFirmware(_))
        ));
        let mut wrong_length = target("2.0.0", "camera", &["cam-v2"]);
        wrong_length.length = 1;
        assert!(matches!(
            decide_for("1.0.0", Some(&wrong_length), "2.0.0"),
            Err(Refusal::InvalidFirmware(_))
        ));
    }

    #[test]
    fn compressed_and_delta_targets_are_not_assignable() {
        let mut zstd = Firmware::of_target("fw.img", &target("2.0.0", "camera", &["cam-v2"]))
            .unwrap()
            .unwrap();
        zstd.encoding = Encoding::Zstd;
        zstd.release = Some("fw.img".into());
        let zstd_target = TargetFile::new(100, SHA.into(), Some(zstd.to_custom().unwrap()));
        let mut delta = zstd.clone();
        delta.encoding = Encoding::Delta;
        delta.base = Some(DeltaBase {
            version: semver::Version::new(1, 0, 0),
            length: 10,
            sha256: SHA.into(),
        });
        let delta_target = TargetFile::new(100, SHA.into(), Some(delta.to_custom().unwrap()));
        for (form, encoding) in [(zstd_target, "zstd"), (delta_target, "delta")] {
            let refusal = decide_for("1.0.0", Some(&form), "2.0.0").unwrap_err();
            assert!(matches!(refusal, Refusal::NotRawImage { .. }), "{encoding}");
            assert!(refusal.to_string().contains(encoding), "{refusal}");
        }
    }

    #[test]
    fn the_signed_version_must_be_the_assigned_one() {
        let t = target("2.0.0", "camera", &["cam-v2"]);
        assert!(matches!(
            decide_for("1.0.0", Some(&t), "3.0.0"),
            Err(Refusal::AssignmentMismatch { .. })
        ));
    }
}
