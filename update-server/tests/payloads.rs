//! The forms a release travels in: zstd and delta targets are published beside the raw
//! image but are never releases, and the payloads devices report are stored and counted
//! in status and `/metrics`.

mod common;

use chrono::Utc;
use common::{Image, TestServer, check_in, metric};
use reqwest::{Method, StatusCode};
use update_core::api::{
    CheckInResponse, FleetStatus, Payload, PayloadKind, Report, UpdateEvent, paths,
};
use update_core::firmware::{DeltaBase, Encoding, Firmware, delta_target_name, zstd_target_name};
use update_core::hash::sha256_hex;
use update_core::schema::{TargetFile, Targets};
use update_core::sign::sign_metadata;

/// A zstd or delta form of `release`: its own bytes, the release's firmware fields.
struct Form {
    name: String,
    bytes: Vec<u8>,
    firmware: Firmware,
}

fn raw_firmware(image: &Image) -> Firmware {
    let target = image.target_file();
    Firmware::of_target(&image.name, &target).unwrap().unwrap()
}

fn zstd_form(release: &Image) -> Form {
    Form {
        name: zstd_target_name(&release.name),
        bytes: b"pretend zstd frames".to_vec(),
        firmware: Firmware {
            encoding: Encoding::Zstd,
            release: Some(release.name.clone()),
            ..raw_firmware(release)
        },
    }
}

fn delta_form(release: &Image, base: &Image) -> Form {
    Form {
        name: delta_target_name(&release.name, &base.sha256()),
        bytes: b"pretend delta".to_vec(),
        firmware: Firmware {
            encoding: Encoding::Delta,
            release: Some(release.name.clone()),
            base: Some(DeltaBase {
                version: base.version.clone(),
                length: base.bytes.len() as u64,
                sha256: base.sha256(),
            }),
            ..raw_firmware(release)
        },
    }
}

/// Uploads every file and publishes targets `version` listing the images and forms;
/// returns the server's answer.
async fn publish(
    server: &TestServer,
    version: u64,
    images: &[&Image],
    forms: &[&Form],
) -> reqwest::Response {
    let mut targets = Targets::new(version, Utc::now() + chrono::Duration::days(30));
    for image in images {
        assert_eq!(
            server.upload_image(image).await.status(),
            StatusCode::CREATED
        );
        targets
            .targets
            .insert(image.name.clone(), image.target_file());
    }
    for form in forms {
        let sha256 = sha256_hex(&form.bytes);
        let response = server
            .admin(Method::PUT, &format!("{}/{sha256}", paths::ADMIN_IMAGES))
            .body(form.bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let custom = form.firmware.to_custom().unwrap();
        targets.targets.insert(
            form.name.clone(),
            TargetFile::new(form.bytes.len() as u64, sha256, Some(custom)),
        );
    }
    let bytes = sign_metadata(&targets, &[&server.keys.targets])
        .unwrap()
        .to_bytes()
        .unwrap();
    server.put_targets(bytes).await
}

async fn status(server: &TestServer) -> FleetStatus {
    let response = server
        .admin(Method::GET, paths::ADMIN_STATUS)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn zstd_and_delta_targets_are_published_but_are_not_releases() {
    let server = TestServer::start().await;
    let old = Image::new("camera", "1.0.0", &["cam-v2"], 1000);
    let new = Image::new("camera", "1.1.0", &["cam-v2"], 1000);
    let (zstd, delta) = (zstd_form(&new), delta_form(&new, &old));
    let response = publish(&server, 1, &[&old, &new], &[&zstd, &delta]).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{:?}",
        response.text().await
    );

    // "camera-1.1.0.img.zst" sorts after the raw name: were it a release, it would win.
    let token = server.enroll("dev-1", "camera").await;
    let response = server
        .device_post(
            &token,
            paths::CHECKIN,
            &check_in("dev-1", "camera", "cam-v2", "1.0.0"),
        )
        .await;
    let answer: CheckInResponse = response.json().await.unwrap();
    assert_eq!(answer.assignment.unwrap().target_name, new.name);
    let fleet = status(&server).await;
    assert_eq!(fleet.classes.len(), 1);
    let approved = fleet.classes[0].approved.as_ref().unwrap();
    assert_eq!((&approved.target_name, approved.length), (&new.name, 1000));

    // Only releases can be approved or reported on; the forms are still served.
    let pin = server
        .admin(
            Method::PUT,
            &format!("{}/camera/approved", paths::ADMIN_CLASSES),
        )
        .json(&update_core::api::ApprovedRelease {
            target_name: zstd.name.clone(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(pin.status(), StatusCode::NOT_FOUND);
    let mut report = report_of(&new, "dev-1", UpdateEvent::Downloading, 0, None);
    report.target_name = delta.name.clone();
    let response = server.device_post(&token, paths::REPORT, &report).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let path = format!(
        "{}/{}",
        paths::TARGETS,
        update_core::layout::consistent_target_path(&delta.name, &sha256_hex(&delta.bytes))
    );
    assert_eq!(server.get_bytes(&path).await, Some(delta.bytes.clone()));
    server.shutdown().await;
}

#[tokio::test]
async fn forms_must_name_a_release_listed_beside_them() {
    let server = TestServer::start().await;
    let old = Image::new("camera", "1.0.0", &["cam-v2"], 1000);
    let new = Image::new("camera", "1.1.0", &["cam-v2"], 1000);

    let orphan = zstd_form(&new);
    let response = publish(&server, 1, &[&old], &[&orphan]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("does not list"));

    let mut misnamed = delta_form(&new, &old);
    misnamed.name = format!("{}.delta", new.name);
    let response = publish(&server, 1, &[&old, &new], &[&misnamed]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("must be named"));

    let mut other_image = zstd_form(&new);
    other_image.firmware.image.length += 1;
    let response = publish(&server, 1, &[&old, &new], &[&other_image]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("different image"));
    server.shutdown().await;
}

fn report_of(
    release: &Image,
    device: &str,
    event: UpdateEvent,
    bytes_downloaded: u64,
    payload: Option<Payload>,
) -> Report {
    Report {
        device_id: device.into(),
        target_name: release.name.clone(),
        version: release.version.clone(),
        from_version: "1.0.0".parse().unwrap(),
        event,
        reason: None,
        bytes_downloaded,
        payload,
    }
}

fn payload(kind: PayloadKind, form: &Form, delta_failure: Option<&str>) -> Payload {
    Payload {
        kind,
        target_name: form.name.clone(),
        base_version: (kind == PayloadKind::Delta).then(|| "1.0.0".parse().unwrap()),
        length: form.bytes.len() as u64,
        reason: "test".into(),
        delta_failure: delta_failure.map(String::from),
    }
}

#[tokio::test]
async fn payloads_are_stored_and_counted_per_update_in_status_and_metrics() {
    let server = TestServer::start().await;
    let old = Image::new("camera", "1.0.0", &["cam-v2"], 1000);
    let new = Image::new("camera", "1.1.0", &["cam-v2"], 1000);
    let (zstd, delta) = (zstd_form(&new), delta_form(&new, &old));
    let response = publish(&server, 1, &[&old, &new], &[&zstd, &delta]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut tokens = Vec::new();
    for device in ["dev-1", "dev-2", "dev-3", "dev-4"] {
        tokens.push(server.enroll(device, "camera").await);
    }
    let by_delta = payload(PayloadKind::Delta, &delta, None);
    let by_zstd = payload(PayloadKind::Zstd, &zstd, None);
    let fell_back = payload(PayloadKind::Zstd, &zstd, Some("result sha256 mismatch"));
    use UpdateEvent::{Downloading, Installed, RolledBack, Success};
    let reports = [
        // dev-1: a delta, retried reports counted once.
        (0, Downloading, 0, Some(by_delta.clone())),
        (0, Downloading, 0, Some(by_delta.clone())),
        (0, Success, 120, Some(by_delta.clone())),
        // dev-2: the zstd image, rolled back.
        (1, Downloading, 0, Some(by_zstd.clone())),
        (1, RolledBack, 400, Some(by_zstd)),
        // dev-3: a delta that failed, then the zstd image; counted as a delta update.
        (2, Downloading, 0, Some(by_delta)),
        (2, Installed, 530, Some(fell_back)),
        (2, Success, 530, None),
        // dev-4: a client that reports no payload downloads the raw image.
        (3, Downloading, 0, None),
        (3, Success, 1000, None),
    ];
    for (index, event, bytes, payload) in reports {
        let device = format!("dev-{}", index + 1);
        let body = report_of(&new, &device, event, bytes, payload);
        let response = server
            .device_post(&tokens[index], paths::REPORT, &body)
            .await;
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "{device} {event}"
        );
    }

    let check = |text: &str| {
        let kind = |kind| [("class", "camera"), ("kind", kind)];
        let class = [("class", "camera")];
        let updates = |k| metric(text, "ota_update_payloads_total", &kind(k));
        assert_eq!(
            (updates("delta"), updates("zstd"), updates("raw")),
            (Some(2.0), Some(1.0), Some(1.0)),
            "{text}"
        );
        let bytes = |k| metric(text, "ota_download_bytes_total", &kind(k));
        assert_eq!(
            (bytes("delta"), bytes("zstd"), bytes("raw")),
            (Some(120.0), Some(930.0), Some(1000.0))
        );
        assert_eq!(
            metric(text, "ota_download_full_equivalent_bytes_total", &class),
            Some(4000.0)
        );
        assert_eq!(metric(text, "ota_delta_fallbacks_total", &class), Some(1.0));
    };
    check(&server.get(paths::METRICS).await.text().await.unwrap());

    let status = status(&server).await;
    assert_eq!(status.payloads.len(), status.classes.len());
    let camera = &status.payloads[0];
    assert_eq!(camera.class, "camera");
    let delta_totals = camera.kind(PayloadKind::Delta).unwrap();
    assert_eq!(
        (delta_totals.updates, delta_totals.bytes_downloaded),
        (2, 120)
    );
    assert_eq!(camera.bytes_downloaded(), 2050);
    assert_eq!(
        (camera.full_equivalent_bytes, camera.delta_fallbacks),
        (4000, 1)
    );

    let server = server.restart().await;
    check(&server.get(paths::METRICS).await.text().await.unwrap());
    server.shutdown().await;
}

#[tokio::test]
async fn a_payload_that_is_no_form_of_the_release_is_refused() {
    let server = TestServer::start().await;
    let old = Image::new("camera", "1.0.0", &["cam-v2"], 1000);
    let new = Image::new("camera", "1.1.0", &["cam-v2"], 1000);
    let (zstd, delta) = (zstd_form(&new), delta_form(&new, &old));
    assert_eq!(
        publish(&server, 1, &[&old, &new], &[&zstd, &delta])
            .await
            .status(),
        StatusCode::OK
    );
    let token = server.enroll("dev-1", "camera").await;
    let mut bad = Vec::new();
    let mut wrong_kind = payload(PayloadKind::Raw, &zstd, None);
    wrong_kind.base_version = None;
    bad.push(wrong_kind);
    let mut other_release = payload(PayloadKind::Delta, &delta, None);
    other_release.target_name = delta_target_name(&old.name, &old.sha256());
    bad.push(other_release);
    let mut no_base = payload(PayloadKind::Delta, &delta, None);
    no_base.base_version = None;
    bad.push(no_base);
    let mut long_reason = payload(PayloadKind::Zstd, &zstd, None);
    long_reason.reason = "x".repeat(5000);
    bad.push(long_reason);
    let mut huge = payload(PayloadKind::Zstd, &zstd, None);
    huge.length = u64::MAX;
    bad.push(huge);
    for payload in bad {
        let body = report_of(&new, "dev-1", UpdateEvent::Downloading, 0, Some(payload));
        let response = server.device_post(&token, paths::REPORT, &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    let text = server.get(paths::METRICS).await.text().await.unwrap();
    let delta_updates = metric(
        &text,
        "ota_update_payloads_total",
        &[("class", "camera"), ("kind", "delta")],
    );
    assert_eq!(delta_updates, Some(0.0), "{text}");
    server.shutdown().await;
}
