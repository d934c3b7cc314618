//! `ota release add` through the library: keys, versions, files, verification.

mod common;

use common::{add_args, entries, init_repo, make_keys, write_image};
use tools::cmd::release::{ReleaseError, add};
use tools::local_repo::LocalRepo;
use update_core::firmware::Firmware;
use update_core::hash::hash_reader;
use update_core::schema::{SignedEnvelope, Targets};
use update_core::trust::verify_with_root;

#[test]
fn a_key_that_is_not_a_targets_key_is_refused_and_nothing_is_written() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    init_repo(&keys, &repo_dir);
    let image = keys.dir.path().join("fw.img");
    write_image(&image, 10_000, 1);

    // The snapshot key is in root.json, but not for targets.
    let err = add(&add_args(&repo_dir, &image, &keys.snapshot, "1.0.0")).unwrap_err();
    let snapshot_id = tools::keyfile::load(&keys.snapshot)
        .unwrap()
        .key_id()
        .clone();
    assert_eq!(
        err.to_string(),
        format!("key {snapshot_id} is not a targets key in root.json")
    );
    assert!(!repo_dir.join("targets.json").exists());
    assert!(entries(&repo_dir.join("targets")).is_empty());
}

#[test]
fn adding_two_releases_bumps_the_version_and_both_verify() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    init_repo(&keys, &repo_dir);
    let repo = LocalRepo::new(&repo_dir);
    let root = repo.load_root().unwrap();

    let mut versions = Vec::new();
    for (n, version) in ["1.0.0", "1.1.0"].iter().enumerate() {
        let image = keys.dir.path().join(format!("fw-{version}.img"));
        write_image(&image, 70_000 + n, n as u8);
        let outcome = add(&add_args(&repo_dir, &image, &keys.targets, version)).unwrap();
        assert_eq!(outcome.target_name, format!("camera-{version}.img"));

        let bytes = std::fs::read(repo.targets_path()).unwrap();
        let envelope = SignedEnvelope::from_slice(&bytes, "targets.json").unwrap();
        let targets = verify_with_root::<Targets>(&root, &envelope).unwrap();
        assert_eq!(targets.version, outcome.targets_version);
        versions.push(targets.version);

        let target = &targets.targets[&outcome.target_name];
        let firmware = Firmware::of_target(&outcome.target_name, target)
            .unwrap()
            .unwrap();
        assert_eq!(firmware.version.to_string(), *version);
        assert_eq!(firmware.hardware, vec!["cam-v2".to_string()]);
        let stored = std::fs::File::open(&outcome.image_path).unwrap();
        let (length, sha256) = hash_reader(stored).unwrap();
        assert_eq!(
            (length, Some(sha256.as_str())),
            (target.length, target.sha256())
        );
    }
    assert_eq!(versions, vec![1, 2]);
    let final_targets = repo.load_targets(&root).unwrap().unwrap();
    assert_eq!(final_targets.targets.targets.len(), 2);
}

#[test]
fn a_version_that_exists_for_the_class_is_refused() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    init_repo(&keys, &repo_dir);
    let image = keys.dir.path().join("fw.img");
    write_image(&image, 5_000, 3);
    add(&add_args(&repo_dir, &image, &keys.targets, "2.0.0")).unwrap();
    let before = std::fs::read(repo_dir.join("targets.json")).unwrap();

    let mut again = add_args(&repo_dir, &image, &keys.targets, "2.0.0");
    again.name = Some("other-name.img".into());
    let err = add(&again).unwrap_err();
    assert!(matches!(err, ReleaseError::VersionExists { .. }), "{err}");
    assert_eq!(
        std::fs::read(repo_dir.join("targets.json")).unwrap(),
        before
    );
    assert_eq!(entries(&repo_dir.join("targets")), vec!["camera-2.0.0.img"]);
}

#[test]
fn a_missing_image_error_names_the_path() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    init_repo(&keys, &repo_dir);
    let missing = keys.dir.path().join("no-such-image.img");
    let err = add(&add_args(&repo_dir, &missing, &keys.targets, "1.0.0")).unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
    assert!(!repo_dir.join("targets.json").exists());
}

#[test]
fn bad_names_and_public_keys_are_refused_before_anything_is_written() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    init_repo(&keys, &repo_dir);
    let image = keys.dir.path().join("fw.img");
    write_image(&image, 5_000, 3);

    let mut escaping = add_args(&repo_dir, &image, &keys.targets, "1.0.0");
    escaping.name = Some("../../outside.img".into());
    assert!(matches!(add(&escaping).unwrap_err(), ReleaseError::Repo(_)));

    let mut bad_class = add_args(&repo_dir, &image, &keys.targets, "1.0.0");
    bad_class.class = "cam era".into();
    assert!(matches!(
        add(&bad_class).unwrap_err(),
        ReleaseError::Identifier(_)
    ));

    let public = common::pub_of(&keys.targets);
    let err = add(&add_args(&repo_dir, &image, &public, "1.0.0")).unwrap_err();
    assert!(err.to_string().contains("private key"), "{err}");

    assert!(!repo_dir.join("targets.json").exists());
    assert!(entries(&repo_dir.join("targets")).is_empty());
}

#[test]
fn a_tampered_targets_json_is_not_re_signed() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    init_repo(&keys, &repo_dir);
    let image = keys.dir.path().join("fw.img");
    write_image(&image, 5_000, 3);
    add(&add_args(&repo_dir, &image, &keys.targets, "1.0.0")).unwrap();

    let path = repo_dir.join("targets.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("cam-v2", "cam-v9")).unwrap();
    let err = add(&add_args(&repo_dir, &image, &keys.targets, "1.0.1")).unwrap_err();
    assert!(err.to_string().contains("targets.json"), "{err}");
}
