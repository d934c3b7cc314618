//! The agent's TOML configuration (docs/interfaces.md, "update-client").
//!
//! Unknown keys are errors, so a typo cannot silently fall back to a default. Relative
//! paths are resolved against the config file's directory, and the reboot and health-check
//! commands run in that directory, so a config and the files it names can move together.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use update_core::firmware::check_identifier;
use update_core::tls::{CertPin, ClientTrust};

use crate::error::{Error, Result};

mod payload;

pub use payload::{DEFAULT_DELTA_MEMORY, DEFAULT_MAX_DELTA_SPOOL, PayloadConfig};

/// Default name of the device key in the state directory.
pub const DEVICE_KEY_FILE: &str = "device.key";

/// Largest config file read.
const MAX_CONFIG_SIZE: u64 = 64 * 1024;

#[derive(Debug, Clone)]
pub struct Config {
    /// Directory of the config file: relative paths and commands start here.
    pub base_dir: PathBuf,
    pub device: DeviceConfig,
    pub server: ServerConfig,
    pub trust: TrustConfig,
    pub state: StateConfig,
    pub firmware: FirmwareConfig,
    pub slots: SlotsConfig,
    pub bootloader: BootloaderConfig,
    pub reboot: CommandConfig,
    pub health_check: HealthCheckConfig,
    pub payload: PayloadConfig,
    /// `[config]`: where the files of configuration profiles are measured.
    pub config_files: ConfigFilesConfig,
}

/// `[config]`: profile paths are taken under `root` (default "/"), so a simulated
/// device can keep its `/etc` in a directory of its own.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFilesConfig {
    #[serde(default = "default_config_root")]
    pub root: PathBuf,
}

impl Default for ConfigFilesConfig {
    fn default() -> Self {
        ConfigFilesConfig {
            root: default_config_root(),
        }
    }
}

fn default_config_root() -> PathBuf {
    PathBuf::from("/")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    pub id: String,
    pub class: String,
    pub hardware_id: String,
    /// The device's private key (PKCS#8 PEM, made on first start); default
    /// `<state dir>/device.key`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The class's enrollment secret: when set, the agent enrols itself before its first
    /// check-in.
    #[serde(default)]
    pub enrollment_secret_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(deserialize_with = "url")]
    pub url: reqwest::Url,
    #[serde(default, deserialize_with = "optional_url")]
    pub repository_url: Option<reqwest::Url>,
    #[serde(default = "default_poll_interval", deserialize_with = "duration")]
    pub poll_interval: Duration,
    #[serde(default = "default_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// PEM CA certificates: when set, HTTPS trusts only these, not the built-in roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// sha256 of the server's leaf certificate (DER): only that certificate is accepted.
    #[serde(default, deserialize_with = "optional_pin")]
    pub pinned_cert_sha256: Option<CertPin>,
    /// `http://` URLs are refused unless this is true (loopback tests, demos).
    #[serde(default)]
    pub allow_plain_http: bool,
}

impl ServerConfig {
    /// What HTTPS connections to the server and repository trust.
    pub fn trust(&self) -> ClientTrust {
        ClientTrust {
            ca_file: self.ca_file.clone(),
            pinned_sha256: self.pinned_cert_sha256.clone(),
        }
    }

    /// Base URL of the TUF repository (`/metadata`, `/targets`).
    pub fn repository_url(&self) -> &reqwest::Url {
        self.repository_url.as_ref().unwrap_or(&self.url)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    pub root: PathBuf,
    pub metadata_dir: PathBuf,
    #[serde(default = "default_max_metadata_size")]
    pub max_metadata_size: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirmwareConfig {
    pub version: semver::Version,
    #[serde(default)]
    pub factory_image_length: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotsConfig {
    pub a: PathBuf,
    pub b: PathBuf,
}

/// The bootloader backend and its settings (`[bootloader] backend = "..."`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub enum BootloaderConfig {
    /// File-backed U-Boot-like environment for demos and tests.
    Simulated(SimulatedBootConfig),
    /// U-Boot environment, read and written directly (`fw_env.config` layout).
    Uboot(UbootConfig),
    /// GRUB environment block (`grubenv`).
    Grub(GrubConfig),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedBootConfig {
    /// Holds `env`, `booted` and `reboot-requested`.
    pub dir: PathBuf,
    #[serde(default = "default_boot_limit")]
    pub boot_limit: u32,
}

/// How the two copies of a redundant U-Boot environment say which one is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedundantFlags {
    /// Incrementing counter: MMC, NAND, SPI flash, UBI, and files (libubootenv's choice).
    #[default]
    Counter,
    /// Active (1) / obsolete (0): parallel NOR flash (`CONFIG_ENV_IS_IN_FLASH`).
    Boolean,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UbootConfig {
    /// `fw_env.config`-style file: `DEVICE OFFSET SIZE [SECTOR_SIZE [SECTORS]]`, one line
    /// per copy (two lines: redundant environment).
    pub env_config: PathBuf,
    #[serde(default)]
    pub redundant_flags: RedundantFlags,
    /// Where the running system learns which slot booted: the kernel command line,
    /// carrying `ota.slot=A` or `ota.slot=B`.
    #[serde(default = "default_cmdline")]
    pub cmdline: PathBuf,
    #[serde(default = "default_boot_limit")]
    pub boot_limit: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrubConfig {
    /// The 1024-byte GRUB environment block, e.g. `/boot/grub/grubenv`.
    pub grubenv: PathBuf,
    /// As for U-Boot: the kernel command line carrying `ota.slot=A|B`.
    #[serde(default = "default_cmdline")]
    pub cmdline: PathBuf,
    #[serde(default = "default_boot_limit")]
    pub boot_limit: u32,
}

impl BootloaderConfig {
    /// Boots of a new slot before the bootloader falls back.
    pub fn boot_limit(&self) -> u32 {
        match self {
            BootloaderConfig::Simulated(c) => c.boot_limit,
            BootloaderConfig::Uboot(c) => c.boot_limit,
            BootloaderConfig::Grub(c) => c.boot_limit,
        }
    }

    /// Makes every path in the section relative to `base_dir`.
    fn resolve_paths(&mut self, base_dir: &Path) {
        let resolve = |p: &mut PathBuf| *p = base_dir.join(&*p);
        match self {
            BootloaderConfig::Simulated(c) => resolve(&mut c.dir),
            BootloaderConfig::Uboot(c) => {
                resolve(&mut c.env_config);
                resolve(&mut c.cmdline);
            }
            BootloaderConfig::Grub(c) => {
                resolve(&mut c.grubenv);
                resolve(&mut c.cmdline);
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    pub command: Vec<String>,
}

/// What a newly booted slot must pass before it is committed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// Commands run in order; each must exit 0 within `timeout`. None: nothing to run.
    #[serde(default)]
    pub commands: Vec<Vec<String>>,
    /// Limit for each command, and for reaching the server.
    #[serde(default = "default_health_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// The new system must also complete a check-in with the update server: a release
    /// that breaks networking is rolled back before the device is lost to its operator.
    #[serde(default)]
    pub reach_server: bool,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            commands: Vec::new(),
            timeout: default_health_timeout(),
            reach_server: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    device: DeviceConfig,
    server: ServerConfig,
    trust: TrustConfig,
    state: StateConfig,
    firmware: FirmwareConfig,
    slots: SlotsConfig,
    bootloader: BootloaderConfig,
    reboot: CommandConfig,
    #[serde(default)]
    health_check: HealthCheckConfig,
    #[serde(default)]
    payload: payload::PayloadSection,
    #[serde(default)]
    config: ConfigFilesConfig,
}

impl Config {
    /// Reads, parses and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config> {
        let bytes = crate::atomic::read_limited(path, MAX_CONFIG_SIZE)
            .map_err(|e| config_error(path, format!("cannot read: {e}")))?
            .ok_or_else(|| config_error(path, "no such file".into()))?;
        let text =
            String::from_utf8(bytes).map_err(|_| config_error(path, "not UTF-8 text".into()))?;
        let base_dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Config::parse(&text, &base_dir).map_err(|reason| config_error(path, reason))
    }

    /// Parses config text; relative paths are taken relative to `base_dir`.
    pub fn parse(text: &str, base_dir: &Path) -> Result<Config, String> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let resolve = |p: &Path| base_dir.join(p);
        let state_dir = resolve(&file.state.dir);
        let payload = file.payload.resolve(base_dir, &state_dir)?;
        let mut config = Config {
            base_dir: base_dir.to_path_buf(),
            device: file.device,
            server: file.server,
            trust: file.trust,
            state: file.state,
            firmware: file.firmware,
            slots: file.slots,
            bootloader: file.bootloader,
            reboot: file.reboot,
            health_check: file.health_check,
            payload,
            config_files: ConfigFilesConfig {
                root: resolve(&file.config.root),
            },
        };
        config.server.ca_file = config.server.ca_file.as_deref().map(&resolve);
        config.device.key_file = config.device.key_file.as_deref().map(&resolve);
        config.device.enrollment_secret_file = config
            .device
            .enrollment_secret_file
            .as_deref()
            .map(&resolve);
        config.trust.root = resolve(&config.trust.root);
        config.trust.metadata_dir = resolve(&config.trust.metadata_dir);
        config.state.dir = resolve(&config.state.dir);
        config.slots.a = resolve(&config.slots.a);
        config.slots.b = resolve(&config.slots.b);
        config.bootloader.resolve_paths(base_dir);
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        if self.device.id.is_empty() || self.device.id.len() > 128 {
            return Err("device.id must be 1-128 characters".into());
        }
        check_identifier("device.class", &self.device.class)?;
        check_identifier("device.hardware_id", &self.device.hardware_id)?;
        for (key, url) in [
            ("server.url", &self.server.url),
            ("server.repository_url", self.server.repository_url()),
        ] {
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(format!(
                    "{key} must be an http:// or https:// URL, got {url}"
                ));
            }
            if url.scheme() == "http" && !self.server.allow_plain_http {
                return Err(format!(
                    "{key} {url} is plain HTTP: use https://, or set server.allow_plain_http \
                     = true (only for loopback tests and demos)"
                ));
            }
        }
        if self.server.poll_interval.is_zero() || self.server.timeout.is_zero() {
            return Err("server.poll_interval and server.timeout must be positive".into());
        }
        if self.trust.max_metadata_size == 0 {
            return Err("trust.max_metadata_size must be positive".into());
        }
        if self.firmware.factory_image_length == Some(0) {
            return Err("firmware.factory_image_length must be positive".into());
        }
        if self.slots.a == self.slots.b {
            return Err("slots.a and slots.b must be different paths".into());
        }
        if self.bootloader.boot_limit() == 0 {
            return Err("bootloader.boot_limit must be at least 1".into());
        }
        if let BootloaderConfig::Grub(grub) = &self.bootloader {
            crate::bootloader::grub::check_boot_limit(grub.boot_limit)
                .map_err(|e| format!("bootloader.boot_limit: {e}"))?;
        }
        if self.reboot.command.is_empty() || self.reboot.command[0].is_empty() {
            return Err("reboot.command must name a program".into());
        }
        if self
            .health_check
            .commands
            .iter()
            .any(|command| command.first().is_none_or(String::is_empty))
        {
            return Err("every health_check.commands entry must name a program".into());
        }
        if self.health_check.timeout.is_zero() {
            return Err("health_check.timeout must be positive".into());
        }
        Ok(())
    }

    /// Where the device's private key lives.
    pub fn device_key_file(&self) -> PathBuf {
        self.device
            .key_file
            .clone()
            .unwrap_or_else(|| self.state.dir.join(DEVICE_KEY_FILE))
    }
}

pub(crate) fn config_error(path: &Path, reason: String) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        reason,
    }
}

/// A humantime duration such as `"5m"` or `"30s"`.
fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map_err(serde::de::Error::custom)
}

fn url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<reqwest::Url, D::Error> {
    let text = String::deserialize(deserializer)?;
    reqwest::Url::parse(&text).map_err(|e| serde::de::Error::custom(format!("{text:?}: {e}")))
}

fn optional_url<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<reqwest::Url>, D::Error> {
    url(deserializer).map(Some)
}

fn optional_pin<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<CertPin>, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map(Some).map_err(serde::de::Error::custom)
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(300)
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_health_timeout() -> Duration {
    Duration::from_secs(60)
}

fn default_max_metadata_size() -> u64 {
    1024 * 1024
}

fn default_cmdline() -> PathBuf {
    PathBuf::from("/proc/cmdline")
}

fn default_boot_limit() -> u32 {
    1
}

#[cfg(test)]
mod tests;
