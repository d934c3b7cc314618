//! A simulated device's directory: config, device key, trust anchor, slots.

use std::path::{Path, PathBuf};

use update_client::config::Config;

use super::device_key;

/// A simulated device's directory: config, device key, trust anchor, slots.
pub struct DeviceDir {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

pub struct DeviceOptions<'a> {
    pub health_check: Option<&'a str>,
    pub boot_limit: u32,
    pub version: &'a str,
    /// Lines of a `[payload]` section, if any.
    pub payload: Option<&'a str>,
}

impl Default for DeviceOptions<'_> {
    fn default() -> Self {
        DeviceOptions {
            health_check: None,
            boot_limit: 1,
            version: "1.0.0",
            payload: None,
        }
    }
}

pub const FACTORY_IMAGE: &[u8] = b"factory image of slot A\n";

impl DeviceDir {
    pub fn new(server_url: &str, anchor: &[u8], options: DeviceOptions<'_>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let health = match options.health_check {
            Some(script) => format!(
                "[health_check]\ncommands = [[\"sh\", \"-c\", {script:?}]]\ntimeout = \"10s\"\n"
            ),
            None => String::new(),
        };
        let payload = options
            .payload
            .map(|lines| format!("[payload]\n{lines}\n"))
            .unwrap_or_default();
        let config = format!(
            r#"
[device]
id = "dev-001"
class = "camera"
hardware_id = "cam-v2"
key_file = "device.key"

[server]
url = "{server_url}"
poll_interval = "1s"
timeout = "10s"
allow_plain_http = true

[trust]
root = "root.json"
metadata_dir = "state/metadata"
max_metadata_size = 65536

[state]
dir = "state"

[firmware]
version = "{version}"

[slots]
a = "slot-a.img"
b = "slot-b.img"

[bootloader]
backend = "simulated"
dir = "sim-boot"
boot_limit = {boot_limit}

[reboot]
command = ["touch", "sim-boot/reboot-requested"]

{health}
{payload}"#,
            version = options.version,
            boot_limit = options.boot_limit,
        );
        let config_path = dir.path().join("client.toml");
        std::fs::write(&config_path, config).unwrap();
        let pem = device_key().to_pkcs8_pem().unwrap();
        std::fs::write(dir.path().join("device.key"), pem.as_bytes()).unwrap();
        std::fs::write(dir.path().join("root.json"), anchor).unwrap();
        std::fs::write(dir.path().join("slot-a.img"), FACTORY_IMAGE).unwrap();
        std::fs::create_dir_all(dir.path().join("sim-boot")).unwrap();
        DeviceDir { dir, config_path }
    }

    pub fn config(&self) -> Config {
        Config::load(&self.config_path).unwrap()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn read(&self, relative: &str) -> Vec<u8> {
        std::fs::read(self.path(relative)).unwrap()
    }

    pub fn exists(&self, relative: &str) -> bool {
        Path::exists(&self.path(relative))
    }

    /// What `update-client status` would print, as JSON.
    pub fn status(&self) -> serde_json::Value {
        serde_json::to_value(update_client::status::read(&self.config()).unwrap()).unwrap()
    }
}
