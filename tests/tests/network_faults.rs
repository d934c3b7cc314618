//! A flaky network between the device and its repository: target downloads broken
//! part-way are resumed with HTTP Range (never downloaded twice), the server's ETag and
//! If-Range keep a resumed download on the same copy, and a file that changed on a
//! mirror in the middle of a download is started again and judged by its signed hash.
//! The devices here download the raw image (`[payload]` off), but one that decompresses
//! the zstd form as it streams.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tests::images::{firmware_image, image_bytes, sha256_file, successor, write_image};
use tests::peers::{copy_repository, mirror};
use tests::proxy::{Proxy, TargetRequest};
use tests::{Device, DeviceSpec, World};
use update_core::api::{PayloadKind, UpdateEvent};
use update_core::firmware::zstd_target_name;
use update_core::hash::sha256_hex;

const IMAGE_SIZE: usize = 2 << 20;
const CLASS: &str = "cam";
const HARDWARE: &str = "board-a";
const NEW_TARGET: &str = "cam-1.1.0.img";

struct Released {
    world: World,
    old_sha256: String,
    new_sha256: String,
}

fn released() -> Released {
    let world = World::start();
    let old = world.path("fw-1.0.0.img");
    let new = world.path("fw-1.1.0.img");
    let old_sha256 = write_image(&old, 1, IMAGE_SIZE);
    let new_sha256 = write_image(&new, 2, IMAGE_SIZE);
    // Raw images only: these devices download the raw image (random bytes neither
    // compress nor make a delta worth publishing).
    let raw_only = ["--no-zstd", "--no-deltas"];
    world.release_with(&old, "1.0.0", CLASS, &[HARDWARE], &raw_only);
    world.release_with(&new, "1.1.0", CLASS, &[HARDWARE], &raw_only);
    world.publish();
    Released {
        world,
        old_sha256,
        new_sha256,
    }
}

/// A device that downloads the raw image (the Range mechanics under test here are the
/// same for every form; one test below takes the compressed one).
fn device(world: &World, id: &str, repository_url: &str) -> Device {
    let mut spec = DeviceSpec::new(id, CLASS, HARDWARE, world.path("fw-1.0.0.img"), "1.0.0");
    spec.repository_url = Some(repository_url.to_string());
    spec.payload = Some("delta = false\nzstd = false");
    Device::create(world, spec)
}

fn last_event(world: &World, id: &str) -> (Option<UpdateEvent>, String) {
    let status = world.status();
    let me = status
        .devices
        .iter()
        .find(|d| d.device_id == id)
        .expect("device in status");
    (me.last_event, me.last_reason.clone().unwrap_or_default())
}

#[test]
fn a_download_broken_three_times_resumes_where_it_broke() {
    let Released {
        world,
        old_sha256,
        new_sha256,
    } = released();
    let cut = 500_000;
    let proxy = Proxy::cutting(&world.server_url, cut, 3);
    let dev = device(&world, "dev-flaky", &proxy.url);

    dev.run_until_idle()
        .assert_ok("update over a flaky network");
    assert_eq!(dev.booted_slot(), "B");
    assert_eq!(dev.slot_b_sha256(), new_sha256);
    assert_eq!(dev.slot_a_sha256(), old_sha256);
    assert_eq!(
        last_event(&world, "dev-flaky").0,
        Some(UpdateEvent::Success)
    );

    assert_eq!(proxy.cuts_left(), 0);
    let etag = format!("\"{new_sha256}\"");
    let requests: Vec<(Option<String>, Option<String>, u16)> = proxy
        .target_requests()
        .into_iter()
        .map(
            |TargetRequest {
                 range,
                 if_range,
                 status,
                 ..
             }| (range, if_range, status),
        )
        .collect();
    let resumed = |n: u64| (Some(format!("bytes={}-", n * cut)), Some(etag.clone()), 206);
    assert_eq!(
        requests,
        [(None, None, 200), resumed(1), resumed(2), resumed(3)],
        "each retry continues where the connection broke"
    );
    let transferred = proxy.target_bytes();
    assert!(
        transferred >= IMAGE_SIZE as u64 && transferred <= IMAGE_SIZE as u64 + 64 * 1024,
        "{transferred} bytes went through for a {IMAGE_SIZE}-byte image"
    );
}

#[test]
fn a_compressed_download_broken_twice_resumes_mid_frame_where_it_broke() {
    let world = World::start();
    let old = firmware_image(1, IMAGE_SIZE);
    let new = successor(&old, 2);
    std::fs::write(world.path("fw-1.0.0.img"), &old).expect("write 1.0.0");
    std::fs::write(world.path("fw-1.1.0.img"), &new).expect("write 1.1.0");
    world.release(&world.path("fw-1.0.0.img"), "1.0.0", CLASS, &[HARDWARE]);
    world.release(&world.path("fw-1.1.0.img"), "1.1.0", CLASS, &[HARDWARE]);
    world.publish();
    let zstd = world.targets()[&zstd_target_name(NEW_TARGET)].clone();
    let cut = 300_000;
    let proxy = Proxy::cutting(&world.server_url, cut, 2);
    let mut spec = DeviceSpec::new(
        "dev-zstd",
        CLASS,
        HARDWARE,
        world.path("fw-1.0.0.img"),
        "1.0.0",
    );
    spec.repository_url = Some(proxy.url.clone());
    spec.server_url = Some(proxy.url.clone());
    spec.payload = Some("delta = false");
    let dev = Device::create(&world, spec);

    dev.run_until_idle()
        .assert_ok("compressed update over a flaky network");
    assert_eq!(dev.booted_slot(), "B");
    assert_eq!(dev.slot_b_sha256(), sha256_hex(&new));
    let reports = proxy.reports_of("dev-zstd");
    let last = reports.last().expect("reports");
    assert_eq!(last.event, UpdateEvent::Success);
    assert_eq!(
        last.payload.as_ref().map(|p| p.kind),
        Some(PayloadKind::Zstd)
    );
    let etag = format!("\"{}\"", zstd.sha256().expect("sha256"));
    let requests: Vec<(bool, Option<String>, Option<String>, u16)> = proxy
        .target_requests()
        .into_iter()
        .map(|r| (r.path.ends_with(".zst"), r.range, r.if_range, r.status))
        .collect();
    let resumed = |n: u64| {
        (
            true,
            Some(format!("bytes={}-", n * cut)),
            Some(etag.clone()),
            206,
        )
    };
    assert_eq!(requests, [(true, None, None, 200), resumed(1), resumed(2)]);
    assert_eq!(last.bytes_downloaded, zstd.length, "no byte fetched twice");
}

#[test]
fn the_server_names_targets_by_etag_and_honours_if_range() {
    let Released {
        world, new_sha256, ..
    } = released();
    let path = format!("/targets/{new_sha256}.{NEW_TARGET}");
    let client = reqwest::blocking::Client::new();
    let get = |headers: &[(&str, &str)]| {
        let mut request = client.get(format!("{}{path}", world.server_url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().expect("GET target")
    };
    let etag = format!("\"{new_sha256}\"");

    let whole = get(&[]);
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["etag"], etag.as_str());

    let rest = get(&[("range", "bytes=1000-"), ("if-range", &etag)]);
    assert_eq!(rest.status(), 206);
    assert_eq!(
        rest.headers()["content-range"],
        format!("bytes 1000-{}/{IMAGE_SIZE}", IMAGE_SIZE - 1).as_str()
    );
    assert_eq!(rest.headers()["etag"], etag.as_str());
    let body = rest.bytes().expect("body");
    assert_eq!(body.as_ref(), &image_bytes(2, IMAGE_SIZE)[1000..]);

    for other in ["\"0000\"", "W/\"weak\"", "Wed, 21 Oct 2015 07:28:00 GMT"] {
        let answer = get(&[("range", "bytes=1000-"), ("if-range", other)]);
        assert_eq!(answer.status(), 200, "If-Range {other}");
        assert_eq!(answer.bytes().expect("body").len(), IMAGE_SIZE);
    }
}

/// A mirror whose copy of the new release changes while a download of it is broken:
/// `before` is served first, `after` from the break on, with the same Last-Modified (so
/// nothing but the bytes tells the copies apart).
fn changing_mirror(world: &World, before: &[u8], after: Vec<u8>) -> (tests::peers::Peer, Proxy) {
    let copy = copy_repository(&world.server_url, &world.path("mirror"));
    let file: PathBuf = copy.target(NEW_TARGET, &sha256_file(&world.path("fw-1.1.0.img")));
    std::fs::write(&file, before).expect("mirror copy");
    let mtime = modified(&file);
    let peer = mirror(&copy.dir);
    let proxy = Proxy::cutting_then(&peer.url, 500_000, 1, move || {
        std::fs::write(&file, &after).expect("change the mirror copy");
        std::fs::File::options()
            .write(true)
            .open(&file)
            .and_then(|f| f.set_modified(mtime))
            .expect("keep Last-Modified");
    });
    (peer, proxy)
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime")
}

#[test]
fn a_copy_repaired_during_a_resume_is_downloaded_again_and_accepted() {
    let Released {
        world, new_sha256, ..
    } = released();
    let genuine = image_bytes(2, IMAGE_SIZE);
    let mut corrupt = genuine.clone();
    corrupt[1000] ^= 0x01;
    let (_mirror, proxy) = changing_mirror(&world, &corrupt, genuine);
    let dev = device(&world, "dev-repaired", &proxy.url);

    dev.run_until_idle()
        .assert_ok("update from a repaired mirror");
    assert_eq!(dev.booted_slot(), "B");
    assert_eq!(dev.slot_b_sha256(), new_sha256);
    assert_eq!(
        last_event(&world, "dev-repaired").0,
        Some(UpdateEvent::Success)
    );
    let statuses: Vec<(bool, u16)> = proxy
        .target_requests()
        .iter()
        .map(|r| (r.range.is_some(), r.status))
        .collect();
    assert_eq!(
        statuses,
        [(false, 200), (true, 206), (false, 200)],
        "broken, resumed (wrong hash over the stitched bytes), downloaded again whole"
    );
}

#[test]
fn a_copy_corrupted_during_a_resume_is_refused_and_nothing_switches() {
    let Released {
        world, old_sha256, ..
    } = released();
    let genuine = image_bytes(2, IMAGE_SIZE);
    let mut corrupt = genuine.clone();
    corrupt[IMAGE_SIZE - 1000] ^= 0x01;
    let (_mirror, proxy) = changing_mirror(&world, &genuine, corrupt);
    let dev = device(&world, "dev-corrupted", &proxy.url);

    let run = dev.run_until_idle();
    assert!(!run.success(), "a refused download is a failed update");
    let (event, reason) = last_event(&world, "dev-corrupted");
    assert_eq!(event, Some(UpdateEvent::Failure));
    assert!(
        reason.contains("sha256") || reason.contains("hash"),
        "{reason}"
    );
    assert_eq!(dev.booted_slot(), "A");
    assert_eq!(dev.slot_a_sha256(), old_sha256);
    let env = dev.boot_env();
    assert_eq!(env.get("boot_slot").map(String::as_str), Some("A"));
    assert_eq!(env.get("upgrade_available").map(String::as_str), Some("0"));
    let records = dev.state_file("slots.json").expect("slots.json");
    assert!(records["B"].is_null(), "a refused image is never recorded");
    assert_eq!(
        proxy.target_requests().len(),
        3,
        "one fresh download after the stitched one, no more"
    );
}
