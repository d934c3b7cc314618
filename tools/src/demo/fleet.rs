//! The simulated devices: one directory each (slots, enrollment secret, trust anchor, simulated
//! bootloader, config), then every device as an `update-client simulate` process at once.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};

use super::config::{
    BootloaderSection, ClientConfig, CommandSection, DeviceSection, FirmwareSection,
    HealthCheckSection, ServerSection, SlotsSection, StateSection, TrustSection,
};
use crate::fsutil::create_new_with_mode;

/// The simulated bootloader's environment on a factory-fresh device.
pub const FACTORY_BOOT_ENV: &str = "boot_slot=A\nupgrade_available=0\nbootcount=0\nbootlimit=1\n";
/// What the broken device's health check does.
pub const FAILING_HEALTH_CHECK: &str = "echo 'camera service failed to start' >&2; exit 1";

/// What every device of the demo fleet shares.
pub struct FleetPlan<'a> {
    pub devices_dir: &'a Path,
    pub server_url: &'a str,
    pub class: &'a str,
    pub hardware_id: &'a str,
    pub root_json: &'a Path,
    pub factory_image: &'a Path,
    pub factory_version: &'a str,
}

#[derive(Debug)]
pub struct SimulatedDevice {
    pub id: String,
    pub config: PathBuf,
    pub log: PathBuf,
    pub failing_health_check: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct DeviceRun {
    /// `None` when the process was killed (timeout or signal).
    pub exit_code: Option<i32>,
    pub timed_out: bool,
}

/// Lays out one device's directory and writes its config.
pub fn prepare_device(
    plan: &FleetPlan,
    id: &str,
    enrollment_secret: &str,
    failing_health_check: bool,
) -> anyhow::Result<SimulatedDevice> {
    let dir = plan.devices_dir.join(id);
    let boot_dir = dir.join("sim-boot");
    for sub in [&dir, &boot_dir, &dir.join("state"), &dir.join("metadata")] {
        std::fs::create_dir_all(sub).with_context(|| format!("cannot create {}", sub.display()))?;
    }
    let file = |name: &str| dir.join(name);
    let (slot_a, slot_b, secret_file, root) = (
        file("slot-a.img"),
        file("slot-b.img"),
        file("enrollment-secret"),
        file("root.json"),
    );
    // A copy, not a link: each device owns its slots, as real hardware does.
    std::fs::copy(plan.factory_image, &slot_a)
        .with_context(|| format!("cannot create {}", slot_a.display()))?;
    std::fs::write(&slot_b, b"").with_context(|| format!("cannot create {}", slot_b.display()))?;
    std::fs::copy(plan.root_json, &root)
        .with_context(|| format!("cannot create {}", root.display()))?;
    create_new_with_mode(&secret_file, enrollment_secret.as_bytes(), 0o600)
        .with_context(|| format!("cannot create {}", secret_file.display()))?;
    std::fs::write(boot_dir.join("env"), FACTORY_BOOT_ENV)
        .with_context(|| format!("cannot create {}", boot_dir.display()))?;

    let health_check = if failing_health_check {
        vec!["sh".into(), "-c".into(), FAILING_HEALTH_CHECK.into()]
    } else {
        vec!["true".into()]
    };
    let config = ClientConfig {
        device: DeviceSection {
            id: id.to_string(),
            class: plan.class.to_string(),
            hardware_id: plan.hardware_id.to_string(),
            enrollment_secret_file: secret_file,
        },
        server: ServerSection {
            url: plan.server_url.to_string(),
            poll_interval: "1s".into(),
            timeout: "30s".into(),
            allow_plain_http: true,
        },
        trust: TrustSection {
            root,
            metadata_dir: file("metadata"),
        },
        state: StateSection { dir: file("state") },
        firmware: FirmwareSection {
            version: plan.factory_version.to_string(),
        },
        slots: SlotsSection {
            a: slot_a,
            b: slot_b,
        },
        bootloader: BootloaderSection {
            backend: "simulated".into(),
            dir: boot_dir.clone(),
            boot_limit: 1,
        },
        reboot: CommandSection {
            command: vec![
                "touch".into(),
                boot_dir.join("reboot-requested").display().to_string(),
            ],
        },
        health_check: HealthCheckSection {
            commands: vec![health_check],
            timeout: "10s".into(),
            reach_server: true,
        },
    };
    let config_path = file("config.toml");
    let text = config.to_toml().context("cannot write the device config")?;
    std::fs::write(&config_path, text)
        .with_context(|| format!("cannot create {}", config_path.display()))?;
    Ok(SimulatedDevice {
        id: id.to_string(),
        config: config_path,
        log: file("client.log"),
        failing_health_check,
    })
}

/// Runs every device at once and waits for all, killing what is still running after
/// `timeout`.
pub async fn run_all(
    client_bin: &Path,
    devices: &[SimulatedDevice],
    timeout: Duration,
) -> anyhow::Result<Vec<DeviceRun>> {
    let mut children = Vec::with_capacity(devices.len());
    for device in devices {
        children.push(spawn_device(client_bin, device)?);
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut runs = Vec::with_capacity(children.len());
    for mut child in children {
        let run = match tokio::time::timeout_at(deadline, child.wait()).await {
            Ok(status) => DeviceRun {
                exit_code: status.context("cannot wait for update-client")?.code(),
                timed_out: false,
            },
            Err(_) => {
                kill_process_group(&mut child).await;
                DeviceRun {
                    exit_code: None,
                    timed_out: true,
                }
            }
        };
        runs.push(run);
    }
    Ok(runs)
}

fn spawn_device(client_bin: &Path, device: &SimulatedDevice) -> anyhow::Result<Child> {
    let log = std::fs::File::create(&device.log)
        .with_context(|| format!("cannot create {}", device.log.display()))?;
    let log_for_stderr = log
        .try_clone()
        .context("cannot open the device log twice")?;
    Command::new(client_bin)
        .arg("simulate")
        .arg("--config")
        .arg(&device.config)
        .arg("--until-idle")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_for_stderr)
        // Its own process group, so a hung device can be stopped with the `run`
        // process it started.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", client_bin.display()))
}

/// Kills a device's whole process group (the simulator and its `run` child). `kill(1)`
/// does the group signal, which tokio cannot, without unsafe code here.
async fn kill_process_group(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
}
