//! Compressed and delta installs interrupted by a power cut, as the journal, the slot and
//! the spool record them: the compressed download continues at its journaled frame end,
//! the delta download after its spooled bytes, each with an HTTP Range request.

mod support;

use support::repo::Form;
use support::{DeviceDir, DeviceOptions, ReleaseSpec, Repo, TestServer, image, start_server};
use update_client::agent::{Agent, RunExit};
use update_client::bootloader::SimulatedBootloader;
use update_core::api::{Payload, PayloadKind};
use update_core::hash::sha256_hex;

const SIZE: usize = 300_000;
const FRAME: usize = 64 * 1024;

struct Interrupted {
    server: TestServer,
    device: DeviceDir,
    release: ReleaseSpec,
    form: Form,
}

/// A device running `base` that was installing `form` of 1.1.0 when the power went;
/// `journal` adds the form's progress to the journal.
async fn interrupted(
    base: &[u8],
    form: impl FnOnce(&ReleaseSpec) -> Form,
    progress: serde_json::Value,
) -> Interrupted {
    let server = start_server().await;
    let mut repo = Repo::new();
    let mut next = base.to_vec();
    next[5000..9000].fill(0x42);
    let release = ReleaseSpec::camera("1.1.0", next);
    let form = form(&release);
    repo.publish_with_forms(
        1,
        std::slice::from_ref(&release),
        std::slice::from_ref(&form),
    );
    server.state.serve_repo(&repo);
    server.state.assign(&release);
    let device = DeviceDir::new(&server.url, &repo.root_bytes(), DeviceOptions::default());
    std::fs::write(device.path("slot-a.img"), base).unwrap();
    SimulatedBootloader::new(&device.path("sim-boot"), 1)
        .power_on()
        .unwrap();
    let kind = match form.firmware.encoding {
        update_core::firmware::Encoding::Delta => PayloadKind::Delta,
        _ => PayloadKind::Zstd,
    };
    let payload = Payload {
        kind,
        target_name: form.name.clone(),
        base_version: form.firmware.base.as_ref().map(|b| b.version.clone()),
        length: form.bytes.len() as u64,
        reason: "chosen before the power cut".into(),
        delta_failure: None,
    };
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
        "bytes_downloaded": 1000,
        "payload": payload,
    });
    for (key, value) in progress.as_object().unwrap() {
        journal[key] = value.clone();
    }
    std::fs::create_dir_all(device.path("state")).unwrap();
    std::fs::write(device.path("state/journal.json"), journal.to_string()).unwrap();
    // The first start recorded the running image before the install began.
    let slots = serde_json::json!({
        "A": { "version": "1.0.0", "target_name": null, "length": base.len(), "sha256": sha256_hex(base) },
        "B": null,
    });
    std::fs::write(device.path("state/slots.json"), slots.to_string()).unwrap();
    Interrupted {
        server,
        device,
        release,
        form,
    }
}

/// Compressed length at the end of each frame of `image`.
fn frame_ends(image: &[u8]) -> Vec<u64> {
    let mut end = 0;
    image
        .chunks(FRAME)
        .map(|chunk| {
            end += zstd::bulk::compress(chunk, 3).unwrap().len() as u64;
            end
        })
        .collect()
}

async fn run(device: &DeviceDir) -> RunExit {
    Agent::new(device.config())
        .unwrap()
        .run(true)
        .await
        .unwrap()
}

fn zstd_progress(image: &[u8], frames: usize, offset: u64) -> serde_json::Value {
    let length = frames * FRAME;
    serde_json::json!({
        "written": { "length": length, "sha256": sha256_hex(&image[..length]) },
        "zstd_offset": offset,
        "validator": null,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_download_continues_at_its_journaled_frame_end() {
    let base = image(SIZE, 8);
    let mut next = base.clone();
    next[5000..9000].fill(0x42);
    let ends = frame_ends(&next);
    let progress = zstd_progress(&next, 2, ends[1]);
    let Interrupted {
        server,
        device,
        release,
        form,
    } = interrupted(&base, |r| r.zstd_form(FRAME), progress).await;
    // The slot holds the two synced frames and some unsynced bytes after them.
    let mut slot_b = next[..2 * FRAME + 1000].to_vec();
    slot_b.extend_from_slice(&[0xee; 3000]);
    std::fs::write(device.path("slot-b.img"), slot_b).unwrap();

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert_eq!(device.read("slot-b.img"), release.image);
    assert_eq!(
        *server.state.ranges.lock().unwrap(),
        [format!("bytes={}-", ends[1])]
    );
    assert_eq!(server.state.events(), ["installed"]);
    let installed = server.state.reports.lock().unwrap()[0].clone();
    assert_eq!(
        installed.bytes_downloaded,
        1000 + form.bytes.len() as u64 - ends[1]
    );
    assert_eq!(installed.payload.unwrap().kind, PayloadKind::Zstd);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_compressed_download_that_does_not_make_the_image_starts_over() {
    let base = image(SIZE, 9);
    let mut next = base.clone();
    next[5000..9000].fill(0x42);
    let ends = frame_ends(&next);
    // The journal's offset is one frame behind its prefix: the decoded image comes out
    // wrong, which only the image's sha256 can tell.
    let progress = zstd_progress(&next, 2, ends[0]);
    let Interrupted {
        server,
        device,
        release,
        ..
    } = interrupted(&base, |r| r.zstd_form(FRAME), progress).await;
    std::fs::write(device.path("slot-b.img"), &next[..2 * FRAME]).unwrap();

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert_eq!(device.read("slot-b.img"), release.image);
    assert_eq!(
        *server.state.ranges.lock().unwrap(),
        [format!("bytes={}-", ends[0])]
    );
    assert_eq!(server.state.events(), ["installed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_download_continues_after_its_spooled_bytes() {
    let base = image(SIZE, 10);
    let delta_of = |release: &ReleaseSpec| release.delta_form("1.0.0", &image(SIZE, 10));
    let Interrupted {
        server,
        device,
        release,
        form,
    } = interrupted(&base, delta_of, serde_json::json!({})).await;
    let half = form.bytes.len() / 2;
    let spool = device.path("state/download");
    std::fs::create_dir_all(&spool).unwrap();
    let spooled = spool.join(format!("ota-delta-{}", sha256_hex(&form.bytes)));
    std::fs::write(&spooled, &form.bytes[..half]).unwrap();

    assert_eq!(run(&device).await, RunExit::Rebooting);
    assert_eq!(device.read("slot-b.img"), release.image);
    assert_eq!(
        *server.state.ranges.lock().unwrap(),
        [format!("bytes={half}-")]
    );
    assert!(
        !spooled.exists(),
        "the spool is removed once the slot is verified"
    );
    let installed = server.state.reports.lock().unwrap()[0].clone();
    assert_eq!(installed.payload.unwrap().kind, PayloadKind::Delta);
    assert_eq!(
        installed.bytes_downloaded,
        1000 + (form.bytes.len() - half) as u64
    );
}
