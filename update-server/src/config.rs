//! The server's settings: `serve` flags, the TOML config file with the same names in
//! snake_case (flags win), and defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::relays::{RelayConfig, Relays};

pub const DEFAULT_DATA_DIR: &str = "./ota-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_TIMESTAMP_LIFETIME: Duration = Duration::from_secs(24 * 3600);
pub const DEFAULT_SNAPSHOT_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_MAX_IMAGE_SIZE: u64 = 4 * 1024 * 1024 * 1024;
/// Metadata expiry has whole seconds; shorter lifetimes could not be re-signed in time.
pub const MIN_LIFETIME: Duration = Duration::from_secs(2);
/// A config file is a few hundred bytes; anything huge is a mistake.
const MAX_CONFIG_FILE: u64 = 1024 * 1024;

/// Flags of `update-server serve`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// TOML config file; its keys are the flag names in snake_case.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of the database and blobs [default: ./ota-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on; port 0 lets the OS pick [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The initial trusted root.json, needed on the first start only.
    #[arg(long, value_name = "FILE")]
    pub root: Option<PathBuf>,
    /// The snapshot role's private key (PKCS#8 PEM).
    #[arg(long, value_name = "FILE")]
    pub snapshot_key: Option<PathBuf>,
    /// The timestamp role's private key (PKCS#8 PEM).
    #[arg(long, value_name = "FILE")]
    pub timestamp_key: Option<PathBuf>,
    /// How long a signed timestamp is valid [default: 1d].
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub timestamp_lifetime: Option<Duration>,
    /// How long a signed snapshot is valid [default: 7d].
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub snapshot_lifetime: Option<Duration>,
    /// How often devices should check in [default: 5m].
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub poll_interval: Option<Duration>,
    /// Largest image upload accepted, in bytes [default: 4 GiB].
    #[arg(long, value_name = "BYTES")]
    pub max_image_size: Option<u64>,
    /// A relay trusted to forward device addresses in X-Forwarded-For, as
    /// NAME=CIDR[,CIDR...]; repeatable. Given flags replace the file's `[[relays]]`.
    #[arg(long = "relay", value_name = "NAME=CIDRS", value_parser = parse_relay_flag)]
    pub relays: Vec<RelayConfig>,
    /// The server's TLS certificate chain (PEM, leaf first); with --tls-key the server
    /// serves HTTPS only.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).
    #[arg(long)]
    pub allow_plain_http: bool,
}

fn parse_relay_flag(text: &str) -> Result<RelayConfig, String> {
    let (name, addresses) = text
        .split_once('=')
        .ok_or_else(|| format!("relay {text:?} is not NAME=CIDR[,CIDR...]"))?;
    Ok(RelayConfig {
        name: name.to_string(),
        addresses: addresses.split(',').map(str::to_string).collect(),
    })
}

/// The config file. Durations are humantime strings such as `"6s"` or `"1day"`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub root: Option<PathBuf>,
    pub snapshot_key: Option<PathBuf>,
    pub timestamp_key: Option<PathBuf>,
    pub timestamp_lifetime: Option<String>,
    pub snapshot_lifetime: Option<String>,
    pub poll_interval: Option<String>,
    pub max_image_size: Option<u64>,
    #[serde(default)]
    pub relays: Vec<RelayConfig>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    #[serde(default)]
    pub allow_plain_http: bool,
}

/// The server's certificate and key files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Complete, validated settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub root: Option<PathBuf>,
    pub snapshot_key: PathBuf,
    pub timestamp_key: PathBuf,
    pub timestamp_lifetime: Duration,
    pub snapshot_lifetime: Duration,
    pub poll_interval: Duration,
    pub max_image_size: u64,
    /// Proxies trusted to forward device addresses (`[[relays]]`).
    pub relays: Vec<RelayConfig>,
    /// HTTPS with these; `None`: plain HTTP, on loopback unless `allow_plain_http`.
    pub tls: Option<TlsFiles>,
    pub allow_plain_http: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is larger than {MAX_CONFIG_FILE} bytes")]
    TooLarge { path: PathBuf },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("invalid {key} {value:?}: {source}")]
    Duration {
        key: &'static str,
        value: String,
        #[source]
        source: humantime::DurationError,
    },
    #[error("--{0} (or `{1}` in the config file) is required")]
    Missing(&'static str, &'static str),
    #[error("{0}")]
    Invalid(String),
}

impl FileConfig {
    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
        toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    pub fn read(path: &Path) -> Result<FileConfig, ConfigError> {
        let read_error = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read_error)?.len();
        if size > MAX_CONFIG_FILE {
            return Err(ConfigError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        Self::parse(&text, path)
    }
}

impl ServerConfig {
    /// Reads the config file named by `--config`, if any, and merges the flags over it.
    pub fn from_args(args: ServeArgs) -> Result<ServerConfig, ConfigError> {
        let file = match &args.config {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        Self::merge(args, file)
    }

    /// Flags win over the file; defaults fill the rest.
    pub fn merge(args: ServeArgs, file: FileConfig) -> Result<ServerConfig, ConfigError> {
        let duration =
            |flag: Option<Duration>, text: Option<String>, key: &'static str, default: Duration| {
                match (flag, text) {
                    (Some(value), _) => Ok(value),
                    (None, Some(value)) => humantime::parse_duration(&value)
                        .map_err(|source| ConfigError::Duration { key, value, source }),
                    (None, None) => Ok(default),
                }
            };
        let config = ServerConfig {
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            listen: match args.listen.or(file.listen) {
                Some(listen) => listen,
                None => DEFAULT_LISTEN
                    .parse()
                    .map_err(|_| ConfigError::Invalid("bad default listen address".into()))?,
            },
            root: args.root.or(file.root),
            snapshot_key: args
                .snapshot_key
                .or(file.snapshot_key)
                .ok_or(ConfigError::Missing("snapshot-key", "snapshot_key"))?,
            timestamp_key: args
                .timestamp_key
                .or(file.timestamp_key)
                .ok_or(ConfigError::Missing("timestamp-key", "timestamp_key"))?,
            timestamp_lifetime: duration(
                args.timestamp_lifetime,
                file.timestamp_lifetime,
                "timestamp_lifetime",
                DEFAULT_TIMESTAMP_LIFETIME,
            )?,
            snapshot_lifetime: duration(
                args.snapshot_lifetime,
                file.snapshot_lifetime,
                "snapshot_lifetime",
                DEFAULT_SNAPSHOT_LIFETIME,
            )?,
            poll_interval: duration(
                args.poll_interval,
                file.poll_interval,
                "poll_interval",
                DEFAULT_POLL_INTERVAL,
            )?,
            max_image_size: args
                .max_image_size
                .or(file.max_image_size)
                .unwrap_or(DEFAULT_MAX_IMAGE_SIZE),
            relays: if args.relays.is_empty() {
                file.relays
            } else {
                args.relays
            },
            tls: match (
                args.tls_cert.or(file.tls_cert),
                args.tls_key.or(file.tls_key),
            ) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                (None, None) => None,
                (Some(_), None) => return Err(ConfigError::Missing("tls-key", "tls_key")),
                (None, Some(_)) => return Err(ConfigError::Missing("tls-cert", "tls_cert")),
            },
            allow_plain_http: args.allow_plain_http || file.allow_plain_http,
        };
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, lifetime) in [
            ("timestamp lifetime", self.timestamp_lifetime),
            ("snapshot lifetime", self.snapshot_lifetime),
        ] {
            if lifetime < MIN_LIFETIME {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be at least {}",
                    humantime::format_duration(MIN_LIFETIME)
                )));
            }
            if chrono::TimeDelta::from_std(lifetime).is_err() {
                return Err(ConfigError::Invalid(format!("{name} is too long")));
            }
        }
        if self.poll_interval < Duration::from_secs(1) {
            return Err(ConfigError::Invalid(
                "poll interval must be at least 1s".into(),
            ));
        }
        if self.max_image_size == 0 {
            return Err(ConfigError::Invalid(
                "max image size must be positive".into(),
            ));
        }
        self.checked_relays()?;
        if self.tls.is_none() && !self.allow_plain_http && !self.listen.ip().is_loopback() {
            return Err(ConfigError::Invalid(format!(
                "refusing to serve plain HTTP on {}, which is not a loopback address: give \
                 --tls-cert and --tls-key (or tls_cert and tls_key in the config file), or \
                 --allow-plain-http (allow_plain_http = true) if a TLS proxy is in front",
                self.listen
            )));
        }
        Ok(())
    }

    /// The relays, parsed and checked.
    pub fn checked_relays(&self) -> Result<Relays, ConfigError> {
        Relays::new(&self.relays).map_err(ConfigError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> ServeArgs {
        ServeArgs {
            snapshot_key: Some("s.pem".into()),
            timestamp_key: Some("t.pem".into()),
            ..ServeArgs::default()
        }
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let config = ServerConfig::merge(keys(), FileConfig::default()).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("./ota-data"));
        assert_eq!(config.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(config.timestamp_lifetime, Duration::from_secs(86_400));
        assert_eq!(config.snapshot_lifetime, Duration::from_secs(7 * 86_400));
        assert_eq!(config.poll_interval, Duration::from_secs(300));
        assert_eq!(config.max_image_size, 1 << 32);
        assert_eq!(config.root, None);
    }

    #[test]
    fn file_values_apply_and_flags_win() {
        let text = r#"
            data_dir = "/var/lib/ota"
            listen = "0.0.0.0:9000"
            root = "/etc/ota/root.json"
            snapshot_key = "/etc/ota/snapshot.pem"
            timestamp_key = "/etc/ota/timestamp.pem"
            timestamp_lifetime = "6s"
            snapshot_lifetime = "2days"
            poll_interval = "30s"
            max_image_size = 1048576
            [[relays]]
            name = "site-gw-1"
            addresses = ["127.0.0.5/32", "10.1.0.0/16"]
        "#;
        let file = FileConfig::parse(text, Path::new("server.toml")).unwrap();
        let flags = ServeArgs {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            poll_interval: Some(Duration::from_secs(7)),
            ..ServeArgs::default()
        };
        let config = ServerConfig::merge(flags, file).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/ota"));
        assert_eq!(config.listen, "127.0.0.1:0".parse().unwrap());
        assert_eq!(config.root, Some(PathBuf::from("/etc/ota/root.json")));
        assert_eq!(config.snapshot_key, PathBuf::from("/etc/ota/snapshot.pem"));
        assert_eq!(config.timestamp_lifetime, Duration::from_secs(6));
        assert_eq!(config.snapshot_lifetime, Duration::from_secs(2 * 86_400));
        assert_eq!(config.poll_interval, Duration::from_secs(7));
        assert_eq!(config.max_image_size, 1_048_576);
        assert_eq!(config.relays.len(), 1);
        assert_eq!(config.relays[0].name, "site-gw-1");
        let relays = config.checked_relays().unwrap();
        assert_eq!(
            relays.relay_of("10.1.2.3".parse().unwrap()),
            Some("site-gw-1")
        );
    }

    #[test]
    fn relay_flags_replace_the_file_and_bad_networks_are_refused() {
        let file = FileConfig::parse(
            "[[relays]]\nname = \"a\"\naddresses = [\"10.0.0.1\"]",
            Path::new("server.toml"),
        )
        .unwrap();
        let flags = ServeArgs {
            relays: vec![parse_relay_flag("b=127.0.0.5/32,10.2.0.0/16").unwrap()],
            ..keys()
        };
        let config = ServerConfig::merge(flags, file).unwrap();
        assert_eq!(config.relays[0].name, "b");
        assert_eq!(config.relays[0].addresses.len(), 2);
        let bad = ServeArgs {
            relays: vec![parse_relay_flag("b=10.0.0.0/99").unwrap()],
            ..keys()
        };
        assert!(ServerConfig::merge(bad, FileConfig::default()).is_err());
        assert!(parse_relay_flag("no-equals").is_err());
    }

    #[test]
    fn mistakes_are_clear_errors() {
        let path = Path::new("server.toml");
        let err = FileConfig::parse("listen_addr = \"x\"", path).unwrap_err();
        assert!(err.to_string().contains("listen_addr"), "{err}");

        let file = FileConfig::parse("timestamp_lifetime = \"soon\"", path).unwrap();
        let err = ServerConfig::merge(keys(), file).unwrap_err();
        assert!(err.to_string().contains("timestamp_lifetime"), "{err}");

        let err = ServerConfig::merge(ServeArgs::default(), FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("--snapshot-key"), "{err}");

        let short = ServeArgs {
            timestamp_lifetime: Some(Duration::from_secs(1)),
            ..keys()
        };
        assert!(ServerConfig::merge(short, FileConfig::default()).is_err());
    }

    #[test]
    fn plain_http_off_loopback_needs_the_explicit_flag() {
        let public = ServeArgs {
            listen: Some("0.0.0.0:8443".parse().unwrap()),
            ..keys()
        };
        let err = ServerConfig::merge(public.clone(), FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("--allow-plain-http"), "{err}");
        assert!(err.to_string().contains("--tls-cert"), "{err}");
        let allowed = ServeArgs {
            allow_plain_http: true,
            ..public.clone()
        };
        assert!(ServerConfig::merge(allowed, FileConfig::default()).is_ok());
        let file = FileConfig::parse(
            "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"",
            Path::new("server.toml"),
        )
        .unwrap();
        let config = ServerConfig::merge(public.clone(), file).unwrap();
        assert_eq!(config.tls.unwrap().cert, PathBuf::from("cert.pem"));
        let half = FileConfig::parse("tls_cert = \"cert.pem\"", Path::new("server.toml")).unwrap();
        let err = ServerConfig::merge(public, half).unwrap_err();
        assert!(err.to_string().contains("tls_key"), "{err}");
    }
}
