//! Attacks on a device in the field, each refused with nothing written to the running
//! slot and the trusted metadata never replaced by anything the right keys did not sign.
//!
//! Every test starts from a device that already updated to 1.1.0 through the genuine
//! server (so it holds trusted metadata and runs slot B), then the release engineer
//! publishes 1.2.0 and an attacker interferes: a mirror serving tampered copies of the
//! repository, or a compromised server holding the online snapshot and timestamp keys.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use tests::images::{firmware_image, sha256_file, successor};
use tests::peers::{RepositoryCopy, copy_repository, lying_server, mirror};
use tests::process::Finished;
use tests::{Device, DeviceSpec, World};
use update_core::api::{Assignment, UpdateEvent};
use update_core::keys::SigningKey;
use update_core::layout::versioned_metadata_name;
use update_core::schema::{MetaFile, Snapshot, TargetFile, Targets, Timestamp, whole_seconds};
use update_core::sign::sign_metadata;

const IMAGE_SIZE: usize = 512 * 1024;
const CLASS: &str = "cam";
const HARDWARE: &str = "board-a";
const V12_TARGET: &str = "cam-1.2.0.img";

struct Field {
    world: World,
    dev: Device,
    v11_sha: String,
    /// The repository as it was when only 1.0.0 was published (targets version 1).
    first_copy: RepositoryCopy,
}

/// A device running 1.1.0 (installed through the genuine server), then 1.2.0 published
/// for `v12_hardware`.
fn field(v12_hardware: &str) -> Field {
    let world = World::start();
    let images: Vec<_> = (0..3)
        .map(|i| world.path(&format!("fw-1.{i}.0.img")))
        .collect();
    // Consecutive builds of one firmware, so that 1.2.0 is published in every form a
    // device may take: raw, zstd-compressed and as a delta from 1.1.0.
    let mut image = firmware_image(1, IMAGE_SIZE);
    for (seed, path) in images.iter().enumerate() {
        if seed > 0 {
            image = successor(&image, seed as u64 + 1);
        }
        std::fs::write(path, &image).expect("write image");
    }
    world.release(&images[0], "1.0.0", CLASS, &[HARDWARE]);
    world.publish();
    let first_copy = copy_repository(&world.server_url, &world.path("first-copy"));
    world.release(&images[1], "1.1.0", CLASS, &[HARDWARE]);
    world.publish();

    let dev = Device::create(
        &world,
        DeviceSpec::new("dev-1", CLASS, HARDWARE, images[0].clone(), "1.0.0"),
    );
    dev.run_until_idle().assert_ok("genuine update to 1.1.0");
    let v11_sha = sha256_file(&images[1]);
    assert_eq!(dev.slot_b_sha256(), v11_sha);

    world.release(&images[2], "1.2.0", CLASS, &[v12_hardware]);
    world.publish();
    Field {
        world,
        dev,
        v11_sha,
        first_copy,
    }
}

impl Field {
    fn mirror_copy(&self) -> RepositoryCopy {
        copy_repository(&self.world.server_url, &self.world.path("mirror"))
    }

    /// The device refused: still on 1.1.0 in slot B, committed, and it told the server.
    fn assert_refused(&self, run: &Finished, reason_hint: &[&str]) {
        assert!(
            !run.success(),
            "the device must not report success:\n{}",
            run.stderr
        );
        assert_eq!(self.dev.booted_slot(), "B");
        assert_eq!(
            self.dev.slot_b_sha256(),
            self.v11_sha,
            "the running slot is untouched"
        );
        let env = self.dev.boot_env();
        assert_eq!(env.get("boot_slot").map(String::as_str), Some("B"));
        assert_eq!(env.get("upgrade_available").map(String::as_str), Some("0"));
        let status = self.world.status();
        let me = status
            .devices
            .iter()
            .find(|d| d.device_id == "dev-1")
            .expect("device in status");
        assert_eq!(me.firmware_version, Some(semver::Version::new(1, 1, 0)));
        assert_eq!(me.last_event, Some(UpdateEvent::Failure), "{me:?}");
        let reason = me.last_reason.clone().unwrap_or_default().to_lowercase();
        assert!(
            reason_hint.iter().any(|hint| reason.contains(hint)),
            "reason {reason:?} should mention one of {reason_hint:?}"
        );
    }
}

fn example_key(world: &World, role: &str) -> SigningKey {
    let pem = std::fs::read_to_string(world.keys.join(format!("{role}.pem"))).expect("example key");
    SigningKey::from_pkcs8_pem(&pem).expect("example key parses")
}

/// Re-signs the copy's chain from targets up: `edit` changes the targets, which get a new
/// version; snapshot and timestamp follow, each with the key given.
fn forge_chain(
    copy: &RepositoryCopy,
    edit: impl FnOnce(&mut Targets),
    targets_key: &SigningKey,
    snapshot_key: &SigningKey,
    timestamp_key: &SigningKey,
) {
    let mut targets: Targets = copy
        .read_envelope("targets.json")
        .parse_unverified()
        .expect("targets");
    edit(&mut targets);
    targets.version += 1;
    let targets_bytes = sign_metadata(&targets, &[targets_key])
        .expect("sign")
        .to_bytes()
        .expect("bytes");
    std::fs::write(
        copy.metadata(&versioned_metadata_name(targets.version, "targets")),
        &targets_bytes,
    )
    .expect("write");
    forge_snapshot_and_timestamp(
        copy,
        targets.version,
        &targets_bytes,
        snapshot_key,
        timestamp_key,
        Utc::now() + Duration::days(1),
    );
}

fn forge_snapshot_and_timestamp(
    copy: &RepositoryCopy,
    targets_version: u64,
    targets_bytes: &[u8],
    snapshot_key: &SigningKey,
    timestamp_key: &SigningKey,
    timestamp_expires: chrono::DateTime<Utc>,
) {
    let version = copy.snapshot_version + 1;
    let meta = BTreeMap::from([(
        "targets.json".to_string(),
        MetaFile::describing(targets_version, targets_bytes),
    )]);
    let snapshot = Snapshot::new(version, whole_seconds(Utc::now() + Duration::days(7)), meta);
    let snapshot_bytes = sign_metadata(&snapshot, &[snapshot_key])
        .expect("sign")
        .to_bytes()
        .expect("bytes");
    std::fs::write(
        copy.metadata(&versioned_metadata_name(version, "snapshot")),
        &snapshot_bytes,
    )
    .expect("write");
    forge_timestamp(
        copy,
        version,
        &snapshot_bytes,
        timestamp_key,
        timestamp_expires,
    );
}

fn forge_timestamp(
    copy: &RepositoryCopy,
    snapshot_version: u64,
    snapshot_bytes: &[u8],
    key: &SigningKey,
    expires: chrono::DateTime<Utc>,
) {
    let current: Timestamp = copy
        .read_envelope("timestamp.json")
        .parse_unverified()
        .expect("timestamp");
    let timestamp = Timestamp::new(
        current.version + 1,
        whole_seconds(expires),
        MetaFile::describing(snapshot_version, snapshot_bytes),
    );
    let envelope = sign_metadata(&timestamp, &[key]).expect("sign");
    copy.write_envelope("timestamp.json", &envelope);
}

/// Points 1.2.0's target entry at attacker bytes stored in the copy.
fn swap_in_malicious_image(copy: &RepositoryCopy, targets: &mut Targets) {
    let evil = tests::images::image_bytes(666, IMAGE_SIZE);
    let sha = update_core::hash::sha256_hex(&evil);
    let entry = targets
        .targets
        .get(V12_TARGET)
        .expect("1.2.0 target")
        .clone();
    let mut custom = entry.custom.clone().expect("firmware fields");
    custom["firmware"]["image"] = serde_json::json!({"length": evil.len(), "sha256": sha});
    let path = copy.target(V12_TARGET, &sha);
    std::fs::write(path, &evil).expect("write malicious image");
    targets.targets.insert(
        V12_TARGET.to_string(),
        TargetFile::new(evil.len() as u64, sha, Some(custom)),
    );
}

/// Every published form of 1.2.0 on the copy (the raw image, its zstd form, its deltas),
/// by target name: an attacker who tampers with one form gains nothing if another is left
/// genuine, so the attacks below tamper with all of them.
fn v12_form_paths(copy: &RepositoryCopy) -> BTreeMap<String, std::path::PathBuf> {
    let targets: Targets = copy
        .read_envelope("targets.json")
        .parse_unverified()
        .expect("targets");
    let forms: BTreeMap<_, _> = targets
        .targets
        .iter()
        .filter(|(name, _)| name.starts_with(V12_TARGET))
        .map(|(name, file)| {
            let path = copy.target(name, file.sha256().expect("sha256"));
            (name.clone(), path)
        })
        .collect();
    assert!(
        forms.len() >= 3,
        "1.2.0 is published raw, zstd-compressed and as a delta: {:?}",
        forms.keys()
    );
    forms
}

#[test]
fn tampered_image_byte_is_refused() {
    let field = field(HARDWARE);
    let copy = field.mirror_copy();
    for path in v12_form_paths(&copy).values() {
        let mut bytes = std::fs::read(path).expect("target");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(path, bytes).expect("tamper");
    }
    let mirror = mirror(&copy.dir);
    field.dev.set_repository_url(&mirror.url);

    let run = field.dev.run_until_idle();
    field.assert_refused(&run, &["sha256", "hash"]);
    // The metadata it now trusts is the genuine one, byte for byte.
    let trusted = field.dev.trusted_metadata();
    assert_eq!(
        trusted.get("targets.json"),
        Some(&std::fs::read(copy.metadata("targets.json")).expect("genuine"))
    );
}

#[test]
fn image_longer_than_signed_is_refused() {
    let field = field(HARDWARE);
    let copy = field.mirror_copy();
    for path in v12_form_paths(&copy).values() {
        let mut bytes = std::fs::read(path).expect("target");
        bytes.extend(std::iter::repeat_n(0x5a, 64 * 1024));
        std::fs::write(path, bytes).expect("tamper");
    }
    let mirror = mirror(&copy.dir);
    field.dev.set_repository_url(&mirror.url);

    let run = field.dev.run_until_idle();
    field.assert_refused(
        &run,
        &["length", "long", "larger", "more than", "exceed", "limit"],
    );
}

#[test]
fn metadata_signed_by_an_attacker_key_is_refused() {
    // A mirror with no keys at all re-signs every role with its own key.
    let field = field(HARDWARE);
    let copy = field.mirror_copy();
    let attacker = SigningKey::generate();
    forge_chain(
        &copy,
        |t| swap_in_malicious_image(&copy, t),
        &attacker,
        &attacker,
        &attacker,
    );
    let mirror = mirror(&copy.dir);
    field.dev.set_repository_url(&mirror.url);
    let before = field.dev.trusted_metadata();

    let run = field.dev.run_until_idle();
    field.assert_refused(&run, &["signature", "threshold"]);
    assert_eq!(
        field.dev.trusted_metadata(),
        before,
        "trusted metadata unchanged"
    );
}

#[test]
fn targets_signed_by_a_wrong_key_on_a_compromised_server_are_refused() {
    // The attacker holds the server's online keys, but not the offline targets key.
    let field = field(HARDWARE);
    let copy = field.mirror_copy();
    let attacker = SigningKey::generate();
    let (snapshot_key, timestamp_key) = (
        example_key(&field.world, "snapshot"),
        example_key(&field.world, "timestamp"),
    );
    forge_chain(
        &copy,
        |t| swap_in_malicious_image(&copy, t),
        &attacker,
        &snapshot_key,
        &timestamp_key,
    );
    let mirror = mirror(&copy.dir);
    field.dev.set_repository_url(&mirror.url);
    let before = field.dev.trusted_metadata();

    let run = field.dev.run_until_idle();
    field.assert_refused(&run, &["signature", "threshold"]);
    let after = field.dev.trusted_metadata();
    assert_eq!(
        after.get("targets.json"),
        before.get("targets.json"),
        "trusted targets unchanged"
    );
    assert_eq!(
        after.get("root.json"),
        before.get("root.json"),
        "trusted root unchanged"
    );
}

#[test]
fn expired_timestamp_is_refused() {
    let field = field(HARDWARE);
    let copy = field.mirror_copy();
    let snapshot_bytes = std::fs::read(copy.metadata("snapshot.json")).expect("snapshot");
    let key = example_key(&field.world, "timestamp");
    forge_timestamp(
        &copy,
        copy.snapshot_version,
        &snapshot_bytes,
        &key,
        Utc::now() - Duration::minutes(1),
    );
    let mirror = mirror(&copy.dir);
    field.dev.set_repository_url(&mirror.url);
    let before = field.dev.trusted_metadata();

    let run = field.dev.run_until_idle();
    field.assert_refused(&run, &["expired"]);
    assert_eq!(
        field.dev.trusted_metadata(),
        before,
        "trusted metadata unchanged"
    );
}

#[test]
fn replayed_targets_version_is_refused() {
    // A compromised server re-signs snapshot and timestamp to serve the genuinely signed
    // targets version 1 again, hiding every release since.
    let field = field(HARDWARE);
    let copy = field.mirror_copy();
    let old_name = versioned_metadata_name(field.first_copy.targets_version, "targets");
    let old_targets = std::fs::read(field.first_copy.metadata(&old_name)).expect("old targets");
    std::fs::write(copy.metadata(&old_name), &old_targets).expect("replay");
    let (snapshot_key, timestamp_key) = (
        example_key(&field.world, "snapshot"),
        example_key(&field.world, "timestamp"),
    );
    forge_snapshot_and_timestamp(
        &copy,
        field.first_copy.targets_version,
        &old_targets,
        &snapshot_key,
        &timestamp_key,
        Utc::now() + Duration::days(1),
    );
    let mirror = mirror(&copy.dir);
    field.dev.set_repository_url(&mirror.url);
    let before = field.dev.trusted_metadata();

    let run = field.dev.run_until_idle();
    field.assert_refused(&run, &["older", "rollback", "roll back", "version"]);
    let after = field.dev.trusted_metadata();
    assert_eq!(
        after.get("targets.json"),
        before.get("targets.json"),
        "trusted targets unchanged"
    );
    assert_eq!(
        after.get("snapshot.json"),
        before.get("snapshot.json"),
        "trusted snapshot unchanged"
    );
}

#[test]
fn older_firmware_version_is_refused() {
    let field = field(HARDWARE);
    field.world.pin(CLASS, "cam-1.0.0.img");

    let run = field.dev.run_until_idle();
    field.assert_refused(&run, &["older", "not newer", "downgrade", "rollback"]);
}

#[test]
fn image_for_other_hardware_is_refused() {
    let field = field("board-b");
    // The genuine server never assigns it; a compromised one does.
    let liar = lying_server(
        &field.world.server_url,
        Assignment {
            target_name: V12_TARGET.to_string(),
            version: semver::Version::new(1, 2, 0),
            retry: false,
            hold: None,
        },
    );
    field.dev.set_server_url(&liar.url);

    let run = field.dev.run_until_idle();
    field.assert_refused(&run, &["hardware"]);
}
