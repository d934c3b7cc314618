//! The form a release travels in, against the in-test server: a delta from the running
//! image, else the compressed image, else the raw image; each failure of a form falls
//! back to the next in the same run and is reported; interrupted compressed and delta
//! downloads resume.

mod support;

use support::repo::Form;
use support::server::Served;
use support::{DeviceDir, DeviceOptions, ReleaseSpec, Repo, TestServer, image, start_server};
use update_client::agent::{Agent, RunExit};
use update_client::bootloader::SimulatedBootloader;
use update_core::api::{PayloadKind, Report, UpdateEvent};
use update_core::hash::sha256_hex;

const SIZE: usize = 400_000;
/// Frames of the compressed form in these tests: several per image.
const FRAME: usize = 64 * 1024;

/// The running image (slot A) and its successor: most bytes shared.
fn images() -> (Vec<u8>, Vec<u8>) {
    let base = image(SIZE, 3);
    let mut next = base.clone();
    next[1000..3000].fill(0x5a);
    next.splice(200_000..200_000, image(5000, 77));
    next.truncate(SIZE + 2000);
    (base, next)
}

struct Setup {
    server: TestServer,
    device: DeviceDir,
    release: ReleaseSpec,
    forms: Vec<Form>,
}

/// A device running `base` (version 1.0.0) assigned 1.1.0, published with `forms`.
async fn setup(forms: impl FnOnce(&ReleaseSpec) -> Vec<Form>, payload: Option<&str>) -> Setup {
    let (base, next) = images();
    let server = start_server().await;
    let mut repo = Repo::new();
    let release = ReleaseSpec::camera("1.1.0", next);
    let forms = forms(&release);
    repo.publish_with_forms(1, std::slice::from_ref(&release), &forms);
    server.state.serve_repo(&repo);
    server.state.assign(&release);
    let options = DeviceOptions {
        payload,
        ..DeviceOptions::default()
    };
    let device = DeviceDir::new(&server.url, &repo.root_bytes(), options);
    std::fs::write(device.path("slot-a.img"), &base).unwrap();
    SimulatedBootloader::new(&device.path("sim-boot"), 1)
        .power_on()
        .unwrap();
    Setup {
        server,
        device,
        release,
        forms,
    }
}

fn delta_and_zstd(release: &ReleaseSpec) -> Vec<Form> {
    vec![
        release.delta_form("1.0.0", &images().0),
        release.zstd_form(FRAME),
    ]
}

async fn run(device: &DeviceDir) -> RunExit {
    Agent::new(device.config())
        .unwrap()
        .run(true)
        .await
        .unwrap()
}

fn reports(server: &TestServer) -> Vec<Report> {
    server.state.reports.lock().unwrap().clone()
}

fn requested(server: &TestServer, path: &str) -> usize {
    let requests = server.state.requests.lock().unwrap();
    requests.iter().filter(|p| *p == path).count()
}

fn spool_is_empty(device: &DeviceDir) -> bool {
    std::fs::read_dir(device.path("state/download"))
        .map(|mut entries| entries.next().is_none())
        .unwrap_or(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_from_the_running_image_is_applied_and_reported() {
    let Setup {
        server,
        device,
        release,
        forms,
    } = setup(delta_and_zstd, None).await;
    let delta = &forms[0];

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert_eq!(device.read("slot-b.img"), release.image);
    assert_eq!(requested(&server, &delta.path()), 1);
    assert_eq!(requested(&server, &forms[1].path()), 0);
    assert_eq!(requested(&server, &Repo::target_path(&release)), 0);
    assert!(spool_is_empty(&device));
    let reports = reports(&server);
    let events: Vec<UpdateEvent> = reports.iter().map(|r| r.event).collect();
    assert_eq!(events, [UpdateEvent::Downloading, UpdateEvent::Installed]);
    for report in &reports {
        let payload = report
            .payload
            .as_ref()
            .expect("every report names the payload");
        assert_eq!(payload.kind, PayloadKind::Delta);
        assert_eq!(payload.target_name, delta.name);
        assert_eq!(payload.base_version, Some(semver::Version::new(1, 0, 0)));
        assert_eq!(payload.length, delta.bytes.len() as u64);
        assert_eq!(payload.delta_failure, None);
        assert!(
            payload.reason.contains("delta from 1.0.0"),
            "{}",
            payload.reason
        );
    }
    assert_eq!(reports[1].bytes_downloaded, delta.bytes.len() as u64);
    let status = device.status();
    assert_eq!(status["slots"]["B"]["sha256"], sha256_hex(&release.image));
    assert_eq!(status["slots"]["B"]["target_name"], release.name);
    assert_eq!(status["journal"]["payload"]["kind"], "delta");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_delta_from_the_running_image_the_compressed_image_is_used() {
    // The only delta is from an image this device does not run (a factory 0.9.0).
    let from_elsewhere = |release: &ReleaseSpec| {
        vec![
            release.delta_form("0.9.0", &image(SIZE, 99)),
            release.zstd_form(FRAME),
        ]
    };
    let Setup {
        server,
        device,
        release,
        forms,
    } = setup(from_elsewhere, None).await;

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert_eq!(device.read("slot-b.img"), release.image);
    assert_eq!(requested(&server, &forms[0].path()), 0);
    assert_eq!(requested(&server, &forms[1].path()), 1);
    let installed = reports(&server).pop().unwrap();
    let payload = installed.payload.unwrap();
    assert_eq!(payload.kind, PayloadKind::Zstd);
    assert_eq!(payload.base_version, None);
    assert!(
        payload.reason.contains("is not published"),
        "{}",
        payload.reason
    );
    assert_eq!(installed.bytes_downloaded, forms[1].bytes.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_delta_is_refused_and_the_compressed_image_installed() {
    let Setup {
        server,
        device,
        release,
        forms,
    } = setup(delta_and_zstd, None).await;
    let mut corrupted = forms[0].bytes.clone();
    let last = corrupted.len() - 1;
    corrupted[last] ^= 0x01;
    server
        .state
        .files
        .lock()
        .unwrap()
        .insert(forms[0].path(), Served::Bytes(corrupted));

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert_eq!(device.read("slot-b.img"), release.image);
    assert!(spool_is_empty(&device));
    let reports = reports(&server);
    let downloading = reports[0].payload.as_ref().unwrap();
    assert_eq!(downloading.kind, PayloadKind::Delta);
    let installed = reports.last().unwrap();
    assert_eq!(installed.event, UpdateEvent::Installed);
    let payload = installed.payload.as_ref().unwrap();
    assert_eq!(payload.kind, PayloadKind::Zstd);
    assert_eq!(payload.target_name, forms[1].name);
    let failure = payload.delta_failure.as_deref().unwrap_or_default();
    assert!(failure.contains("refused"), "{failure}");
    assert_eq!(
        installed.bytes_downloaded,
        (forms[0].bytes.len() + forms[1].bytes.len()) as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_whose_header_names_another_base_is_refused_before_it_is_applied() {
    // Signed as a delta from the running image, but made from another one.
    let mislabelled = |release: &ReleaseSpec| {
        let mut delta = release.delta_form("1.0.0", &images().0);
        let other = release.delta_form("1.0.0", &image(SIZE, 42));
        delta.bytes = other.bytes;
        vec![delta, release.zstd_form(FRAME)]
    };
    let Setup {
        server,
        device,
        release,
        ..
    } = setup(mislabelled, None).await;

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert_eq!(device.read("slot-b.img"), release.image);
    let payload = reports(&server).pop().unwrap().payload.unwrap();
    assert_eq!(payload.kind, PayloadKind::Zstd);
    let failure = payload.delta_failure.unwrap_or_default();
    assert!(failure.contains("base does not match"), "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_needing_more_memory_than_allowed_falls_back() {
    let Setup {
        server,
        device,
        release,
        ..
    } = setup(delta_and_zstd, Some("delta_memory = 1024")).await;

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert_eq!(device.read("slot-b.img"), release.image);
    let payload = reports(&server).pop().unwrap().payload.unwrap();
    assert_eq!(payload.kind, PayloadKind::Zstd);
    let failure = payload.delta_failure.unwrap_or_default();
    assert!(failure.contains("memory"), "{failure}");
    assert!(spool_is_empty(&device));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_delta_and_a_corrupt_compressed_image_fall_back_to_the_raw_image() {
    let Setup {
        server,
        device,
        release,
        forms,
    } = setup(delta_and_zstd, None).await;
    {
        let mut files = server.state.files.lock().unwrap();
        files.remove(&forms[0].path());
        let mut garbled = forms[1].bytes.clone();
        garbled[20] ^= 0xff;
        files.insert(forms[1].path(), Served::Bytes(garbled));
    }

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert_eq!(device.read("slot-b.img"), release.image);
    assert_eq!(requested(&server, &Repo::target_path(&release)), 1);
    let payload = reports(&server).pop().unwrap().payload.unwrap();
    assert_eq!(payload.kind, PayloadKind::Raw);
    assert!(payload.delta_failure.unwrap_or_default().contains("404"));
    assert!(
        payload.reason.contains("the compressed image failed"),
        "{}",
        payload.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_deltas_and_compression_off_the_raw_image_is_downloaded() {
    let Setup {
        server,
        device,
        release,
        forms,
    } = setup(delta_and_zstd, Some("delta = false\nzstd = false")).await;

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert_eq!(device.read("slot-b.img"), release.image);
    for form in &forms {
        assert_eq!(requested(&server, &form.path()), 0);
    }
    let payload = reports(&server).pop().unwrap().payload.unwrap();
    assert_eq!(payload.kind, PayloadKind::Raw);
    assert!(payload.reason.contains("disabled"), "{}", payload.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_or_delta_target_is_never_assigned() {
    let Setup {
        server,
        device,
        forms,
        ..
    } = setup(delta_and_zstd, None).await;
    *server.state.assignment.lock().unwrap() = Some(update_core::api::Assignment {
        target_name: forms[1].name.clone(),
        version: semver::Version::new(1, 1, 0),
        retry: false,
        hold: None,
    });

    assert_eq!(run(&device).await, RunExit::UpdateFailed);
    let failure = reports(&server).pop().unwrap();
    assert_eq!(failure.event, UpdateEvent::Failure);
    let reason = failure.reason.unwrap_or_default();
    assert!(reason.contains("not a raw firmware image"), "{reason}");
    assert_eq!(requested(&server, &forms[1].path()), 0);
}
