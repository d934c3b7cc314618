//! Scoped admin tokens and the audit log: each admin route refuses a token without its
//! scope (403, naming the token and the scope), and every admin request, accepted or
//! refused, is in the audit log with its actor, action, subject and outcome.

mod classes_common;
mod common;

use classes_common::{profile, put_profile};
use common::{Image, TestServer};
use reqwest::{Method, StatusCode};
use update_core::api::{AuditEntry, ErrorBody, paths};
use update_core::classes::{RolloutSpec, RolloutStatus};
use update_server::create_scoped_admin_token;
use update_server::scope::{Scope, Scopes};

async fn token(server: &TestServer, name: &str, scopes: &[Scope]) -> String {
    create_scoped_admin_token(
        &server.config.data_dir,
        name,
        &Scopes::new(scopes.iter().copied()),
    )
    .await
    .unwrap()
}

/// Every admin write: method, path, and the scope it needs.
fn writes() -> Vec<(Method, String, &'static str)> {
    let sha = "ab".repeat(32);
    vec![
        (
            Method::PUT,
            format!("{}/{sha}", paths::ADMIN_IMAGES),
            "publish",
        ),
        (Method::PUT, paths::ADMIN_ROOT.to_string(), "publish"),
        (Method::PUT, paths::ADMIN_TARGETS.to_string(), "publish"),
        (Method::POST, paths::ADMIN_DEVICES.to_string(), "devices"),
        (
            Method::POST,
            format!("{}/cam-1/{}", paths::ADMIN_DEVICES, paths::RETRY),
            "rollout",
        ),
        (
            Method::PUT,
            format!("{}/camera/approved", paths::ADMIN_CLASSES),
            "rollout",
        ),
        (
            Method::PUT,
            format!("{}/camera", paths::ADMIN_CLASSES),
            "rollout",
        ),
        (Method::POST, paths::ADMIN_ROLLOUTS.to_string(), "rollout"),
        (
            Method::POST,
            format!("{}/r-000000000000/pause", paths::ADMIN_ROLLOUTS),
            "rollout",
        ),
    ]
}

#[tokio::test]
async fn every_admin_write_refuses_a_read_only_token_and_reads_accept_it() {
    let server = TestServer::start().await;
    let reader = token(&server, "auditor", &[Scope::Read]).await;
    for (method, path, scope) in writes() {
        let response = server
            .http
            .request(method.clone(), server.url(&path))
            .bearer_auth(&reader)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
        let body: ErrorBody = response.json().await.unwrap();
        assert_eq!(body.error, format!("token auditor lacks scope {scope}"));
    }
    for path in [
        paths::ADMIN_STATUS,
        paths::ADMIN_CLASSES,
        paths::ADMIN_ROLLOUTS,
        paths::ADMIN_AUDIT,
    ] {
        let response = server
            .http
            .get(server.url(path))
            .bearer_auth(&reader)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    }
}

#[tokio::test]
async fn the_audit_log_lists_a_publish_a_rollout_start_and_refused_attempts() {
    let mut server = TestServer::start().await;
    let publisher = token(&server, "ci-publisher", &[Scope::Publish]).await;
    let operator = token(&server, "operator", &[Scope::Rollout]).await;
    let reader = token(&server, "auditor", &[Scope::Read]).await;
    let v1 = Image::new("camera", "1.0.0", &["cam-v2"], 64);
    let v2 = Image::new("camera", "2.0.0", &["cam-v2"], 64);

    server.admin_token = publisher.clone();
    server.publish(1, &[&v1, &v2]).await;
    server.admin_token = operator.clone();
    assert_eq!(
        put_profile(&server, &profile(&v1)).await.status(),
        StatusCode::OK
    );
    let spec = RolloutSpec {
        class: "camera".into(),
        target_name: v2.name.clone(),
        waves: vec![50, 100],
        soak_secs: 3600,
        max_failure_rate: 0.2,
        min_finished: 3,
        halt_confidence: None,
    };
    let start = |token: &str| {
        server
            .http
            .post(server.url(paths::ADMIN_ROLLOUTS))
            .bearer_auth(token)
            .json(&spec)
            .send()
    };
    let created = start(&operator).await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: RolloutStatus = created.json().await.unwrap();
    let rollout_subject = format!("id={} class=camera target={}", created.id, v2.name);
    let refused = start(&publisher).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let unknown = start(&"0".repeat(64)).await.unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);

    server.admin_token = reader;
    let entries: Vec<AuditEntry> = server.admin_get(paths::ADMIN_AUDIT).await;
    let seen: Vec<(&str, &str, &str, u16)> = entries
        .iter()
        .map(|e| {
            (
                e.actor.as_str(),
                e.action.as_str(),
                e.subject.as_str(),
                e.outcome,
            )
        })
        .collect();
    let image_subject = |image: &Image| format!("sha256={}", image.sha256());
    let (s1, s2) = (image_subject(&v1), image_subject(&v2));
    assert_eq!(
        seen,
        vec![
            (
                "ci-publisher",
                "PUT /api/v1/admin/images/{sha256}",
                s1.as_str(),
                201
            ),
            (
                "ci-publisher",
                "PUT /api/v1/admin/images/{sha256}",
                s2.as_str(),
                201
            ),
            (
                "ci-publisher",
                "PUT /api/v1/admin/metadata/targets",
                "targets_version=1",
                200
            ),
            (
                "operator",
                "PUT /api/v1/admin/classes/{class}",
                "class=camera",
                200
            ),
            (
                "operator",
                "POST /api/v1/admin/rollouts",
                rollout_subject.as_str(),
                201
            ),
            ("ci-publisher", "POST /api/v1/admin/rollouts", "", 403),
            ("unknown", "POST /api/v1/admin/rollouts", "", 401),
        ]
    );
    assert!(entries.windows(2).all(|pair| pair[0].id < pair[1].id));
    assert!(
        entries
            .iter()
            .all(|e| e.source_address.as_deref() == Some("127.0.0.1"))
    );

    // Paging: after the third entry, two at a time; a limit past the maximum is refused.
    let page: Vec<AuditEntry> = server
        .admin_get(&format!(
            "{}?after={}&limit=2",
            paths::ADMIN_AUDIT,
            entries[2].id
        ))
        .await;
    assert_eq!(page, entries[3..5].to_vec());
    let too_many = server
        .admin(Method::GET, &format!("{}?limit=1001", paths::ADMIN_AUDIT))
        .send()
        .await
        .unwrap();
    assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
}
