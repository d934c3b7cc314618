//! An install interrupted by a power cut, as the journal and the slot record it: the
//! agent resumes it with a Range request when the prefix in the slot still matches,
//! starts over when it does not, and reports it failed once the server stops assigning
//! the release.

mod support;

use support::{DeviceDir, DeviceOptions, FACTORY_IMAGE, ReleaseSpec, Repo, image, start_server};
use update_client::agent::{Agent, RunExit};
use update_client::bootloader::{Bootloader, SimulatedBootloader};
use update_core::api::Slot;
use update_core::hash::sha256_hex;

const IMAGE_SIZE: usize = 300_000;

struct Interrupted {
    server: support::TestServer,
    device: DeviceDir,
    release: ReleaseSpec,
}

/// A device that was writing `release` into slot B when the power went: the slot holds
/// `slot_b`, the journal says `written` bytes of it were synced.
async fn interrupted(slot_b: &[u8], written: Option<(u64, String)>) -> Interrupted {
    let server = start_server().await;
    let mut repo = Repo::new();
    let release = ReleaseSpec::camera("1.1.0", image(IMAGE_SIZE, 5));
    repo.publish(1, std::slice::from_ref(&release));
    server.state.serve_repo(&repo);
    server.state.assign(&release);
    let device = DeviceDir::new(&server.url, &repo.root_bytes(), DeviceOptions::default());
    SimulatedBootloader::new(&device.path("sim-boot"), 1)
        .power_on()
        .unwrap();
    std::fs::write(device.path("slot-b.img"), slot_b).unwrap();
    let mut journal = serde_json::json!({
        "target_name": release.name,
        "version": "1.1.0",
        "from_version": "1.0.0",
        "from_slot": "A",
        "to_slot": "B",
        "target_sha256": sha256_hex(&release.image),
        "image_length": release.image.len(),
        "image_sha256": sha256_hex(&release.image),
        "phase": "installing",
        "last_event": "downloading",
        "bytes_downloaded": 150_000,
    });
    if let Some((length, sha256)) = written {
        journal["written"] = serde_json::json!({ "length": length, "sha256": sha256 });
        journal["validator"] = format!("\"{}\"", sha256_hex(&release.image)).into();
    }
    std::fs::create_dir_all(device.path("state")).unwrap();
    std::fs::write(device.path("state/journal.json"), journal.to_string()).unwrap();
    Interrupted {
        server,
        device,
        release,
    }
}

async fn run(device: &DeviceDir) -> RunExit {
    Agent::new(device.config())
        .unwrap()
        .run(true)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matching_prefix_is_kept_and_the_rest_fetched_with_a_range() {
    let image = image(IMAGE_SIZE, 5);
    let mut slot_b = image[..120_000].to_vec();
    slot_b.extend_from_slice(&[0xee; 7000]); // written after the checkpoint, not synced
    let written = (120_000, sha256_hex(&image[..120_000]));
    let Interrupted {
        server,
        device,
        release,
    } = interrupted(&slot_b, Some(written)).await;

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert_eq!(*server.state.ranges.lock().unwrap(), ["bytes=120000-"]);
    assert_eq!(device.read("slot-b.img"), release.image);
    assert_eq!(device.read("slot-a.img"), FACTORY_IMAGE);
    assert_eq!(
        server.state.events(),
        ["installed"],
        "no second `downloading`"
    );
    let reports = server.state.reports.lock().unwrap().clone();
    assert_eq!(reports[0].bytes_downloaded, 150_000 + 180_000);
    let status = device.status();
    assert_eq!(status["journal"]["phase"], "installed");
    assert!(status["journal"].get("written").is_none());
    assert_eq!(status["slots"]["B"]["sha256"], sha256_hex(&release.image));
    assert_eq!(status["primary_slot"], "B");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_that_no_longer_matches_is_downloaded_again() {
    let image = image(IMAGE_SIZE, 5);
    let mut slot_b = image[..120_000].to_vec();
    slot_b[1000] ^= 0xff; // the slot changed behind the journal's back
    let written = (120_000, sha256_hex(&image[..120_000]));
    let Interrupted {
        server,
        device,
        release,
    } = interrupted(&slot_b, Some(written)).await;

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert!(server.state.ranges.lock().unwrap().is_empty());
    assert_eq!(device.read("slot-b.img"), release.image);
    assert_eq!(server.state.events(), ["installed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_without_progress_starts_the_same_install_from_zero() {
    let Interrupted {
        server,
        device,
        release,
    } = interrupted(b"half-written", None).await;

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert!(server.state.ranges.lock().unwrap().is_empty());
    assert_eq!(device.read("slot-b.img"), release.image);
    assert_eq!(server.state.events(), ["installed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_no_longer_assigned_ends_as_a_failure() {
    let Interrupted { server, device, .. } = interrupted(b"half-written", None).await;
    *server.state.assignment.lock().unwrap() = None;

    assert_eq!(run(&device).await, RunExit::Idle);
    assert_eq!(server.state.events(), ["failure"]);
    let reports = server.state.reports.lock().unwrap().clone();
    assert!(
        reports[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("interrupted")),
        "{reports:?}"
    );
    let status = device.status();
    assert_eq!(status["journal"]["phase"], "failed");
    assert!(status["slots"]["B"].is_null());
    assert!(
        status["failed_releases"].as_array().unwrap().is_empty(),
        "an interruption does not condemn the release"
    );
    let bootloader = SimulatedBootloader::new(&device.path("sim-boot"), 1);
    assert_eq!(bootloader.primary_slot().unwrap(), Slot::A);
    assert_eq!(device.read("slot-a.img"), FACTORY_IMAGE);
}
