//! Per-class signing roles in the local repository (docs/delegations.md): `ota class
//! delegate`, a 2-of-3 class release that `ota publish` refuses until `ota sign` adds a
//! second key, keys of another class refused, profiles signed into the role.

mod common;

use std::path::{Path, PathBuf};

use common::fake_server::{self, TOKEN};
use common::{add_args, init_repo, make_keys, pub_of, write_image};
use tools::admin_client::AdminClient;
use tools::class_roles::{ClassRole, RoleError};
use tools::cmd::class_delegate::{DelegateArgs, delegate, delegations_table};
use tools::cmd::config::{ConfigAddArgs, add as add_config};
use tools::cmd::publish::{PublishError, TargetsSent, publish};
use tools::cmd::release::{ReleaseError, add};
use tools::cmd::sign::{SignArgs, sign};
use tools::keyfile;
use tools::local_repo::LocalRepo;

fn key(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.pem"));
    keyfile::generate(&path).unwrap();
    path
}

fn delegate_args(
    repo: &Path,
    targets_key: &Path,
    class: &str,
    keys: &[&PathBuf],
    threshold: u32,
) -> DelegateArgs {
    DelegateArgs {
        class: class.into(),
        repo: repo.to_path_buf(),
        targets_keys: vec![targets_key.to_path_buf()],
        keys: keys.iter().map(|k| pub_of(k)).collect(),
        threshold,
        expires: "30d".parse().unwrap(),
    }
}

#[tokio::test]
async fn a_two_of_three_class_release_publishes_once_a_second_key_signs() {
    let keys = make_keys();
    let dir = keys.dir.path();
    let repo_dir = dir.join("repo");
    init_repo(&keys, &repo_dir);
    let medical: Vec<PathBuf> = (1..=3).map(|n| key(dir, &format!("medical-{n}"))).collect();
    let camera = key(dir, "camera");
    delegate(&delegate_args(
        &repo_dir,
        &keys.targets,
        "medical",
        &medical.iter().collect::<Vec<_>>(),
        2,
    ))
    .unwrap();
    let done = delegate(&delegate_args(
        &repo_dir,
        &keys.targets,
        "camera",
        &[&camera],
        1,
    ))
    .unwrap();
    assert_eq!(done.targets_version, 2);
    let listing = delegations_table(&LocalRepo::new(&repo_dir))
        .unwrap()
        .render();
    assert!(
        listing.contains("medical/*") && listing.contains("2 of 3"),
        "{listing}"
    );

    // A camera key cannot sign a medical release; the error names the keys that can.
    let image = dir.join("medical.img");
    write_image(&image, 100_000, 3);
    let mut args = add_args(&repo_dir, &image, &camera, "1.2.0");
    args.class = "medical".into();
    args.hardware = vec!["med-v1".into()];
    let err = add(&args).unwrap_err();
    let medical_id = keyfile::load(&medical[0]).unwrap().key_id().clone();
    assert!(
        matches!(&err, ReleaseError::Role(RoleError::NotRoleKey { .. }))
            && err.to_string().contains(medical_id.as_str()),
        "{err}"
    );

    // One medical key: written into the role, below its threshold.
    args.keys = vec![medical[0].clone()];
    let added = add(&args).unwrap();
    assert_eq!(added.target_name, "medical/medical-1.2.0.img");
    let count = added.role_signatures.unwrap();
    assert_eq!((count.valid, count.threshold), (1, 2));
    assert!(
        LocalRepo::new(&repo_dir)
            .image_path(&added.target_name)
            .unwrap()
            .exists()
    );

    let root_bytes = std::fs::read(repo_dir.join("root.json")).unwrap();
    let (url, state) = fake_server::start(Some(&root_bytes)).await;
    let admin = AdminClient::new(&url, TOKEN.parse().unwrap()).unwrap();
    let repo = LocalRepo::new(&repo_dir);
    let err = publish(&repo, &admin).await.unwrap_err();
    assert!(
        matches!(
            &err,
            PublishError::Role(RoleError::BelowThreshold {
                signed: 1,
                threshold: 2,
                ..
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("ota sign"), "{err}");
    assert!(state.lock().unwrap().roles.is_empty());

    // A camera key cannot complete it; a second medical key does, without a new version.
    let sign_args = |key: &PathBuf| SignArgs {
        repo: repo_dir.clone(),
        role: "medical".into(),
        keys: vec![key.clone()],
    };
    assert!(sign(&sign_args(&camera)).is_err());
    let count = sign(&sign_args(&medical[2])).unwrap();
    assert_eq!((count.valid, count.threshold), (2, 2));
    let report = publish(&repo, &admin).await.unwrap();
    assert_eq!(report.roles.len(), 1);
    assert!(matches!(report.roles[0].1, TargetsSent::Published(_)));
    assert_eq!(
        state.lock().unwrap().roles.get("medical").map(|(_, v)| *v),
        Some(1)
    );
    let again = publish(&repo, &admin).await.unwrap();
    assert_eq!(
        again.roles[0].1,
        TargetsSent::AlreadyPublished { version: 1 }
    );

    // The class's configuration profile goes into its role too.
    let profile = add_config(&ConfigAddArgs {
        repo: repo_dir.clone(),
        keys: vec![medical[1].clone(), medical[2].clone()],
        class: "medical".into(),
        version: 1,
        files: vec![format!("/etc/pump.conf:{}", "ab".repeat(32))],
        expires: "30d".parse().unwrap(),
    })
    .unwrap();
    assert_eq!(profile.target_name, "medical/config-1.json");
    assert_eq!(profile.targets_version, 2);
    let top_level = repo
        .load_targets(&repo.load_root().unwrap())
        .unwrap()
        .unwrap();
    let role = ClassRole::load(&repo, &top_level.targets, "medical").unwrap();
    role.check_complete().unwrap();
    assert!(role.targets.targets.contains_key("medical/config-1.json"));
    assert!(
        !top_level
            .targets
            .targets
            .contains_key("medical/config-1.json")
    );
}

#[test]
fn a_tampered_role_file_is_not_signed_over() {
    let keys = make_keys();
    let dir = keys.dir.path();
    let repo_dir = dir.join("repo");
    init_repo(&keys, &repo_dir);
    let camera = key(dir, "camera");
    delegate(&delegate_args(
        &repo_dir,
        &keys.targets,
        "camera",
        &[&camera],
        1,
    ))
    .unwrap();
    let image = dir.join("cam.img");
    write_image(&image, 50_000, 1);
    add(&add_args(&repo_dir, &image, &camera, "2.0.0")).unwrap();
    let path = repo_dir.join("delegations/camera.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("cam-v2", "cam-v9")).unwrap();
    let err = sign(&SignArgs {
        repo: repo_dir.clone(),
        role: "camera".into(),
        keys: vec![camera.clone()],
    })
    .unwrap_err();
    assert!(err.to_string().contains("not a valid signature"), "{err}");
}
