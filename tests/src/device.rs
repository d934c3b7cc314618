//! A simulated device: file-backed A/B slots, the simulated bootloader and the real
//! `update-client simulate` process.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::images::sha256_file;
use crate::process::{Finished, bin, run};
use crate::world::World;

/// How to build a device.
pub struct DeviceSpec<'a> {
    pub id: &'a str,
    pub class: &'a str,
    pub hardware_id: &'a str,
    /// The factory image put in slot A, and its version.
    pub factory_image: PathBuf,
    pub factory_version: &'a str,
    /// Health check command; `None` means always healthy.
    pub health_check: Option<Vec<String>>,
    /// Where the device fetches TUF metadata and targets; default: the server.
    pub repository_url: Option<String>,
    /// Where the device checks in; default: the server.
    pub server_url: Option<String>,
    /// The new slot must also reach the server before it is committed.
    pub reach_server: bool,
    pub health_timeout_secs: u64,
    /// Boots of a new slot on trial before the bootloader falls back.
    pub boot_limit: u32,
    /// Lines of the config's `[payload]` section (which forms of a release to use);
    /// `None`: the defaults (delta, else zstd, else raw).
    pub payload: Option<&'a str>,
}

impl<'a> DeviceSpec<'a> {
    pub fn new(
        id: &'a str,
        class: &'a str,
        hardware_id: &'a str,
        factory_image: PathBuf,
        factory_version: &'a str,
    ) -> Self {
        DeviceSpec {
            id,
            class,
            hardware_id,
            factory_image,
            factory_version,
            health_check: None,
            repository_url: None,
            server_url: None,
            reach_server: false,
            health_timeout_secs: 10,
            boot_limit: 1,
            payload: None,
        }
    }
}

pub struct Device {
    pub id: String,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub slot_a: PathBuf,
    pub slot_b: PathBuf,
    pub boot_dir: PathBuf,
    pub state_dir: PathBuf,
    pub metadata_dir: PathBuf,
    /// The device's file system root for configuration profiles (`[config] root`): its
    /// `/etc/...` files live under here.
    pub config_root: PathBuf,
}

impl Device {
    /// Lays out the device's files, lets it make its key and enrols that key.
    pub fn create(world: &World, spec: DeviceSpec<'_>) -> Device {
        let dir = world.path(&format!("device-{}", spec.id));
        let boot_dir = dir.join("boot");
        let state_dir = dir.join("state");
        let metadata_dir = state_dir.join("metadata");
        for d in [&dir, &boot_dir, &state_dir] {
            std::fs::create_dir_all(d).expect("device dirs");
        }
        let config_root = dir.join("rootfs");
        let slot_a = dir.join("slot-a.img");
        let slot_b = dir.join("slot-b.img");
        std::fs::copy(&spec.factory_image, &slot_a).expect("factory image");
        std::fs::write(&slot_b, b"").expect("empty slot B");
        std::fs::write(
            boot_dir.join("env"),
            format!(
                "boot_slot=A\nupgrade_available=0\nbootcount=0\nbootlimit={}\n",
                spec.boot_limit
            ),
        )
        .expect("bootloader env");
        std::fs::copy(world.keys.join("root.json"), dir.join("root.json")).expect("root");

        let server_url = spec
            .server_url
            .clone()
            .unwrap_or_else(|| world.server_url.clone());
        let repository_url = spec
            .repository_url
            .clone()
            .unwrap_or_else(|| world.server_url.clone());
        let health = match &spec.health_check {
            Some(command) => format!(
                "[health_check]\ncommands = [{}]\ntimeout = \"{}s\"\nreach_server = {}\n",
                toml_array(command),
                spec.health_timeout_secs,
                spec.reach_server
            ),
            None => String::new(),
        };
        let payload = spec
            .payload
            .map(|lines| format!("[payload]\n{lines}\n"))
            .unwrap_or_default();
        let reboot = vec![
            "touch".to_string(),
            boot_dir.join("reboot-requested").display().to_string(),
        ];
        let config = format!(
            r#"[device]
id = "{id}"
class = "{class}"
hardware_id = "{hardware}"

[server]
url = "{server_url}"
repository_url = "{repository_url}"
poll_interval = "1s"
timeout = "10s"
allow_plain_http = true
{ca_file}

[trust]
root = "{dir}/root.json"
metadata_dir = "{metadata}"

[state]
dir = "{state}"

[firmware]
version = "{version}"

[slots]
a = "{a}"
b = "{b}"

[bootloader]
backend = "simulated"
dir = "{boot}"
boot_limit = {boot_limit}

[reboot]
command = {reboot}

[config]
root = "{config_root}"

{health}
{payload}"#,
            id = spec.id,
            class = spec.class,
            hardware = spec.hardware_id,
            dir = dir.display(),
            metadata = metadata_dir.display(),
            state = state_dir.display(),
            version = spec.factory_version,
            a = slot_a.display(),
            b = slot_b.display(),
            boot = boot_dir.display(),
            boot_limit = spec.boot_limit,
            reboot = toml_array(&reboot),
            config_root = config_root.display(),
            ca_file = world
                .ca_file
                .as_ref()
                .map(|ca| format!("ca_file = {:?}", ca.display().to_string()))
                .unwrap_or_default(),
        );
        let config_path = dir.join("client.toml");
        std::fs::write(&config_path, config).expect("client config");
        // The real way: the device makes its key, the operator enrols the public key.
        let mut identity = Command::new(bin("update-client"));
        identity.arg("identity").arg("--config").arg(&config_path);
        let out = run(identity, Duration::from_secs(60));
        out.assert_ok("update-client identity");
        let public_key = match out.stdout.split_whitespace().collect::<Vec<_>>()[..] {
            [id, key] if id == spec.id => key.to_string(),
            _ => panic!("update-client identity printed {:?}", out.stdout),
        };
        world.enroll_key(spec.id, spec.class, &public_key);
        Device {
            id: spec.id.to_string(),
            dir,
            config: config_path,
            slot_a,
            slot_b,
            boot_dir,
            state_dir,
            metadata_dir,
            config_root,
        }
    }

    /// Points the device at another TUF repository (a mirror) from now on.
    pub fn set_repository_url(&self, url: &str) {
        self.rewrite_config("repository_url", url);
    }

    /// Points the device's check-ins at another server from now on.
    pub fn set_server_url(&self, url: &str) {
        self.rewrite_config("url", url);
    }

    /// Moves slot B to `path` from now on (e.g. onto a small or read-only file system).
    pub fn set_slot_b(&self, path: &std::path::Path) {
        self.rewrite_config("b", &path.display().to_string());
    }

    /// Replaces the health-check commands (e.g. the operator fixed what made them fail).
    pub fn set_health_commands(&self, command: &[&str]) {
        let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        self.rewrite_config_raw("commands", &format!("[{}]", toml_array(&command)));
    }

    /// Trusts the CA certificates in `path` for HTTPS from now on.
    pub fn set_ca_file(&self, path: &std::path::Path) {
        self.rewrite_config("ca_file", &path.display().to_string());
    }

    fn rewrite_config(&self, key: &str, value: &str) {
        self.rewrite_config_raw(key, &format!("{value:?}"));
    }

    fn rewrite_config_raw(&self, key: &str, raw_value: &str) {
        let text = std::fs::read_to_string(&self.config).expect("read config");
        let prefix = format!("{key} = ");
        let rewritten: Vec<String> = text
            .lines()
            .map(|line| {
                if line.starts_with(&prefix) {
                    format!("{key} = {raw_value}")
                } else {
                    line.to_string()
                }
            })
            .collect();
        std::fs::write(&self.config, rewritten.join("\n") + "\n").expect("write config");
    }

    /// The spooled deltas the agent left in its default spool directory.
    pub fn spooled_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.state_dir.join("download"))
            .map(|entries| entries.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    /// Powers the device on and lets it work until it has nothing left to do.
    pub fn run_until_idle(&self) -> Finished {
        self.run_until_idle_with_env(&[])
    }

    /// [`Device::run_until_idle`] with extra environment variables (e.g. `OTA_CRASH_AT`).
    pub fn run_until_idle_with_env(&self, envs: &[(&str, &str)]) -> Finished {
        let mut command = Command::new(bin("update-client"));
        command
            .arg("simulate")
            .arg("--config")
            .arg(&self.config)
            .arg("--until-idle");
        command.env("RUST_LOG", "info");
        command.envs(envs.iter().copied());
        run(command, Duration::from_secs(120))
    }

    /// A state file of the agent (`journal.json`, `slots.json`, ...) as JSON, if present.
    pub fn state_file(&self, name: &str) -> Option<serde_json::Value> {
        let bytes = std::fs::read(self.state_dir.join(name)).ok()?;
        Some(serde_json::from_slice(&bytes).expect("state file is JSON"))
    }

    /// Like [`Device::run_until_idle`], with the device's clock set to `clock` (a date
    /// `faketime` understands) at power-on and running from there: a device without a
    /// battery-backed clock. Needs Debian's `faketime`.
    pub fn run_until_idle_with_clock(&self, clock: &str) -> Finished {
        let faketime = which("faketime")
            .expect("faketime is missing: install Debian's faketime package (.ci/run does)");
        let mut command = Command::new(faketime);
        command.arg(clock).arg(bin("update-client"));
        command
            .arg("simulate")
            .arg("--config")
            .arg(&self.config)
            .arg("--until-idle");
        command.env("RUST_LOG", "info");
        run(command, Duration::from_secs(120))
    }

    /// The slot the last simulated power-on booted.
    pub fn booted_slot(&self) -> String {
        std::fs::read_to_string(self.boot_dir.join("booted"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// The simulated bootloader environment.
    pub fn boot_env(&self) -> BTreeMap<String, String> {
        std::fs::read_to_string(self.boot_dir.join("env"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    pub fn slot_a_sha256(&self) -> String {
        sha256_file(&self.slot_a)
    }

    pub fn slot_b_sha256(&self) -> String {
        sha256_file(&self.slot_b)
    }

    /// Every stored trusted metadata file and its bytes.
    pub fn trusted_metadata(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(&self.metadata_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                files.insert(name, std::fs::read(entry.path()).expect("read metadata"));
            }
        }
        files
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join(program))
        .find(|path| path.is_file())
}

fn toml_array(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(", "))
}
