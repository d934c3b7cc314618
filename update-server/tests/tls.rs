//! HTTPS: the server serves TLS with a configured certificate; clients trust a CA file
//! or a pinned certificate; plain HTTP off loopback needs an explicit flag.

mod common;

use common::TestServer;
use common::pki::{TestPki, write_test_pki};
use reqwest::StatusCode;
use update_core::api::{FleetStatus, paths};
use update_core::tls::{CertPin, ClientTrust, client_config};
use update_server::config::TlsFiles;
use update_server::{Server, StartError};

fn client(trust: ClientTrust) -> reqwest::Client {
    let tls = client_config(&trust).unwrap().expect("a TLS config");
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap()
}

fn trusting_ca(pki: &TestPki) -> reqwest::Client {
    client(ClientTrust {
        ca_file: Some(pki.ca_pem.clone()),
        pinned_sha256: None,
    })
}

fn pinning(der: &[u8]) -> reqwest::Client {
    client(ClientTrust {
        ca_file: None,
        pinned_sha256: Some(CertPin::of(der)),
    })
}

/// The whole cause chain of a failed request, where rustls says why.
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

async fn https_server(pki: &TestPki) -> TestServer {
    let tls = TlsFiles {
        cert: pki.cert_pem.clone(),
        key: pki.key_pem.clone(),
    };
    TestServer::start_with(|config| config.tls = Some(tls)).await
}

#[tokio::test]
async fn a_client_trusting_the_ca_gets_https_and_others_are_refused() {
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = write_test_pki(pki_dir.path(), "server");
    let other = write_test_pki(pki_dir.path(), "other");
    let server = https_server(&pki).await;
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );

    let status: FleetStatus = trusting_ca(&pki)
        .get(server.url(paths::ADMIN_STATUS))
        .bearer_auth(&server.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(status.devices.is_empty());

    let refused = trusting_ca(&other)
        .get(server.url(paths::HEALTH))
        .send()
        .await
        .unwrap_err();
    assert!(
        chain(&refused).contains("UnknownIssuer"),
        "{}",
        chain(&refused)
    );

    let plain_url = server.url(paths::HEALTH).replace("https://", "http://");
    let plain = reqwest::get(&plain_url).await;
    assert!(
        plain.is_err() || plain.as_ref().is_ok_and(|r| r.status() != StatusCode::OK),
        "plain HTTP was served: {plain:?}"
    );
}

#[tokio::test]
async fn a_pinned_certificate_is_accepted_and_any_other_refused() {
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = write_test_pki(pki_dir.path(), "server");
    let other = write_test_pki(pki_dir.path(), "other");
    let server = https_server(&pki).await;

    let response = pinning(&pki.cert_der)
        .get(server.url(paths::HEALTH))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let refused = pinning(&other.cert_der)
        .get(server.url(paths::HEALTH))
        .send()
        .await
        .unwrap_err();
    let message = chain(&refused);
    assert!(message.contains("not the pinned one"), "{message}");
    assert!(
        message.contains(&CertPin::of(&pki.cert_der).to_string()),
        "{message}"
    );
}

#[tokio::test]
async fn bad_certificate_or_key_files_stop_the_start_with_a_clear_error() {
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = write_test_pki(pki_dir.path(), "server");
    let other = write_test_pki(pki_dir.path(), "other");
    let template = TestServer::start().await;
    for (cert, key, expected) in [
        (
            pki_dir.path().join("missing.pem"),
            pki.key_pem.clone(),
            "missing.pem",
        ),
        (
            pki.key_pem.clone(),
            pki.key_pem.clone(),
            "holds no PEM certificate",
        ),
        (
            pki.cert_pem.clone(),
            pki.cert_pem.clone(),
            "no usable private key",
        ),
        (
            pki.cert_pem.clone(),
            other.key_pem.clone(),
            "does not match",
        ),
    ] {
        let mut config = template.config.clone();
        config.tls = Some(TlsFiles { cert, key });
        let error = Server::start(config).await.unwrap_err();
        assert!(matches!(error, StartError::Tls(_)), "{error}");
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[tokio::test]
async fn plain_http_off_loopback_needs_allow_plain_http() {
    let template = TestServer::start().await;
    let mut config = template.config.clone();
    config.listen = "0.0.0.0:0".parse().unwrap();
    let error = Server::start(config.clone()).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("not a loopback address"), "{message}");
    assert!(message.contains("--allow-plain-http"), "{message}");
    config.allow_plain_http = true;
    let server = Server::start(config).await.unwrap();
    assert!(server.url().starts_with("http://0.0.0.0:"));
    server.shutdown().await.unwrap();
}
