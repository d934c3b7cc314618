//! The choice of form: every reason a delta or compressed target is refused, and the
//! order and reasons of the plan.

use std::path::PathBuf;

use update_core::firmware::{DeltaBase, ImageInfo};
use update_core::schema::Unrecognized;

use super::*;

const RELEASE: &str = "camera-1.1.0.img";
const IMAGE_SHA: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const RUNNING_SHA: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const FORM_SHA: &str = "3333333333333333333333333333333333333333333333333333333333333333";

fn config() -> PayloadConfig {
    PayloadConfig {
        delta: true,
        zstd: true,
        delta_memory: 8 << 20,
        spool_dir: PathBuf::from("/spool"),
        max_delta_spool: 1000,
    }
}

fn raw_firmware() -> Firmware {
    Firmware {
        version: semver::Version::new(1, 1, 0),
        class: "camera".into(),
        hardware: vec!["cam-v2".into()],
        image: ImageInfo {
            length: 4096,
            sha256: IMAGE_SHA.into(),
        },
        encoding: Encoding::Raw,
        base: None,
        release: None,
        unrecognized: Unrecognized::new(),
    }
}

fn raw() -> Form {
    let firmware = raw_firmware();
    let target = TargetFile::new(4096, IMAGE_SHA.into(), Some(firmware.to_custom().unwrap()));
    Form::raw(RELEASE, &target, &firmware)
}

fn running() -> SlotContent {
    SlotContent {
        version: semver::Version::new(1, 0, 0),
        target_name: None,
        length: 2048,
        sha256: RUNNING_SHA.into(),
    }
}

fn delta_firmware() -> Firmware {
    Firmware {
        encoding: Encoding::Delta,
        base: Some(DeltaBase {
            version: semver::Version::new(1, 0, 0),
            length: 2048,
            sha256: RUNNING_SHA.into(),
        }),
        release: Some(RELEASE.into()),
        ..raw_firmware()
    }
}

fn zstd_firmware() -> Firmware {
    Firmware {
        encoding: Encoding::Zstd,
        release: Some(RELEASE.into()),
        ..raw_firmware()
    }
}

fn target(firmware: &Firmware, length: u64) -> TargetFile {
    TargetFile::new(length, FORM_SHA.into(), Some(firmware.to_custom().unwrap()))
}

fn delta_with(firmware: &Firmware, length: u64) -> Result<Form, Unusable> {
    check_delta(
        &config(),
        &raw(),
        Some(&running()),
        &Ok(Some(target(firmware, length))),
    )
}

fn zstd_with(firmware: &Firmware) -> Result<Form, Unusable> {
    check_zstd(&config(), &raw(), &Ok(Some(target(firmware, 3000))))
}

#[test]
fn forms_are_looked_up_by_the_release_and_the_running_sha256() {
    assert_eq!(
        delta_name(&raw(), &running()),
        format!("{RELEASE}.from-{RUNNING_SHA}.delta")
    );
    assert_eq!(zstd_name(&raw()), format!("{RELEASE}.zst"));
}

#[test]
fn a_matching_delta_comes_first_then_the_compressed_then_the_raw_image() {
    let delta = delta_with(&delta_firmware(), 500).unwrap();
    assert_eq!(delta.kind, PayloadKind::Delta);
    assert_eq!(delta.target_name, delta_name(&raw(), &running()));
    let zstd = zstd_with(&zstd_firmware()).unwrap();
    assert_eq!(zstd.kind, PayloadKind::Zstd);

    let plan = plan(raw(), Ok(delta), Ok(zstd));
    let kinds: Vec<PayloadKind> = plan.steps.iter().map(|s| s.form.kind).collect();
    assert_eq!(
        kinds,
        [PayloadKind::Delta, PayloadKind::Zstd, PayloadKind::Raw]
    );
    assert!(plan.steps[0].reason.contains("delta from 1.0.0"));
    assert!(plan.steps[0].reason.contains(&RUNNING_SHA[..12]));
    assert!(plan.steps[1].reason.contains("after the delta"));
    assert!(plan.steps[2].reason.contains("after the compressed image"));

    let payload = payload_of(&plan.steps[0], None);
    assert_eq!(payload.kind, PayloadKind::Delta);
    assert_eq!(payload.length, 500);
    assert_eq!(payload.base_version, Some(semver::Version::new(1, 0, 0)));
    assert_eq!(payload.delta_failure, None);
    let fallback = payload_of(&plan.steps[1], Some("the delta failed".into()));
    assert_eq!(
        (fallback.kind, fallback.base_version, fallback.delta_failure),
        (PayloadKind::Zstd, None, Some("the delta failed".into()))
    );
}

#[test]
fn every_reason_a_delta_is_refused() {
    let config = config();
    let off = PayloadConfig {
        delta: false,
        ..config.clone()
    };
    let good = target(&delta_firmware(), 500);
    let running = running();
    assert_eq!(
        check_delta(&off, &raw(), Some(&running), &Ok(Some(good.clone()))),
        Err(Unusable::Disabled)
    );
    assert_eq!(
        check_delta(&config, &raw(), None, &Ok(Some(good.clone()))),
        Err(Unusable::NoRunningImage)
    );
    let check = |found: Lookup| check_delta(&config, &raw(), Some(&running), &found);
    assert!(matches!(
        check(Ok(None)),
        Err(Unusable::NotPublished { .. })
    ));
    assert!(matches!(
        check(Err("delegation broken".into())),
        Err(Unusable::LookupFailed { .. })
    ));
    let plain = TargetFile::new(500, FORM_SHA.into(), None);
    assert!(matches!(
        check(Ok(Some(plain.clone()))),
        Err(Unusable::NotFirmware { .. })
    ));

    let mut no_hardware = delta_firmware();
    no_hardware.hardware.clear();
    let mut no_base = delta_firmware();
    no_base.base = None;
    for invalid in [no_hardware, no_base] {
        assert!(matches!(
            delta_with(&invalid, 500),
            Err(Unusable::InvalidFirmware { .. })
        ));
    }
    assert!(matches!(
        delta_with(&zstd_firmware(), 500),
        Err(Unusable::WrongEncoding { found: "zstd", .. })
    ));
    let mut other_release = delta_firmware();
    other_release.release = Some("camera-9.9.9.img".into());
    assert!(matches!(
        delta_with(&other_release, 500),
        Err(Unusable::OtherRelease { .. })
    ));
    let mut other_version = delta_firmware();
    other_version.version = semver::Version::new(1, 2, 0);
    let mut other_image = delta_firmware();
    other_image.image.sha256 = RUNNING_SHA.into();
    let mut other_hardware = delta_firmware();
    other_hardware.hardware = vec!["cam-v3".into()];
    for other in [other_version, other_image, other_hardware] {
        assert!(matches!(
            delta_with(&other, 500),
            Err(Unusable::NotSameRelease { .. })
        ));
    }
    for (length, sha256) in [(2047, RUNNING_SHA), (2048, IMAGE_SHA)] {
        let mut other_base = delta_firmware();
        other_base.base = Some(DeltaBase {
            version: semver::Version::new(1, 0, 0),
            length,
            sha256: sha256.into(),
        });
        let refused = delta_with(&other_base, 500).unwrap_err();
        assert!(matches!(refused, Unusable::OtherBase { .. }), "{refused}");
        assert!(refused.to_string().contains(RUNNING_SHA));
    }
    let refused = delta_with(&delta_firmware(), 1001).unwrap_err();
    assert!(matches!(refused, Unusable::TooLarge { .. }));
    assert!(refused.to_string().contains("max_delta_spool"));
    // The sha256 recorded for the running slot may be upper case.
    let mut upper = delta_firmware();
    if let Some(base) = &mut upper.base {
        base.sha256 = RUNNING_SHA.to_ascii_uppercase();
    }
    assert!(delta_with(&upper, 1000).is_ok());
}

#[test]
fn every_reason_a_compressed_image_is_refused() {
    let off = PayloadConfig {
        zstd: false,
        ..config()
    };
    let good = target(&zstd_firmware(), 3000);
    assert_eq!(
        check_zstd(&off, &raw(), &Ok(Some(good))),
        Err(Unusable::Disabled)
    );
    assert!(matches!(
        check_zstd(&config(), &raw(), &Ok(None)),
        Err(Unusable::NotPublished { .. })
    ));
    assert!(matches!(
        check_zstd(&config(), &raw(), &Err("timeout".into())),
        Err(Unusable::LookupFailed { .. })
    ));
    let plain = TargetFile::new(3000, FORM_SHA.into(), None);
    assert!(matches!(
        check_zstd(&config(), &raw(), &Ok(Some(plain))),
        Err(Unusable::NotFirmware { .. })
    ));
    let mut no_release = zstd_firmware();
    no_release.release = None;
    assert!(matches!(
        zstd_with(&no_release),
        Err(Unusable::InvalidFirmware { .. })
    ));
    assert!(matches!(
        zstd_with(&delta_firmware()),
        Err(Unusable::WrongEncoding { found: "delta", .. })
    ));
    let mut raw_encoded = raw_firmware();
    raw_encoded.image.length = 3000;
    raw_encoded.image.sha256 = FORM_SHA.into();
    assert!(matches!(
        zstd_with(&raw_encoded),
        Err(Unusable::WrongEncoding { found: "raw", .. })
    ));
    let mut other_release = zstd_firmware();
    other_release.release = Some("camera-1.0.0.img".into());
    assert!(matches!(
        zstd_with(&other_release),
        Err(Unusable::OtherRelease { .. })
    ));
    let mut other_class = zstd_firmware();
    other_class.class = "doorbell".into();
    let mut other_length = zstd_firmware();
    other_length.image.length = 4097;
    for other in [other_class, other_length] {
        assert!(matches!(
            zstd_with(&other),
            Err(Unusable::NotSameRelease { .. })
        ));
    }
}

#[test]
fn without_usable_forms_the_raw_image_says_why() {
    let plan = plan(
        raw(),
        Err(Unusable::NoRunningImage),
        Err(Unusable::NotPublished {
            name: zstd_name(&raw()),
        }),
    );
    assert_eq!(plan.steps.len(), 1);
    let step = &plan.steps[0];
    assert_eq!(step.form.kind, PayloadKind::Raw);
    assert!(
        step.reason.contains("no usable delta: no record"),
        "{}",
        step.reason
    );
    assert!(
        step.reason.contains(".zst is not published"),
        "{}",
        step.reason
    );

    let zstd = zstd_with(&zstd_firmware()).unwrap();
    let plan = plan_without_delta(zstd);
    assert_eq!(plan.steps.len(), 2);
    assert!(plan.steps[0].reason.contains("disabled"));
    assert!(plan.steps[0].reason.ends_with("compressed full image"));
    assert_eq!(payload_of(&plan.steps[1], None).length, 4096);
}

fn plan_without_delta(zstd: Form) -> Plan {
    plan(raw(), Err(Unusable::Disabled), Ok(zstd))
}
