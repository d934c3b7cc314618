//! `ota publish`, `status` and `device add` over real HTTP on 127.0.0.1, against a fake
//! admin server that follows docs/interfaces.md.

mod common;

use common::fake_server::{self, TOKEN};
use common::{add_args, init_repo, make_keys, write_image};
use tools::admin_client::{AdminClient, AdminError};
use tools::cmd::publish::{PublishError, TargetsSent, publish};
use tools::cmd::release::add;
use tools::cmd::status::format_status;
use tools::local_repo::LocalRepo;
use update_core::keys::SigningKey;
use update_core::schema::Root;
use update_core::sign::sign_metadata;

fn client(url: &str, token: &str) -> AdminClient {
    AdminClient::new(url, token.parse().unwrap()).unwrap()
}

/// A repository with one root and `releases` releases, plus the keys that made it.
fn repository(releases: &[&str]) -> (common::Keys, LocalRepo) {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    init_repo(&keys, &repo_dir);
    for (n, version) in releases.iter().enumerate() {
        let image = keys.dir.path().join(format!("fw-{version}.img"));
        write_image(&image, 200_000 + n * 1000, n as u8);
        add(&add_args(&repo_dir, &image, &keys.targets, version)).unwrap();
    }
    (keys, LocalRepo::new(repo_dir))
}

#[tokio::test]
async fn publish_uploads_missing_images_then_targets_and_is_idempotent() {
    let (keys, repo) = repository(&["1.0.0"]);
    let root_bytes = std::fs::read(repo.root_path()).unwrap();
    let (url, state) = fake_server::start(Some(&root_bytes)).await;
    let admin = client(&url, TOKEN);

    let report = publish(&repo, &admin).await.unwrap();
    assert!(report.roots_uploaded.is_empty());
    assert_eq!(report.images.len(), 1);
    assert!(report.images[0].uploaded);
    assert!(matches!(report.targets, Some(TargetsSent::Published(p)) if p.targets_version == 1));

    // A second release: only its image travels.
    let image = keys.dir.path().join("fw-1.1.0.img");
    write_image(&image, 300_000, 9);
    add(&add_args(repo.dir(), &image, &keys.targets, "1.1.0")).unwrap();
    let report = publish(&repo, &admin).await.unwrap();
    let uploaded: Vec<bool> = report.images.iter().map(|i| i.uploaded).collect();
    assert_eq!(uploaded, vec![false, true]);
    assert!(matches!(report.targets, Some(TargetsSent::Published(p)) if p.targets_version == 2));

    // Nothing new: nothing sent.
    let report = publish(&repo, &admin).await.unwrap();
    assert!(report.images.iter().all(|i| !i.uploaded));
    assert!(matches!(
        report.targets,
        Some(TargetsSent::AlreadyPublished { version: 2 })
    ));
    let state = state.lock().unwrap();
    assert_eq!(state.image_uploads, 2);
    assert_eq!(state.targets.as_ref().map(|(_, v)| *v), Some(2));
}

#[tokio::test]
async fn publish_sends_newer_root_versions_in_order() {
    let (keys, repo) = repository(&["1.0.0"]);
    let root_v1 = std::fs::read(repo.root_path()).unwrap();
    let (url, state) = fake_server::start(Some(&root_v1)).await;

    // Rotate: versions 2 and 3 of root, each signed by the (unchanged) root key.
    let root_key = tools::keyfile::load_private(&keys.root).unwrap();
    let mut root: Root = repo.load_root().unwrap().into_inner();
    for version in [2, 3] {
        root.version = version;
        let bytes = sign_metadata(&root, &[&root_key])
            .unwrap()
            .to_bytes()
            .unwrap();
        std::fs::write(repo.root_version_path(version), &bytes).unwrap();
        std::fs::write(repo.root_path(), &bytes).unwrap();
    }
    let report = publish(&repo, &client(&url, TOKEN)).await.unwrap();
    assert_eq!(report.roots_uploaded, vec![2, 3]);
    assert_eq!(state.lock().unwrap().roots_received, vec![2, 3]);
}

#[tokio::test]
async fn publish_refuses_a_root_chain_that_does_not_verify() {
    let (_keys, repo) = repository(&[]);
    let root_v1 = std::fs::read(repo.root_path()).unwrap();
    let (url, state) = fake_server::start(Some(&root_v1)).await;

    let stranger = SigningKey::generate();
    let mut root: Root = repo.load_root().unwrap().into_inner();
    root.version = 2;
    let bytes = sign_metadata(&root, &[&stranger])
        .unwrap()
        .to_bytes()
        .unwrap();
    std::fs::write(repo.root_version_path(2), &bytes).unwrap();
    std::fs::write(repo.root_path(), &bytes).unwrap();

    let err = publish(&repo, &client(&url, TOKEN)).await.unwrap_err();
    assert!(matches!(err, PublishError::BrokenRootChain { .. }), "{err}");
    assert!(state.lock().unwrap().roots_received.is_empty());
}

#[tokio::test]
async fn publish_to_a_server_of_another_repository_is_refused() {
    let (_keys, repo) = repository(&["1.0.0"]);
    let (_other_keys, other_repo) = repository(&[]);
    let other_root = std::fs::read(other_repo.root_path()).unwrap();
    let (url, state) = fake_server::start(Some(&other_root)).await;
    let err = publish(&repo, &client(&url, TOKEN)).await.unwrap_err();
    assert!(matches!(err, PublishError::RootMismatch(1)), "{err}");
    assert_eq!(state.lock().unwrap().image_uploads, 0);
}

#[tokio::test]
async fn publish_without_a_server_root_says_how_to_start_it() {
    let (_keys, repo) = repository(&["1.0.0"]);
    let (url, _state) = fake_server::start(None).await;
    let err = publish(&repo, &client(&url, TOKEN)).await.unwrap_err();
    assert_eq!(err.to_string(), "server has no root; start it with --root");
}

#[tokio::test]
async fn a_wrong_admin_token_is_reported_as_such() {
    let (_keys, repo) = repository(&["1.0.0"]);
    let root_bytes = std::fs::read(repo.root_path()).unwrap();
    let (url, _state) = fake_server::start(Some(&root_bytes)).await;
    let err = publish(&repo, &client(&url, "wrong-token"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PublishError::Admin(AdminError::Unauthorized)),
        "{err}"
    );
    assert_eq!(err.to_string(), "the server refused the admin token");
}

#[tokio::test]
async fn publish_to_an_unreachable_server_says_it_cannot_reach_it() {
    let (_keys, repo) = repository(&["1.0.0"]);
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = publish(&repo, &client(&url, TOKEN)).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("cannot reach the server at {url}: ")),
        "{text}"
    );
}

#[tokio::test]
async fn device_enrolment_and_status_round_trip() {
    let (url, _state) = fake_server::start(None).await;
    let admin = client(&url, TOKEN);
    let key = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let enrolled = admin.enroll("dev-001", "camera", key).await.unwrap();
    assert_eq!(enrolled.public_key, key);
    let err = admin.enroll("dev-001", "camera", key).await.unwrap_err();
    assert!(err.to_string().contains("409"), "{err}");
    assert!(err.to_string().contains("device exists"), "{err}");

    let text = format_status(&admin.status().await.unwrap());
    assert!(text.contains("class camera"), "{text}");
    assert!(text.contains("success rate:     50.0% (1 of 2)"), "{text}");
    assert!(text.contains("dev-001"), "{text}");
    assert!(text.contains("rolled-back"), "{text}");
    assert!(
        !text.contains('\x1b'),
        "device text must not reach the terminal raw"
    );
}
