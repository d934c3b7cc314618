//! Releases travel as deltas end to end: `ota release add` signs the compressed image and
//! a delta from the previous release, the real server publishes them, and real devices
//! choose: a device running 1.0.0 downloads the delta, a device running an image no delta
//! starts from downloads the compressed image (or the raw one with compression off), and
//! a delta corrupted on a mirror is refused and replaced by the full image, reported.

use tests::images::{firmware_image, successor};
use tests::peers::{copy_repository, mirror};
use tests::proxy::Proxy;
use tests::{Device, DeviceSpec, World};
use update_core::api::{PayloadKind, Report, UpdateEvent};
use update_core::firmware::{delta_target_name, zstd_target_name};
use update_core::hash::sha256_hex;
use update_core::schema::TargetFile;

const IMAGE_SIZE: usize = 2 << 20;
const CLASS: &str = "cam";
const HARDWARE: &str = "board-a";
const NEW_TARGET: &str = "cam-1.1.0.img";

/// A server with 1.0.0 and its successor 1.1.0 released by `ota` (raw, zstd, and the
/// delta from 1.0.0), devices' traffic through a recording proxy.
struct Fleet {
    world: World,
    proxy: Proxy,
    new_sha256: String,
    delta_name: String,
    delta: TargetFile,
    zstd: TargetFile,
    raw: TargetFile,
}

fn fleet() -> Fleet {
    let world = World::start();
    let old = firmware_image(1, IMAGE_SIZE);
    let new = successor(&old, 2);
    std::fs::write(world.path("fw-1.0.0.img"), &old).expect("write 1.0.0");
    std::fs::write(world.path("fw-1.1.0.img"), &new).expect("write 1.1.0");
    std::fs::write(world.path("fw-0.9.0.img"), firmware_image(3, IMAGE_SIZE)).expect("0.9.0");
    world.release(&world.path("fw-1.0.0.img"), "1.0.0", CLASS, &[HARDWARE]);
    world.release(&world.path("fw-1.1.0.img"), "1.1.0", CLASS, &[HARDWARE]);
    world.publish();
    let targets = world.targets();
    let delta_name = delta_target_name(NEW_TARGET, &sha256_hex(&old));
    let listed = |name: &str| {
        targets.get(name).cloned().unwrap_or_else(|| {
            panic!(
                "`ota release add` did not publish {name}; it published {:?}",
                targets.keys()
            )
        })
    };
    let proxy = Proxy::recording(&world.server_url);
    Fleet {
        delta: listed(&delta_name),
        zstd: listed(&zstd_target_name(NEW_TARGET)),
        raw: listed(NEW_TARGET),
        delta_name,
        new_sha256: sha256_hex(&new),
        proxy,
        world,
    }
}

impl Fleet {
    /// A device running `factory` (a file of the world) at `version`, reaching server
    /// and repository through the proxy unless `repository_url` says otherwise.
    fn device(&self, id: &str, factory: &str, version: &str, payload: Option<&str>) -> Device {
        let mut spec = DeviceSpec::new(id, CLASS, HARDWARE, self.world.path(factory), version);
        spec.server_url = Some(self.proxy.url.clone());
        spec.repository_url = Some(self.proxy.url.clone());
        spec.payload = payload;
        Device::create(&self.world, spec)
    }

    /// Updates `dev` and checks it runs 1.1.0 committed; returns its reports.
    fn update(&self, dev: &Device) -> Vec<Report> {
        dev.run_until_idle().assert_ok("update");
        assert_eq!(dev.booted_slot(), "B");
        assert_eq!(dev.slot_b_sha256(), self.new_sha256);
        assert!(dev.spooled_files().is_empty(), "{:?}", dev.spooled_files());
        let reports = self.proxy.reports_of(&dev.id);
        let events: Vec<UpdateEvent> = reports.iter().map(|r| r.event).collect();
        assert_eq!(
            events,
            [
                UpdateEvent::Downloading,
                UpdateEvent::Installed,
                UpdateEvent::BootedNew,
                UpdateEvent::Success
            ]
        );
        reports
    }

    /// The target paths the devices fetched through the proxy.
    fn fetched(&self) -> Vec<String> {
        self.proxy
            .target_requests()
            .into_iter()
            .map(|r| r.path)
            .collect()
    }
}

fn fetched_name(path: &str) -> &str {
    // `/targets/HASH.NAME`: the name follows the 64 hex digits and the dot.
    path.strip_prefix("/targets/")
        .and_then(|rest| rest.get(65..))
        .unwrap_or(path)
}

#[test]
fn a_device_on_the_previous_release_updates_by_a_delta() {
    let fleet = fleet();
    let dev = fleet.device("dev-delta", "fw-1.0.0.img", "1.0.0", None);

    let reports = fleet.update(&dev);
    for report in &reports {
        let payload = report
            .payload
            .as_ref()
            .expect("every report names its payload");
        assert_eq!(payload.kind, PayloadKind::Delta);
        assert_eq!(payload.target_name, fleet.delta_name);
        assert_eq!(payload.base_version, Some(semver::Version::new(1, 0, 0)));
        assert_eq!(payload.length, fleet.delta.length);
        assert_eq!(payload.delta_failure, None);
    }
    let fetched = fleet.fetched();
    let names: Vec<&str> = fetched.iter().map(|p| fetched_name(p)).collect();
    assert_eq!(names, [fleet.delta_name.as_str()]);
    let downloaded = reports[3].bytes_downloaded;
    assert_eq!(downloaded, fleet.delta.length);
    assert!(
        downloaded < fleet.zstd.length,
        "the delta ({downloaded} bytes) is not smaller than the compressed image ({})",
        fleet.zstd.length
    );
    println!(
        "1.0.0 -> 1.1.0: {downloaded} bytes downloaded by delta; compressed image {}, raw {}",
        fleet.zstd.length, fleet.raw.length
    );
}

#[test]
fn a_device_whose_image_is_no_delta_base_updates_by_the_compressed_image() {
    let fleet = fleet();
    let dev = fleet.device("dev-factory", "fw-0.9.0.img", "0.9.0", None);

    let reports = fleet.update(&dev);
    let success = &reports[3];
    let payload = success.payload.as_ref().expect("payload");
    assert_eq!(payload.kind, PayloadKind::Zstd);
    assert_eq!(payload.target_name, zstd_target_name(NEW_TARGET));
    assert_eq!(payload.base_version, None);
    assert!(
        payload.reason.contains("is not published"),
        "{}",
        payload.reason
    );
    assert_eq!(success.bytes_downloaded, fleet.zstd.length);
    assert!(fleet.zstd.length < fleet.raw.length);
}

#[test]
fn a_delta_corrupted_on_a_mirror_is_refused_and_the_full_image_installed() {
    let fleet = fleet();
    let copy = copy_repository(&fleet.world.server_url, &fleet.world.path("mirror"));
    let delta_sha256 = fleet.delta.sha256().expect("delta sha256").to_string();
    let file = copy.target(&fleet.delta_name, &delta_sha256);
    let mut bytes = std::fs::read(&file).expect("mirror's delta");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&file, bytes).expect("corrupt the delta");
    let mirror = mirror(&copy.dir);
    let mut spec = DeviceSpec::new(
        "dev-mirror",
        CLASS,
        HARDWARE,
        fleet.world.path("fw-1.0.0.img"),
        "1.0.0",
    );
    spec.server_url = Some(fleet.proxy.url.clone());
    spec.repository_url = Some(mirror.url.clone());
    let dev = Device::create(&fleet.world, spec);

    let reports = fleet.update(&dev);
    let first = reports[0].payload.as_ref().expect("payload");
    assert_eq!(first.kind, PayloadKind::Delta, "the delta was chosen first");
    let last = reports[3].payload.as_ref().expect("payload");
    assert_eq!(last.kind, PayloadKind::Zstd, "then the full image");
    let failure = last.delta_failure.as_deref().unwrap_or_default();
    assert!(failure.contains("refused"), "{failure}");
    assert!(failure.contains(&fleet.delta_name), "{failure}");
    assert_eq!(
        reports[3].bytes_downloaded,
        fleet.delta.length + fleet.zstd.length
    );
}

#[test]
fn with_compression_off_a_device_without_a_delta_updates_raw() {
    let fleet = fleet();
    let dev = fleet.device("dev-raw", "fw-0.9.0.img", "0.9.0", Some("zstd = false"));

    let reports = fleet.update(&dev);
    let payload = reports[3].payload.as_ref().expect("payload");
    assert_eq!(payload.kind, PayloadKind::Raw);
    assert_eq!(payload.target_name, NEW_TARGET);
    assert!(payload.reason.contains("disabled"), "{}", payload.reason);
    assert_eq!(reports[3].bytes_downloaded, fleet.raw.length);
    let fetched = fleet.fetched();
    let names: Vec<&str> = fetched.iter().map(|p| fetched_name(p)).collect();
    assert_eq!(names, [NEW_TARGET]);
}
