//! `ota keygen` and `ota repo init` through the library, on real files.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{init_args, make_keys, pub_of};
use tools::cmd::repo::{InitError, init};
use tools::keyfile::{self, KeyFile, KeyFileError};
use tools::local_repo::LocalRepo;
use update_core::schema::RoleType;

#[test]
fn keygen_writes_a_0600_private_key_and_a_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("targets.pem");
    let key_id = keyfile::generate(&out).unwrap();

    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let private = keyfile::load_private(&out).unwrap();
    assert_eq!(private.key_id(), &key_id);
    match keyfile::load(&pub_of(&out)).unwrap() {
        KeyFile::Public { key, key_id: id } => {
            assert_eq!(id, key_id);
            assert_eq!(&key, private.public_key());
        }
        KeyFile::Private(_) => panic!("the .pub file must hold only the public key"),
    }
}

#[test]
fn keygen_creates_a_private_directory_for_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keys/offline/root");
    keyfile::generate(&out).unwrap();
    let mode = std::fs::metadata(out.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
    assert!(pub_of(&out).exists());
}

#[test]
fn keygen_refuses_to_overwrite_either_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("root.pem");
    keyfile::generate(&out).unwrap();
    let before = std::fs::read(&out).unwrap();
    let err = keyfile::generate(&out).unwrap_err();
    assert!(matches!(err, KeyFileError::Exists { .. }), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), before);

    // A stray OUT.pub blocks a new key as well, and no private key is left behind.
    let other = dir.path().join("other.pem");
    std::fs::write(pub_of(&other), b"{}").unwrap();
    let err = keyfile::generate(&other).unwrap_err();
    assert!(err.to_string().contains("other.pem.pub"), "{err}");
    assert!(!other.exists());
}

#[test]
fn signing_with_a_public_key_file_is_refused() {
    let keys = make_keys();
    let err = keyfile::load_private(&pub_of(&keys.root)).unwrap_err();
    assert!(matches!(err, KeyFileError::NotPrivate { .. }), "{err}");
    let garbage = keys.dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = keyfile::load(&garbage).unwrap_err();
    assert!(err.to_string().contains("garbage.pem"), "{err}");
}

#[test]
fn repo_init_writes_a_self_signed_root_in_both_places() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    let outcome = init(&init_args(&keys, &repo_dir)).unwrap();
    let repo = LocalRepo::new(&repo_dir);
    let root = repo.load_root().unwrap();
    assert_eq!(root.version, 1);
    assert!(root.consistent_snapshot);
    assert_eq!(root.expires, outcome.expires);
    assert_eq!(
        std::fs::read(repo.root_path()).unwrap(),
        std::fs::read(repo.root_version_path(1)).unwrap()
    );
    let targets_id = keyfile::load(&keys.targets).unwrap().key_id().clone();
    assert_eq!(root.role(RoleType::Targets).keyids, vec![targets_id]);
    assert_eq!(repo.root_versions().unwrap().len(), 1);
}

#[test]
fn repo_init_refuses_too_few_private_root_keys() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    let second_root = keys.dir.path().join("root2.pem");
    keyfile::generate(&second_root).unwrap();

    // Two root keys, threshold 2, but only one of them given as a private key.
    let mut args = init_args(&keys, &repo_dir);
    args.root_keys = vec![keys.root.clone(), pub_of(&second_root)];
    args.root_threshold = 2;
    let err = init(&args).unwrap_err();
    assert!(
        matches!(
            err,
            InitError::TooFewRootSigners {
                threshold: 2,
                given: 1
            }
        ),
        "{err}"
    );
    // Only public root keys: nothing can sign.
    args.root_keys = vec![pub_of(&keys.root)];
    args.root_threshold = 1;
    assert!(matches!(
        init(&args).unwrap_err(),
        InitError::TooFewRootSigners { .. }
    ));
    assert!(LocalRepo::new(&repo_dir).existing_root().is_none());

    // Both private: accepted, and signed by both.
    args.root_keys = vec![keys.root.clone(), second_root];
    args.root_threshold = 2;
    init(&args).unwrap();
    let root = LocalRepo::new(&repo_dir).load_root().unwrap();
    assert_eq!(root.role(RoleType::Root).threshold, 2);
}

#[test]
fn repo_init_refuses_thresholds_over_the_key_count() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    let mut args = init_args(&keys, &repo_dir);
    args.targets_threshold = 2;
    let err = init(&args).unwrap_err();
    assert!(
        matches!(
            err,
            InitError::ThresholdTooHigh {
                role: RoleType::Targets,
                threshold: 2,
                keys: 1
            }
        ),
        "{err}"
    );
    // The same key given twice is still one key.
    args.targets_keys = vec![keys.targets.clone(), pub_of(&keys.targets)];
    assert!(matches!(
        init(&args).unwrap_err(),
        InitError::ThresholdTooHigh { .. }
    ));
    args.targets_threshold = 0;
    assert!(matches!(
        init(&args).unwrap_err(),
        InitError::ThresholdZero { .. }
    ));
    assert!(!repo_dir.join("root.json").exists());
}

#[test]
fn repo_init_refuses_an_existing_root() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    init(&init_args(&keys, &repo_dir)).unwrap();
    let before = std::fs::read(repo_dir.join("root.json")).unwrap();
    let err = init(&init_args(&keys, &repo_dir)).unwrap_err();
    assert!(err.to_string().contains("already has a root"), "{err}");
    assert_eq!(std::fs::read(repo_dir.join("root.json")).unwrap(), before);
}
