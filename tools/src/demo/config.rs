//! The device client's configuration file (docs/interfaces.md, `update-client`), as the
//! demo writes it for each simulated device. Serialised with `toml`, so paths and
//! commands are quoted correctly whatever they contain.

use std::path::PathBuf;

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct ClientConfig {
    pub device: DeviceSection,
    pub server: ServerSection,
    pub trust: TrustSection,
    pub state: StateSection,
    pub firmware: FirmwareSection,
    pub slots: SlotsSection,
    pub bootloader: BootloaderSection,
    pub reboot: CommandSection,
    pub health_check: HealthCheckSection,
}

#[derive(Debug, Serialize)]
pub struct DeviceSection {
    pub id: String,
    pub class: String,
    pub hardware_id: String,
    /// The device makes its key in its state directory and enrols itself with this.
    pub enrollment_secret_file: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct ServerSection {
    pub url: String,
    pub poll_interval: String,
    pub timeout: String,
    /// The demo runs on loopback over plain HTTP.
    pub allow_plain_http: bool,
}

#[derive(Debug, Serialize)]
pub struct TrustSection {
    pub root: PathBuf,
    pub metadata_dir: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct StateSection {
    pub dir: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct FirmwareSection {
    pub version: String,
}

#[derive(Debug, Serialize)]
pub struct SlotsSection {
    pub a: PathBuf,
    pub b: PathBuf,
}

#[derive(Debug, Serialize)]
pub struct BootloaderSection {
    pub backend: String,
    pub dir: PathBuf,
    pub boot_limit: u32,
}

#[derive(Debug, Serialize)]
pub struct CommandSection {
    pub command: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct HealthCheckSection {
    pub commands: Vec<Vec<String>>,
    pub timeout: String,
    pub reach_server: bool,
}

impl ClientConfig {
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }
}
