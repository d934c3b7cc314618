//! Per-class signing roles (docs/delegations.md) through the real server: a class release
//! signed by its class's role publishes and is served and catalogued; wrong keys, too few
//! signatures, targets outside the class's space and malformed delegations are refused.

mod common;

use std::collections::BTreeMap;

use chrono::Utc;
use common::{Image, TestServer};
use reqwest::{Method, StatusCode};
use update_core::api::{ApprovedRelease, Release, paths};
use update_core::keys::SigningKey;
use update_core::schema::{
    DelegatedRole, Delegations, SignedEnvelope, Snapshot, Targets, Unrecognized,
};
use update_core::sign::sign_metadata;

/// A change that breaks the one-class-one-space rule.
type Breaker = Box<dyn FnOnce(&mut Delegations)>;

struct ClassKeys {
    medical: Vec<SigningKey>,
    camera: SigningKey,
}

fn role(name: &str, keys: &[&SigningKey], threshold: u32) -> DelegatedRole {
    DelegatedRole {
        name: name.into(),
        keyids: keys.iter().map(|k| k.key_id().clone()).collect(),
        threshold,
        terminating: false,
        paths: Some(vec![format!("{name}/*")]),
        path_hash_prefixes: None,
        unrecognized: Unrecognized::new(),
    }
}

/// Top-level targets delegating `medical` (2 of 3) and `camera` (1 of 1), after `adjust`.
fn delegating_targets(
    server: &TestServer,
    version: u64,
    keys: &ClassKeys,
    adjust: impl FnOnce(&mut Delegations),
) -> Vec<u8> {
    let all: Vec<&SigningKey> = keys.medical.iter().chain([&keys.camera]).collect();
    let mut delegations = Delegations {
        keys: all
            .iter()
            .map(|k| (k.key_id().clone(), k.public_key().clone()))
            .collect::<BTreeMap<_, _>>(),
        roles: vec![
            role("medical", &keys.medical.iter().collect::<Vec<_>>(), 2),
            role("camera", &[&keys.camera], 1),
        ],
        unrecognized: Unrecognized::new(),
    };
    adjust(&mut delegations);
    let mut targets = Targets::new(version, Utc::now() + chrono::Duration::days(30));
    targets.delegations = Some(delegations);
    sign_metadata(&targets, &[&server.keys.targets])
        .unwrap()
        .to_bytes()
        .unwrap()
}

/// A class role's metadata listing `images` under their own names.
fn role_metadata(version: u64, images: &[&Image], signers: &[&SigningKey]) -> Vec<u8> {
    let mut targets = Targets::new(version, Utc::now() + chrono::Duration::days(30));
    for image in images {
        targets
            .targets
            .insert(image.name.clone(), image.target_file());
    }
    sign_metadata(&targets, signers)
        .unwrap()
        .to_bytes()
        .unwrap()
}

async fn put_role(server: &TestServer, role: &str, bytes: Vec<u8>) -> (StatusCode, String) {
    let response = server
        .admin(Method::PUT, &format!("{}/{role}", paths::ADMIN_DELEGATIONS))
        .body(bytes)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

fn class_image(class: &str, version: &str) -> Image {
    let mut image = Image::new(class, version, &["hw-1"], 4096);
    image.name = format!("{class}/{}", image.name);
    image
}

#[tokio::test]
async fn class_roles_sign_only_their_own_class() {
    let server = TestServer::start().await;
    let keys = ClassKeys {
        medical: (0..3).map(|_| SigningKey::generate()).collect(),
        camera: SigningKey::generate(),
    };
    let medical = class_image("medical", "1.2.0");
    assert_eq!(
        server.upload_image(&medical).await.status(),
        StatusCode::CREATED
    );

    // Before any targets.json delegates, no role can be published.
    let early = role_metadata(1, &[&medical], &[&keys.medical[0], &keys.medical[1]]);
    assert_eq!(
        put_role(&server, "medical", early).await.0,
        StatusCode::CONFLICT
    );

    // Delegations that break the one-class-one-space rule are refused.
    let breakers: [(&str, Breaker); 4] = [
        (
            "wildcard paths",
            Box::new(|d| d.roles[0].paths = Some(vec!["*".into()])),
        ),
        (
            "another class's space",
            Box::new(|d| d.roles[1].paths = Some(vec!["medical/*".into()])),
        ),
        (
            "hash prefixes",
            Box::new(|d| {
                d.roles[0].paths = None;
                d.roles[0].path_hash_prefixes = Some(vec!["ab".into()]);
            }),
        ),
        (
            "name not a class",
            Box::new(|d| {
                d.roles[0].name = "med/ical".into();
                d.roles[0].paths = Some(vec!["med/ical/*".into()]);
            }),
        ),
    ];
    for (what, breaker) in breakers {
        let response = server
            .put_targets(delegating_targets(&server, 1, &keys, breaker))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
    }
    let response = server
        .put_targets(delegating_targets(&server, 1, &keys, |_| {}))
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );

    // One medical key is below the role's threshold of two; a camera key is not a
    // medical key at all.
    let one_key = role_metadata(1, &[&medical], &[&keys.medical[0]]);
    let (status, body) = put_role(&server, "medical", one_key).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let camera_signed = role_metadata(1, &[&medical], &[&keys.camera]);
    assert_eq!(
        put_role(&server, "medical", camera_signed).await.0,
        StatusCode::BAD_REQUEST
    );

    // The camera role cannot sign into the medical space, nor the medical role a camera
    // release in its own space.
    let camera = class_image("camera", "2.0.0");
    assert_eq!(
        server.upload_image(&camera).await.status(),
        StatusCode::CREATED
    );
    let poaching = role_metadata(1, &[&medical], &[&keys.camera]);
    let (status, body) = put_role(&server, "camera", poaching).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("medical/medical-1.2.0.img"), "{body}");
    let mut disguised = class_image("camera", "2.0.0");
    disguised.name = "medical/camera-2.0.0.img".into();
    let signed = role_metadata(1, &[&disguised], &[&keys.medical[0], &keys.medical[1]]);
    assert_eq!(
        put_role(&server, "medical", signed).await.0,
        StatusCode::BAD_REQUEST
    );

    // Two of three medical keys: published, served under both names, in the snapshot.
    let good = role_metadata(1, &[&medical], &[&keys.medical[0], &keys.medical[2]]);
    let (status, body) = put_role(&server, "medical", good.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        server.get_bytes("/metadata/medical.json").await.unwrap(),
        good
    );
    assert_eq!(
        server.get_bytes("/metadata/1.medical.json").await.unwrap(),
        good
    );
    let snapshot_bytes = server.get_bytes("/metadata/snapshot.json").await.unwrap();
    let snapshot: Snapshot = SignedEnvelope::from_slice(&snapshot_bytes, "snapshot")
        .unwrap()
        .parse_unverified()
        .unwrap();
    assert_eq!(snapshot.role_meta("medical").unwrap().version, 1);
    let (status, _) = put_role(&server, "medical", good).await;
    assert_eq!(status, StatusCode::CONFLICT, "same version again");
    assert_eq!(
        put_role(&server, "router", role_metadata(1, &[], &[&keys.camera]))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // The release entered the catalogue, and stays there when targets.json changes.
    let approve = || async {
        let response = server
            .admin(
                Method::PUT,
                &format!("{}/medical/approved", paths::ADMIN_CLASSES),
            )
            .json(&ApprovedRelease {
                target_name: medical.name.clone(),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Release>().await.unwrap()
    };
    assert_eq!(approve().await.class, "medical");
    let response = server
        .put_targets(delegating_targets(&server, 2, &keys, |_| {}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(approve().await.target_name, "medical/medical-1.2.0.img");
    let snapshot_bytes = server.get_bytes("/metadata/snapshot.json").await.unwrap();
    let snapshot: Snapshot = SignedEnvelope::from_slice(&snapshot_bytes, "snapshot")
        .unwrap()
        .parse_unverified()
        .unwrap();
    assert!(snapshot.role_meta("medical").is_some());
    server.shutdown().await;
}
