//! The admin API: authentication, image uploads, targets and root uploads.

mod common;

use chrono::Utc;
use common::{Image, Keys, TestServer, signed_targets};
use reqwest::{Method, StatusCode};
use update_core::api::{ErrorBody, paths};
use update_core::keys::SigningKey;
use update_core::schema::RoleType;
use update_core::sign::{add_signature, sign_metadata};

async fn error_of(response: reqwest::Response) -> String {
    response.json::<ErrorBody>().await.unwrap().error
}

#[tokio::test]
async fn admin_api_needs_a_known_admin_token() {
    let server = TestServer::start().await;
    let status = server.url(paths::ADMIN_STATUS);

    let response = server.http.get(&status).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(!error_of(response).await.is_empty());

    let unknown = update_server::token::generate_token();
    for token in [unknown.as_str(), "not-a-token"] {
        let response = server
            .http
            .get(&status)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token}");
    }
    // A device's signature is no admin credential.
    let device = server.enroll("dev-1", "camera").await;
    let mut request = server.http.get(&status);
    for (name, value) in device.sign(paths::ADMIN_STATUS, b"").pairs() {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Uploads are refused before their body is looked at.
    let response = server
        .http
        .put(server.url(paths::ADMIN_TARGETS))
        .bearer_auth(&unknown)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = server
        .admin(Method::GET, paths::ADMIN_STATUS)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn image_with_the_wrong_hash_is_refused_and_not_stored() {
    let server = TestServer::start().await;
    let image = Image::new("camera", "1.0.0", &["cam-v2"], 100_000);
    let claimed = Image::new("camera", "9.9.9", &["cam-v2"], 10).sha256();
    let path = format!("{}/{claimed}", paths::ADMIN_IMAGES);

    let response = server
        .admin(Method::PUT, &path)
        .body(image.bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(error_of(response).await.contains("nothing was stored"));
    let response = server.admin(Method::HEAD, &path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let blobs = server.config.data_dir.join("blobs/sha256");
    let stored: Vec<String> = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // Only the root metadata is stored: neither image hash, nor a temporary file.
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(!stored.contains(&claimed) && !stored.contains(&image.sha256()));

    let response = server.upload_image(&image).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let head = format!("{}/{}", paths::ADMIN_IMAGES, image.sha256());
    let response = server.admin(Method::HEAD, &head).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        std::fs::read(blobs.join(image.sha256())).unwrap(),
        image.bytes
    );

    let response = server
        .admin(Method::HEAD, &format!("{}/not-a-hash", paths::ADMIN_IMAGES))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn image_over_the_size_limit_is_refused_even_when_streamed() {
    let server = TestServer::start_with(|config| config.max_image_size = 1000).await;
    let image = Image::new("camera", "1.0.0", &["cam-v2"], 5000);
    let path = format!("{}/{}", paths::ADMIN_IMAGES, image.sha256());

    let response = server.upload_image(&image).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Without a Content-Length the limit is enforced while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        image.bytes.chunks(512).map(|c| Ok(c.to_vec())).collect();
    let response = server
        .admin(Method::PUT, &path)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let response = server.admin(Method::HEAD, &path).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    server.shutdown().await;
}

#[tokio::test]
async fn targets_signed_by_a_key_not_in_root_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let image = Image::new("camera", "1.0.0", &["cam-v2"], 4096);
    server.publish(1, &[&image]).await;
    let timestamp = server.get_bytes("/metadata/timestamp.json").await;
    let targets = server.get_bytes("/metadata/targets.json").await;

    let rogue = SigningKey::generate();
    let response = server
        .put_targets(signed_targets(2, &[&image], &rogue))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(error_of(response).await.contains("signature"));
    assert_eq!(
        server.get_bytes("/metadata/timestamp.json").await,
        timestamp
    );
    assert_eq!(server.get_bytes("/metadata/targets.json").await, targets);
    assert_eq!(server.get_bytes("/metadata/2.targets.json").await, None);

    let response = server.put_targets(b"{not json".to_vec()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn targets_version_not_newer_is_a_conflict() {
    let server = TestServer::start().await;
    let image = Image::new("camera", "1.0.0", &["cam-v2"], 4096);
    server.publish(3, &[&image]).await;
    for version in [3, 2] {
        let response = server
            .put_targets(signed_targets(version, &[&image], &server.keys.targets))
            .await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "version {version}");
        assert!(error_of(response).await.contains("not newer"));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn targets_naming_an_image_not_uploaded_is_a_conflict() {
    let server = TestServer::start().await;
    let uploaded = Image::new("camera", "1.0.0", &["cam-v2"], 4096);
    let missing = Image::new("camera", "1.1.0", &["cam-v2"], 4096);
    assert_eq!(
        server.upload_image(&uploaded).await.status(),
        StatusCode::CREATED
    );

    let response = server
        .put_targets(signed_targets(
            1,
            &[&uploaded, &missing],
            &server.keys.targets,
        ))
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let error = error_of(response).await;
    assert!(
        error.contains(&missing.name) && error.contains(&missing.sha256()),
        "{error}"
    );
    assert_eq!(server.get_bytes("/metadata/targets.json").await, None);
    assert_eq!(server.get_bytes("/metadata/timestamp.json").await, None);
    server.shutdown().await;
}

#[tokio::test]
async fn root_rotation_needs_the_old_and_the_new_root_keys() {
    let server = TestServer::start().await;
    let new_root_key = SigningKey::generate();
    let mut root = server.root.clone();
    root.version = 2;
    root.expires = Utc::now() + chrono::Duration::days(365);
    root.keys.remove(server.keys.root.key_id());
    root.roles.root.keyids.clear();
    root.add_role_key(RoleType::Root, new_root_key.public_key().clone())
        .unwrap();

    let only_new = sign_metadata(&root, &[&new_root_key]).unwrap();
    let response = server
        .admin(Method::PUT, paths::ADMIN_ROOT)
        .body(only_new.to_bytes().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(server.get_bytes("/metadata/2.root.json").await, None);

    let mut both = only_new;
    add_signature(&mut both, &server.keys.root).unwrap();
    let bytes = both.to_bytes().unwrap();
    let response = server
        .admin(Method::PUT, paths::ADMIN_ROOT)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );
    assert_eq!(
        server.get_bytes("/metadata/2.root.json").await,
        Some(bytes.clone())
    );
    assert_eq!(
        server.get_bytes("/metadata/root.json").await,
        Some(bytes.clone())
    );

    // The same version again is not newer.
    let response = server
        .admin(Method::PUT, paths::ADMIN_ROOT)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    server.shutdown().await;
}

#[tokio::test]
async fn root_that_drops_the_servers_online_key_is_refused() {
    let server = TestServer::start().await;
    let mut root = server.root.clone();
    root.version = 2;
    let other = Keys::generate();
    root.roles.timestamp.keyids.clear();
    root.add_role_key(RoleType::Timestamp, other.timestamp.public_key().clone())
        .unwrap();
    let bytes = sign_metadata(&root, &[&server.keys.root])
        .unwrap()
        .to_bytes()
        .unwrap();
    let response = server
        .admin(Method::PUT, paths::ADMIN_ROOT)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(error_of(response).await.contains("timestamp key"));
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_json_bodies_are_refused_with_413() {
    let server = TestServer::start().await;
    let padding = "x".repeat(100 * 1024);
    let body = format!(r#"{{"device_id": "dev-1", "class": "camera", "pad": "{padding}"}}"#);
    let response = server
        .admin(Method::POST, paths::ADMIN_DEVICES)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!error_of(response).await.is_empty());
    server.shutdown().await;
}
