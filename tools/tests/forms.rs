//! `ota release add` with the forms a release travels in: the zstd image and deltas from
//! earlier releases, signed like the image; the rule that keeps only deltas that pay; and
//! `ota publish` sending them all.
//!
//! The delta library may be a placeholder or the real thing: assertions about sizes hold
//! for both (a delta between images that share most bytes beats 4 MiB zstd frames that
//! cannot see across them; unrelated random images give no delta worth keeping).

mod common;

use std::io::Read;
use std::path::Path;

use common::fake_server::{self, TOKEN};
use common::{add_args, add_args_with_forms, init_repo, make_keys};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use tools::admin_client::AdminClient;
use tools::cmd::publish::publish;
use tools::cmd::release::{AddOutcome, ReleaseError, add};
use tools::forms::deltas::{choose_bases, delta_pays};
use tools::forms::zstd_frames::WINDOW_LOG;
use tools::local_repo::LocalRepo;
use update_core::firmware::{Encoding, Firmware, ImageInfo, delta_target_name, zstd_target_name};
use update_core::hash::sha256_hex;
use update_core::schema::{Targets, Unrecognized};

const PERIOD: usize = 256 * 1024;

/// An image of `length` bytes repeating one random `PERIOD`-byte block (from `seed`),
/// with a few small edits (from `edits`): compressible only across `PERIOD`.
fn repeating_image(seed: u64, edits: u64, length: usize) -> Vec<u8> {
    let mut block = vec![0u8; PERIOD];
    StdRng::seed_from_u64(seed).fill_bytes(&mut block);
    let mut image: Vec<u8> = block.iter().copied().cycle().take(length).collect();
    let mut rng = StdRng::seed_from_u64(edits);
    for _ in 0..8 {
        let at = rng.gen_range(0..length - 64);
        rng.fill_bytes(&mut image[at..at + 64]);
    }
    image
}

fn random_image(seed: u64, length: usize) -> Vec<u8> {
    let mut image = vec![0u8; length];
    StdRng::seed_from_u64(seed).fill_bytes(&mut image);
    image
}

/// Releases `image` as `version` with the default forms; returns the outcome.
fn release(keys: &common::Keys, repo: &Path, version: &str, image: &[u8]) -> AddOutcome {
    let path = keys.dir.path().join(format!("fw-{version}.img"));
    std::fs::write(&path, image).unwrap();
    add(&add_args_with_forms(repo, &path, &keys.targets, version)).unwrap()
}

/// Every delta published saves at least a fifth over the full form, every one dropped
/// does not, and the table says which full form it was compared with.
fn assert_rule_applied(outcome: &AddOutcome) {
    let zstd = outcome
        .published
        .iter()
        .find(|f| f.encoding == Encoding::Zstd)
        .map(|f| f.length);
    let full = zstd.unwrap_or(outcome.length);
    for form in outcome
        .published
        .iter()
        .filter(|f| f.encoding == Encoding::Delta)
    {
        assert!(delta_pays(form.length, full), "{form:?} vs {full}");
    }
    for dropped in &outcome.dropped {
        assert_eq!(dropped.full_length, full);
        assert!(!delta_pays(dropped.length, full), "{dropped:?}");
    }
}

fn verified_targets(repo: &LocalRepo) -> Targets {
    let root = repo.load_root().unwrap();
    repo.load_targets(&root)
        .unwrap()
        .unwrap()
        .targets
        .into_inner()
}

fn no_staging_leftovers(repo: &LocalRepo) {
    for entry in std::fs::read_dir(repo.targets_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "leftover {name}");
    }
}

#[test]
fn release_add_signs_zstd_and_delta_forms_that_decode_to_the_image() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    init_repo(&keys, &repo_dir);
    let repo = LocalRepo::new(&repo_dir);
    let length = (4 << 20) + PERIOD;
    let old = repeating_image(1, 10, length);
    let new = repeating_image(1, 11, length);

    let first = release(&keys, &repo_dir, "1.0.0", &old);
    let kinds: Vec<Encoding> = first.published.iter().map(|f| f.encoding).collect();
    assert_eq!(kinds, vec![Encoding::Raw, Encoding::Zstd]);
    let second = release(&keys, &repo_dir, "1.1.0", &new);
    assert_rule_applied(&second);
    let kinds: Vec<Encoding> = second.published.iter().map(|f| f.encoding).collect();
    assert_eq!(kinds, vec![Encoding::Raw, Encoding::Zstd, Encoding::Delta]);
    assert_eq!(second.targets_version, 2);

    // All signed in one verified targets version, each with the release's fields.
    let targets = verified_targets(&repo);
    assert_eq!(targets.targets.len(), 5);
    let raw_name = "camera-1.1.0.img";
    let raw = Firmware::of_target(raw_name, &targets.targets[raw_name])
        .unwrap()
        .unwrap();
    let image = ImageInfo {
        length: length as u64,
        sha256: sha256_hex(&new),
    };
    assert_eq!((raw.encoding, &raw.image), (Encoding::Raw, &image));

    let zstd_name = zstd_target_name(raw_name);
    let zstd = Firmware::of_target(&zstd_name, &targets.targets[&zstd_name])
        .unwrap()
        .unwrap();
    assert_eq!(zstd.encoding, Encoding::Zstd);
    assert_eq!(zstd.release.as_deref(), Some(raw_name));
    assert!(raw.same_release(&zstd));
    let zstd_bytes = std::fs::read(repo.image_path(&zstd_name).unwrap()).unwrap();
    let zstd_target = &targets.targets[&zstd_name];
    assert_eq!(zstd_target.length, zstd_bytes.len() as u64);
    assert_eq!(zstd_target.sha256(), Some(sha256_hex(&zstd_bytes).as_str()));
    let mut decoder = zstd::stream::read::Decoder::new(zstd_bytes.as_slice()).unwrap();
    decoder.window_log_max(WINDOW_LOG).unwrap();
    let mut decoded = Vec::new();
    decoder.read_to_end(&mut decoded).unwrap();
    assert!(decoded == new, "the zstd form decodes to the image");

    let delta_name = delta_target_name(raw_name, &sha256_hex(&old));
    let delta = Firmware::of_target(&delta_name, &targets.targets[&delta_name])
        .unwrap()
        .unwrap();
    assert_eq!(delta.encoding, Encoding::Delta);
    assert_eq!(delta.release.as_deref(), Some(raw_name));
    assert!(raw.same_release(&delta));
    let base = delta.base.unwrap();
    assert_eq!(base.version.to_string(), "1.0.0");
    assert_eq!(
        (base.length, base.sha256.as_str()),
        (length as u64, sha256_hex(&old).as_str())
    );
    let delta_bytes = std::fs::read(repo.image_path(&delta_name).unwrap()).unwrap();
    assert_eq!(
        targets.targets[&delta_name].sha256(),
        Some(sha256_hex(&delta_bytes).as_str())
    );
    let mut rebuilt = Vec::new();
    let limits = update_delta::Limits {
        max_memory: 256 << 20,
        result_length: length as u64,
    };
    update_delta::apply(&old, &mut delta_bytes.as_slice(), &mut rebuilt, &limits).unwrap();
    assert!(rebuilt == new, "the delta rebuilds the image");
    no_staging_leftovers(&repo);
}

#[test]
fn a_delta_saving_less_than_a_fifth_is_not_published() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    init_repo(&keys, &repo_dir);
    let repo = LocalRepo::new(&repo_dir);
    // Unrelated noise: no delta can beat the (incompressible) full image by a fifth.
    release(&keys, &repo_dir, "1.0.0", &random_image(1, 1 << 20));
    let outcome = release(&keys, &repo_dir, "1.1.0", &random_image(2, 1 << 20));
    assert_rule_applied(&outcome);
    assert_eq!(outcome.dropped.len(), 1);
    assert_eq!(outcome.dropped[0].base_version.to_string(), "1.0.0");
    assert_eq!(outcome.dropped[0].full_kind, Encoding::Zstd);
    let notes = tools::cmd::release::form_notes(&outcome);
    assert!(notes[0].contains("not published"), "{notes:?}");
    let targets = verified_targets(&repo);
    assert!(
        targets.targets.keys().all(|name| !name.ends_with(".delta")),
        "{:?}",
        targets.targets.keys()
    );
    let files = common::entries(&repo.targets_dir());
    assert!(
        files.iter().all(|name| !name.ends_with(".delta")),
        "{files:?}"
    );
    no_staging_leftovers(&repo);
}

#[test]
fn deltas_start_from_the_last_releases_sharing_hardware_one_per_image() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    init_repo(&keys, &repo_dir);
    let repo = LocalRepo::new(&repo_dir);
    let plain = |version: &str, image: &[u8], hardware: &str| {
        let path = keys.dir.path().join(format!("fw-{version}.img"));
        std::fs::write(&path, image).unwrap();
        let mut args = add_args(&repo_dir, &path, &keys.targets, version);
        args.hardware = vec![hardware.to_string()];
        add(&args).unwrap();
    };
    plain("1.0.0", b"image one", "cam-v2");
    plain("1.1.0", b"image two", "cam-v2");
    plain("1.2.0", b"image three", "cam-v2");
    plain("1.2.5", b"doorbell image", "door-v1");
    plain("1.3.0", b"image three", "cam-v2"); // the same image as 1.2.0
    plain("3.0.0", b"image from the future", "cam-v2");
    let new = Firmware {
        version: "2.0.0".parse().unwrap(),
        class: "camera".into(),
        hardware: vec!["cam-v2".into(), "cam-v3".into()],
        image: ImageInfo {
            length: 9,
            sha256: sha256_hex(b"new image"),
        },
        encoding: Encoding::Raw,
        base: None,
        release: None,
        unrecognized: Unrecognized::new(),
    };
    let targets = verified_targets(&repo);
    let versions = |count| {
        let (bases, skipped) = choose_bases(&repo, &targets, &new, count).unwrap();
        let bases: Vec<String> = bases
            .iter()
            .map(|b| b.firmware.version.to_string())
            .collect();
        let skipped: Vec<String> = skipped.iter().map(|s| s.version.to_string()).collect();
        (bases, skipped)
    };
    assert_eq!(versions(2), (vec!["1.3.0".into(), "1.1.0".into()], vec![]));
    assert_eq!(versions(0), (vec![], vec![]));

    std::fs::remove_file(repo.image_path("camera-1.1.0.img").unwrap()).unwrap();
    assert_eq!(
        versions(3),
        (vec!["1.3.0".into(), "1.0.0".into()], vec!["1.1.0".into()])
    );
}

#[test]
fn flags_and_the_repository_config_choose_the_forms() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    init_repo(&keys, &repo_dir);
    let image = keys.dir.path().join("fw.img");
    std::fs::write(&image, repeating_image(3, 4, 100_000)).unwrap();

    std::fs::write(repo_dir.join("ota.toml"), "[release]\nzstd = false\n").unwrap();
    let outcome = add(&add_args_with_forms(
        &repo_dir,
        &image,
        &keys.targets,
        "1.0.0",
    ))
    .unwrap();
    assert_eq!(outcome.published.len(), 1);

    std::fs::write(repo_dir.join("ota.toml"), "[release]\nzstd_level = 0\n").unwrap();
    let mut args = add_args_with_forms(&repo_dir, &image, &keys.targets, "1.1.0");
    args.zstd_level = None;
    let err = add(&args).unwrap_err();
    assert!(matches!(err, ReleaseError::ZstdLevel(0)), "{err}");

    std::fs::write(repo_dir.join("ota.toml"), "[release]\ndeltas = 0\n").unwrap();
    let outcome = add(&add_args_with_forms(
        &repo_dir,
        &image,
        &keys.targets,
        "1.1.0",
    ))
    .unwrap();
    let kinds: Vec<Encoding> = outcome.published.iter().map(|f| f.encoding).collect();
    assert_eq!(kinds, vec![Encoding::Raw, Encoding::Zstd]);
    assert!(outcome.dropped.is_empty() && outcome.skipped.is_empty());
}

#[tokio::test]
async fn publish_uploads_every_form_of_every_release() {
    let keys = make_keys();
    let repo_dir = keys.dir.path().join("repo");
    init_repo(&keys, &repo_dir);
    let repo = LocalRepo::new(&repo_dir);
    release(&keys, &repo_dir, "1.0.0", &repeating_image(5, 6, 1 << 20));
    release(&keys, &repo_dir, "1.1.0", &repeating_image(5, 7, 1 << 20));
    let targets = verified_targets(&repo);
    assert!(targets.targets.len() >= 4, "{:?}", targets.targets.keys());

    let root_bytes = std::fs::read(repo.root_path()).unwrap();
    let (url, state) = fake_server::start(Some(&root_bytes)).await;
    let admin = AdminClient::new(&url, TOKEN.parse().unwrap()).unwrap();
    let report = publish(&repo, &admin).await.unwrap();
    assert_eq!(report.images.len(), targets.targets.len());
    let state = state.lock().unwrap();
    for (name, target) in &targets.targets {
        let sha256 = target.sha256().unwrap();
        assert_eq!(state.images.get(sha256), Some(&target.length), "{name}");
    }
}
