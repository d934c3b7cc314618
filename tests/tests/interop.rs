//! Interoperability with python-tuf, the TUF reference implementation, both ways.
//!
//! - The TUF client under test (`tuf-client`, or the command line in `OTA_TUF_CLIENT`, e.g.
//!   python-tuf's own conformance client) accepts repositories that python-tuf builds
//!   (`tests/interop/make_repo.py`: ed25519, ECDSA and RSA keys, root rotations,
//!   delegations, names that need URL quoting, consistent snapshots on and off) and refuses
//!   each tampered variant without storing the bad target or replacing trusted metadata.
//! - python-tuf's ngclient (`tests/interop/ngclient_download.py`) accepts the repository our
//!   server publishes, and refuses a mirror copy of it with one target byte flipped.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use tests::World;
use tests::images::write_image;
use tests::peers::{copy_repository, mirror};
use tests::process::{Finished, run, workspace_root};
use tests::python;
use tests::tuf_client::{TufClient, files_under};

const SCRIPT_DEADLINE: Duration = Duration::from_secs(120);
const REFUSAL_WORKERS: usize = 3;

/// Every tampered variant of `make_repo.py`; each names its target, the role whose trusted
/// file must stay as it was, and whether the top-level refresh alone must already fail.
const VARIANTS: [&str; 9] = [
    "target-byte-flipped",
    "timestamp-unknown-key",
    "snapshot-expired",
    "delegated-wrong-key",
    "root-missing-old-threshold",
    "snapshot-omits-delegated-role",
    "targets-rolled-back",
    "snapshot-hash-mismatch",
    "oversized-snapshot",
];

/// A repository made by `make_repo.py` and what it says about it (`expected.json`).
struct PythonRepo {
    dir: TempDir,
    expected: Value,
}

impl PythonRepo {
    fn generate(consistent: bool, variant: Option<&str>) -> PythonRepo {
        let dir = tempfile::Builder::new()
            .prefix("ota-interop-")
            .tempdir()
            .expect("temp dir");
        let mut command = python::script("make_repo.py");
        command.arg(dir.path());
        if !consistent {
            command.arg("--no-consistent-snapshot");
        }
        if let Some(variant) = variant {
            command.args(["--variant", variant]);
        }
        run(command, SCRIPT_DEADLINE).assert_ok("make_repo.py");
        let expected = std::fs::read(dir.path().join("expected.json")).expect("expected.json");
        let expected = serde_json::from_slice(&expected).expect("expected.json parses");
        PythonRepo { dir, expected }
    }

    fn initial_root(&self) -> PathBuf {
        self.dir.path().join("initial_root.json")
    }

    /// (name, contents) of every target of the genuine repository.
    fn targets(&self) -> Vec<(String, Vec<u8>)> {
        let list = self.expected["targets"].as_array().expect("targets list");
        list.iter()
            .map(|t| {
                let name = t["name"].as_str().expect("target name").to_string();
                let hex = t["hex"].as_str().expect("target hex");
                (name, hex::decode(hex).expect("target hex decodes"))
            })
            .collect()
    }

    /// role -> {file (in the client's metadata dir), version, served (under metadata/)}.
    fn trusted(&self) -> &serde_json::Map<String, Value> {
        self.expected["trusted"].as_object().expect("trusted roles")
    }

    fn attack(&self, field: &str) -> &Value {
        &self.expected["attack"][field]
    }
}

fn signed_part(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let value: Value = serde_json::from_slice(&bytes).expect("served metadata parses");
    value["signed"].clone()
}

/// The client's trusted file for each of `roles` holds the signed part the repository
/// serves as that role's newest version.
fn assert_trusted(client: &TufClient, repo: &PythonRepo, roles: &[&str]) {
    for role in roles {
        let info = &repo.trusted()[*role];
        let file = info["file"].as_str().expect("file");
        let served = repo
            .dir
            .path()
            .join("metadata")
            .join(info["served"].as_str().expect("served"));
        let stored = client
            .trusted(file)
            .unwrap_or_else(|| panic!("{role}: no trusted {file} in the client's metadata dir"));
        assert_eq!(
            stored["signed"]["version"], info["version"],
            "{role}: trusted version"
        );
        assert_eq!(
            stored["signed"],
            signed_part(&served),
            "{role}: trusted {file} is the served one"
        );
    }
}

/// `dir` holds exactly the expected targets' bytes, under whatever names the client chose.
fn assert_downloaded(dir: &Path, targets: &[(String, Vec<u8>)]) {
    let mut stored: Vec<Vec<u8>> = files_under(dir).into_iter().map(|(_, b)| b).collect();
    stored.sort();
    let mut wanted: Vec<Vec<u8>> = targets.iter().map(|(_, b)| b.clone()).collect();
    wanted.sort();
    assert_eq!(
        stored,
        wanted,
        "downloaded files are exactly the targets {:?}",
        targets.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
}

#[test]
fn python_repositories_are_accepted() {
    for consistent in [true, false] {
        let repo = PythonRepo::generate(consistent, None);
        let peer = mirror(repo.dir.path());
        let metadata_url = format!("{}/metadata", peer.url);
        let targets_url = format!("{}/targets", peer.url);
        let work = tempfile::tempdir().expect("temp dir");
        let client = TufClient::new(&work.path().join("metadata"));
        let what = |step: &str| format!("{step} (consistent_snapshot = {consistent})");

        client.init(&repo.initial_root()).assert_ok(&what("init"));
        client.refresh(&metadata_url).assert_ok(&what("refresh"));
        assert_eq!(
            client.trusted_version("root.json"),
            Some(3),
            "root v1 -> v3"
        );
        assert_trusted(
            &client,
            &repo,
            &["root", "timestamp", "snapshot", "targets"],
        );

        let targets = repo.targets();
        let names: Vec<&str> = targets.iter().map(|(n, _)| n.as_str()).collect();
        let downloads = work.path().join("targets");
        client
            .download(&metadata_url, &names, &targets_url, &downloads)
            .assert_ok(&what("download"));
        assert_downloaded(&downloads, &targets);
        let roles: Vec<&str> = repo.trusted().keys().map(String::as_str).collect();
        assert_trusted(&client, &repo, &roles);
    }
}

#[test]
fn tampered_python_repositories_are_refused() {
    let mut list = python::script("make_repo.py");
    list.arg("--list-variants");
    let listed = run(list, SCRIPT_DEADLINE);
    listed.assert_ok("make_repo.py --list-variants");
    assert_eq!(
        listed.stdout.lines().collect::<Vec<_>>(),
        VARIANTS,
        "this test covers every variant make_repo.py makes"
    );
    let cases: Vec<(&str, bool)> = [true, false]
        .into_iter()
        .flat_map(|consistent| VARIANTS.map(|variant| (variant, consistent)))
        .collect();
    // Each case is a few short processes; a small pool keeps both cores busy.
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..REFUSAL_WORKERS {
            scope.spawn(|| {
                while let Some(&(variant, consistent)) = cases.get(next.fetch_add(1, SeqCst)) {
                    if let Err(failure) = refusal(variant, consistent) {
                        failures.lock().expect("failures").push(failure);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().expect("failures");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Runs one variant: a good download from the genuine repository, then the tampered
/// publication must be refused with nothing stored and the attacked trusted file kept.
fn refusal(variant: &str, consistent: bool) -> Result<(), String> {
    let repo = PythonRepo::generate(consistent, Some(variant));
    let peer = mirror(repo.dir.path());
    let work = tempfile::tempdir().expect("temp dir");
    let client = TufClient::new(&work.path().join("metadata"));
    let fail = |what: &str, run: &Finished| {
        format!(
            "{variant} (consistent_snapshot = {consistent}): {what} ({}):\n\
             stdout:\n{}\nstderr:\n{}",
            run.status, run.stdout, run.stderr
        )
    };

    let init = client.init(&repo.initial_root());
    if !init.success() {
        return Err(fail("init failed", &init));
    }
    let targets = repo.targets();
    let names: Vec<&str> = targets.iter().map(|(n, _)| n.as_str()).collect();
    let good = client.download(
        &format!("{}/before/metadata", peer.url),
        &names,
        &format!("{}/before/targets", peer.url),
        &work.path().join("good-targets"),
    );
    if !good.success() {
        return Err(fail("download from the genuine repository failed", &good));
    }
    let attacked_file = repo.attack("file").as_str();
    let trusted_before = trusted_state(&client, attacked_file);
    if trusted_before.iter().any(|(_, bytes)| bytes.is_empty()) {
        return Err(fail(
            &format!("the genuine download left no trusted {attacked_file:?}"),
            &good,
        ));
    }

    let metadata_url = format!("{}/metadata", peer.url);
    let refresh_fails = repo
        .attack("refresh_fails")
        .as_bool()
        .expect("refresh_fails");
    let refresh = client.refresh(&metadata_url);
    if refresh.code() != Some(if refresh_fails { 1 } else { 0 }) {
        let expectation = if refresh_fails { "exit 1" } else { "exit 0" };
        return Err(fail(&format!("refresh should {expectation}"), &refresh));
    }
    let target = repo.attack("target").as_str().expect("attack target");
    let downloads = work.path().join("attacked-targets");
    let download = client.download(
        &metadata_url,
        &[target],
        &format!("{}/targets", peer.url),
        &downloads,
    );
    if download.code() != Some(1) {
        return Err(fail(
            &format!("download of {target:?} should exit 1"),
            &download,
        ));
    }
    let stored: Vec<PathBuf> = files_under(&downloads)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    if !stored.is_empty() {
        return Err(fail(&format!("stored files {stored:?}"), &download));
    }
    let changed = changed_files(&trusted_before, &trusted_state(&client, attacked_file));
    if !changed.is_empty() {
        return Err(fail(
            &format!("trusted metadata replaced: {changed:?}"),
            &download,
        ));
    }
    if client.trusted_version("root.json") != Some(3) {
        return Err(fail("trusted root is no longer v3", &download));
    }
    // The client's last word, so a reader can check each refusal has the right reason.
    let reason = download.stderr.lines().last().unwrap_or_default();
    eprintln!("{variant} (consistent_snapshot = {consistent}): refused: {reason}");
    Ok(())
}

/// The attacked role's trusted file, or every trusted metadata file (`*.json`; a client
/// may keep other state there, such as a clock floor) when no role is attacked.
fn trusted_state(client: &TufClient, file: Option<&str>) -> Vec<(PathBuf, Vec<u8>)> {
    match file {
        Some(file) => {
            let path = client.metadata_dir.join(file);
            vec![(path.clone(), std::fs::read(&path).unwrap_or_default())]
        }
        None => files_under(&client.metadata_dir)
            .into_iter()
            .filter(|(path, _)| path.extension().is_some_and(|e| e == "json"))
            .collect(),
    }
}

/// The files of `before` that `after` lacks or holds with other bytes, and those it added.
fn changed_files(before: &[(PathBuf, Vec<u8>)], after: &[(PathBuf, Vec<u8>)]) -> Vec<PathBuf> {
    let differs = |a: &[(PathBuf, Vec<u8>)], b: &[(PathBuf, Vec<u8>)]| {
        a.iter()
            .filter(|entry| !b.contains(entry))
            .map(|(path, _)| path.clone())
            .collect::<Vec<_>>()
    };
    let mut changed = differs(before, after);
    changed.extend(differs(after, before));
    changed.sort();
    changed.dedup();
    changed
}

/// A server with one published release: the world, the image and its target name.
fn published_release() -> (World, PathBuf, String) {
    let world = World::start();
    let image = world.path("fw-1.0.0.img");
    write_image(&image, 7, 256 * 1024);
    world.release(&image, "1.0.0", "cam", &["board-a"]);
    world.publish();
    let targets = signed_part(&world.repo.join("targets.json"));
    let names: Vec<&String> = targets["targets"]
        .as_object()
        .expect("targets")
        .keys()
        .collect();
    // The release and its zstd form, each a target of its own.
    assert_eq!(
        names,
        ["cam-1.0.0.img", "cam-1.0.0.img.zst"],
        "one release published"
    );
    (world, image, names[0].clone())
}

/// python-tuf's ngclient, trusting the example root, downloading `name` from `base_url`.
fn ngclient_download(base_url: &str, name: &str, work: &Path) -> Finished {
    let mut command = python::script("ngclient_download.py");
    command
        .arg("--root")
        .arg(workspace_root().join("keys-example").join("root.json"))
        .args(["--metadata-url", &format!("{base_url}/metadata/")])
        .args(["--targets-url", &format!("{base_url}/targets/")])
        .arg("--metadata-dir")
        .arg(work.join("python-metadata"))
        .arg("--out")
        .arg(work.join("python-targets"))
        .arg(name);
    run(command, SCRIPT_DEADLINE)
}

#[test]
fn server_repository_is_accepted_by_python_tuf() {
    let (world, image, name) = published_release();
    let work = world.path("python");
    ngclient_download(&world.server_url, &name, &work).assert_ok("ngclient_download.py");
    let image_bytes = std::fs::read(&image).expect("image");
    assert_downloaded(&work.join("python-targets"), &[(name, image_bytes)]);
}

#[test]
fn tampered_server_copy_is_refused_by_python_tuf() {
    let (world, image, name) = published_release();
    let copy = copy_repository(&world.server_url, &world.path("mirror"));
    let sha256 = tests::images::sha256_file(&image);
    let target = copy.target(&name, &sha256);
    let mut bytes = std::fs::read(&target).expect("target copy");
    bytes[1000] ^= 0x01;
    std::fs::write(&target, bytes).expect("tamper");
    let peer = mirror(&copy.dir);

    let work = world.path("python");
    let refused = ngclient_download(&peer.url, &name, &work);
    assert_eq!(
        refused.code(),
        Some(1),
        "python-tuf must refuse the flipped byte:\n{}",
        refused.stderr
    );
    assert!(
        refused.stderr.to_lowercase().contains("hash"),
        "refused for the hash, not something else:\n{}",
        refused.stderr
    );
    assert!(files_under(&work.join("python-targets")).is_empty());
}
