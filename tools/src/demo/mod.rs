//! `ota demo`: a whole release cycle on one machine. A real `update-server` and a fleet of
//! simulated devices (`update-client simulate`) take two releases made and published with
//! this crate's own library; one device's health check fails, so it must roll back while
//! the rest of the fleet moves to the new release. The second release is published with a
//! delta from the first, and the demo shows the bytes the devices saved by it.

pub mod binaries;
pub mod config;
pub mod elf;
pub mod fleet;
pub mod images;
pub mod report;
pub mod server;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use semver::Version;

use crate::admin_client::AdminClient;
use crate::cmd::publish::{print_report, publish};
use crate::cmd::release::{self, AddArgs, form_notes, forms_table};
use crate::expiry::Expiry;
use crate::fsutil::create_new_with_mode;
use crate::local_repo::LocalRepo;
use fleet::{FleetPlan, SimulatedDevice};
use report::Expected;
use server::{ServerFiles, log_tail};

pub const CLASS: &str = "demo-camera";
pub const HARDWARE_ID: &str = "sim-board-v1";
/// 1-based position of the device whose health check fails.
pub const FAILING_DEVICE: u32 = 7;
const IMAGE_SEED: u64 = 0x00da_7a0c_a3e7;
const DEVICE_TIMEOUT: Duration = Duration::from_secs(100);
const RELEASE_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
const LOG_TAIL_LINES: usize = 15;
/// The demo trades a little size for speed; real releases default to level 19.
const DEMO_ZSTD_LEVEL: i32 = 3;

pub struct DemoOptions {
    pub devices: u32,
    pub image_size: u64,
    /// Keep the demo directory (server data, repository, devices, logs).
    pub keep: bool,
    /// Holds root.json, targets.pem, snapshot.pem and timestamp.pem.
    pub keys_dir: PathBuf,
    /// Holds update-server and update-client.
    pub bin_dir: PathBuf,
}

pub struct DemoOutcome {
    /// Empty when every device ended as expected.
    pub problems: Vec<String>,
    pub kept_dir: Option<PathBuf>,
}

/// The demo's copies of the example keys, private ones with mode 0600 (a git checkout
/// does not keep file modes).
struct DemoKeys {
    root: PathBuf,
    targets: PathBuf,
    snapshot: PathBuf,
    timestamp: PathBuf,
}

impl DemoKeys {
    fn copy(from: &Path, to: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
        let copy = |name: &str, mode: u32| -> anyhow::Result<PathBuf> {
            let source = from.join(name);
            let bytes = std::fs::read(&source)
                .with_context(|| format!("cannot read example key file {}", source.display()))?;
            let target = to.join(name);
            create_new_with_mode(&target, &bytes, mode)
                .with_context(|| format!("cannot write {}", target.display()))?;
            Ok(target)
        };
        Ok(DemoKeys {
            root: copy("root.json", 0o644)?,
            targets: copy("targets.pem", 0o600)?,
            snapshot: copy("snapshot.pem", 0o600)?,
            timestamp: copy("timestamp.pem", 0o600)?,
        })
    }
}

pub async fn run(options: &DemoOptions) -> anyhow::Result<DemoOutcome> {
    let old_version = Version::new(1, 0, 0);
    let new_version = Version::new(1, 1, 0);
    let workdir = tempfile::Builder::new()
        .prefix("ota-demo-")
        .disable_cleanup(options.keep)
        .tempdir()
        .context("cannot create the demo directory")?;
    let base = workdir.path();
    println!("demo directory: {}", base.display());
    let keys = DemoKeys::copy(&options.keys_dir, &base.join("keys"))?;

    let server_bin = binaries::binary(&options.bin_dir, binaries::SERVER);
    let client_bin = binaries::binary(&options.bin_dir, binaries::CLIENT);
    let data_dir = base.join("server-data");
    std::fs::create_dir_all(&data_dir).context("cannot create the server data directory")?;
    let token = server::create_admin_token(&server_bin, &data_dir).await?;
    let server_files = ServerFiles {
        data_dir,
        root: keys.root.clone(),
        snapshot_key: keys.snapshot.clone(),
        timestamp_key: keys.timestamp.clone(),
        log: base.join("server.log"),
    };
    let server = server::start(&server_bin, &server_files).await?;
    println!("server listening on {}", server.url);
    let client = AdminClient::new(&server.url, token.parse()?)?;

    let images_dir = base.join("images");
    std::fs::create_dir_all(&images_dir).context("cannot create the image directory")?;
    let old_image = images_dir.join(format!("{CLASS}-{old_version}.img"));
    let new_image = images_dir.join(format!("{CLASS}-{new_version}.img"));
    images::write_release_pair(
        &old_image,
        &new_image,
        options.image_size,
        IMAGE_SEED,
        (&old_version.to_string(), &new_version.to_string()),
    )
    .context("cannot write the demo images")?;
    println!(
        "built images {old_version} and {new_version} ({} bytes each)",
        options.image_size
    );

    let repo = LocalRepo::new(base.join("repo"));
    let root_bytes = std::fs::read(&keys.root).context("cannot read the example root.json")?;
    repo.write_first_root(&root_bytes)?;
    repo.load_root()?;
    let mut delta_published = false;
    for (image, version) in [(&old_image, &old_version), (&new_image, &new_version)] {
        let added = release::add(&AddArgs {
            image: image.clone(),
            repo: repo.dir().to_path_buf(),
            keys: vec![keys.targets.clone()],
            version: version.clone(),
            class: CLASS.to_string(),
            hardware: vec![HARDWARE_ID.to_string()],
            name: None,
            expires: Expiry::After(RELEASE_LIFETIME),
            deltas: None,
            no_deltas: false,
            no_zstd: false,
            zstd_level: Some(DEMO_ZSTD_LEVEL),
            delta_memory_budget: None,
        })?;
        println!(
            "release add {}: targets.json version {}",
            added.target_name, added.targets_version
        );
        print!("{}", forms_table(&added).render());
        for note in form_notes(&added) {
            println!("{note}");
        }
        delta_published = added
            .published
            .iter()
            .any(|form| form.encoding == update_core::firmware::Encoding::Delta);
        print_report(&publish(&repo, &client).await?);
    }

    let devices = enroll_fleet(
        options,
        &client,
        &server.url,
        base,
        &keys.root,
        &old_image,
        &old_version,
    )
    .await?;
    println!(
        "running {} simulated devices at once{}",
        devices.len(),
        if options.devices >= FAILING_DEVICE {
            format!(" (device {FAILING_DEVICE}'s health check fails)")
        } else {
            String::new()
        }
    );
    let runs = fleet::run_all(&client_bin, &devices, DEVICE_TIMEOUT).await?;
    let status = client.status().await?;
    let metrics = client.metrics().await?;

    println!();
    print!(
        "{}",
        report::device_table(&devices, &runs, &status).render()
    );
    println!();
    println!("{}", report::success_line(&status, CLASS));
    println!("{}", report::bytes_saved_line(&status, CLASS));
    println!();
    for line in report::metric_lines(&metrics) {
        println!("{line}");
    }
    let expected = Expected {
        class: CLASS,
        new_version: &new_version,
        old_version: &old_version,
        delta_published,
    };
    let problems = report::problems(&devices, &runs, &status, &expected);
    show_problem_logs(&devices, &problems, &server_files.log);
    server.stop().await?;
    Ok(DemoOutcome {
        problems,
        kept_dir: options.keep.then(|| base.to_path_buf()),
    })
}

async fn enroll_fleet(
    options: &DemoOptions,
    client: &AdminClient,
    server_url: &str,
    base: &Path,
    root_json: &Path,
    factory_image: &Path,
    factory_version: &Version,
) -> anyhow::Result<Vec<SimulatedDevice>> {
    let devices_dir = base.join("devices");
    let factory_version = factory_version.to_string();
    let plan = FleetPlan {
        devices_dir: &devices_dir,
        server_url,
        class: CLASS,
        hardware_id: HARDWARE_ID,
        root_json,
        factory_image,
        factory_version: &factory_version,
    };
    // Each device makes its own key and enrols itself with the class's secret.
    let secret = client.new_enrollment_secret(CLASS).await?;
    let mut devices = Vec::new();
    for number in 1..=options.devices {
        let id = format!("demo-device-{number:02}");
        devices.push(fleet::prepare_device(
            &plan,
            &id,
            &secret.secret,
            number == FAILING_DEVICE,
        )?);
    }
    println!(
        "prepared {} devices of class {CLASS}; they enrol themselves with the class's enrollment secret",
        devices.len()
    );
    Ok(devices)
}

/// The end of the logs of the devices that went wrong, and of the server, since the demo
/// directory is gone once the demo ends (unless --keep).
fn show_problem_logs(devices: &[SimulatedDevice], problems: &[String], server_log: &Path) {
    if problems.is_empty() {
        return;
    }
    for device in devices {
        if problems
            .iter()
            .any(|p| p.starts_with(&format!("{}:", device.id)))
        {
            eprintln!("--- last lines of {}'s log:", device.id);
            eprintln!("{}", log_tail(&device.log, LOG_TAIL_LINES));
        }
    }
    eprintln!("--- last lines of the server log:");
    eprintln!("{}", log_tail(server_log, LOG_TAIL_LINES));
}
