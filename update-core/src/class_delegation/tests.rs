use std::collections::BTreeMap;

use chrono::{TimeDelta, Utc};
use serde_json::json;

use super::*;
use crate::config_profile::{CUSTOM_KEY, delegated_profile_target_name};
use crate::keys::SigningKey;
use crate::schema::{TargetFile, Unrecognized};

fn delegation(name: &str, paths: &[&str]) -> Delegations {
    let key = SigningKey::generate();
    Delegations {
        keys: BTreeMap::from([(key.key_id().clone(), key.public_key().clone())]),
        roles: vec![DelegatedRole {
            name: name.into(),
            keyids: vec![key.key_id().clone()],
            threshold: 1,
            terminating: false,
            paths: Some(paths.iter().map(|p| p.to_string()).collect()),
            path_hash_prefixes: None,
            unrecognized: Unrecognized::new(),
        }],
        unrecognized: Unrecognized::new(),
    }
}

#[test]
fn a_class_role_is_delegated_exactly_its_own_space() {
    check_class_delegations(&delegation("medical", &["medical/*"])).unwrap();
    for (name, paths) in [
        ("medical", &["*"][..]),
        ("medical", &["medical/*", "camera/*"][..]),
        ("medical", &["camera/*"][..]),
        ("medical", &["medical/*/*"][..]),
        ("a/b", &["a/b/*"][..]),
        ("", &["/*"][..]),
    ] {
        assert!(
            check_class_delegations(&delegation(name, paths)).is_err(),
            "{name:?} {paths:?}"
        );
    }
    let mut hashed = delegation("medical", &["medical/*"]);
    hashed.roles[0].path_hash_prefixes = Some(vec!["ab".into()]);
    assert!(check_class_delegations(&hashed).is_err());
    let mut unreachable = delegation("medical", &["medical/*"]);
    unreachable.roles[0].threshold = 2;
    assert!(check_class_delegations(&unreachable).is_err());
}

fn firmware_target(class: &str) -> TargetFile {
    let sha256 = "ab".repeat(32);
    let custom = json!({"firmware": {
        "version": "1.0.0", "class": class, "hardware": ["hw"],
        "image": {"length": 4, "sha256": sha256},
    }});
    TargetFile::new(4, sha256, Some(custom))
}

fn role_targets(entries: &[(&str, TargetFile)]) -> Targets {
    let mut targets = Targets::new(1, Utc::now() + TimeDelta::days(1));
    for (name, file) in entries {
        targets.targets.insert(name.to_string(), file.clone());
    }
    targets
}

#[test]
fn a_class_role_signs_only_its_own_class() {
    let own = role_targets(&[("medical/medical-1.0.0.img", firmware_target("medical"))]);
    check_class_role_targets("medical", &own).unwrap();

    let elsewhere = role_targets(&[("camera/camera-1.0.0.img", firmware_target("medical"))]);
    let err = check_class_role_targets("medical", &elsewhere).unwrap_err();
    assert!(
        matches!(err, ClassDelegationError::OutsideClass { .. }),
        "{err}"
    );

    let deeper = role_targets(&[("medical/x/fw.img", firmware_target("medical"))]);
    assert!(check_class_role_targets("medical", &deeper).is_err());

    let other_class = role_targets(&[("medical/camera-1.0.0.img", firmware_target("camera"))]);
    assert!(check_class_role_targets("medical", &other_class).is_err());

    let profile = |class: &str| {
        let custom = json!({CUSTOM_KEY: {"class": class, "version": 2}});
        TargetFile::new(10, "cd".repeat(32), Some(custom))
    };
    let own_profile = role_targets(&[(
        &delegated_profile_target_name("medical", 2),
        profile("medical"),
    )]);
    check_class_role_targets("medical", &own_profile).unwrap();
    let foreign_profile = role_targets(&[("medical/config-2.json", profile("camera"))]);
    assert!(check_class_role_targets("medical", &foreign_profile).is_err());
}
