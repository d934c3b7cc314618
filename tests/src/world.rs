//! One test's world: a real `update-server` on loopback with the example keys, a release
//! engineer's repository driven with the real `ota`, and helpers to read the server back.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;
use update_core::api::FleetStatus;
use update_core::schema::{SignedEnvelope, TargetFile, Targets};

use crate::process::{Finished, bin, run, workspace_root};

const COMMAND_DEADLINE: Duration = Duration::from_secs(60);

pub struct World {
    pub dir: TempDir,
    pub keys: PathBuf,
    pub repo: PathBuf,
    pub server_url: String,
    pub admin_token: String,
    /// The CA the server's HTTPS certificate chains to, when it serves HTTPS; `ota`
    /// commands and devices trust it.
    pub ca_file: Option<PathBuf>,
    server: Child,
    server_log: PathBuf,
}

impl World {
    /// Starts a server with default settings.
    pub fn start() -> World {
        Self::start_with(&[])
    }

    /// Starts a server with extra `serve` flags.
    pub fn start_with(extra_flags: &[&str]) -> World {
        let dir = tempfile::Builder::new()
            .prefix("ota-e2e-")
            .tempdir()
            .expect("temp dir");
        let keys = workspace_root().join("keys-example");
        let data = dir.path().join("server-data");
        let token = run_tool(
            Command::new(bin("update-server"))
                .args(["admin-token", "create", "--data-dir"])
                .arg(&data),
        );
        let admin_token = token
            .assert_ok("admin-token create")
            .stdout
            .trim()
            .to_string();
        assert!(
            !admin_token.is_empty(),
            "admin-token create printed no token"
        );

        let server_log = dir.path().join("server.log");
        let log = std::fs::File::create(&server_log).expect("server log");
        let mut server = Command::new(bin("update-server"))
            .arg("serve")
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", "127.0.0.1:0", "--poll-interval", "1s"])
            .arg("--root")
            .arg(keys.join("root.json"))
            .arg("--snapshot-key")
            .arg(keys.join("snapshot.pem"))
            .arg("--timestamp-key")
            .arg(keys.join("timestamp.pem"))
            .args(extra_flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start update-server");
        let server_url = read_listen_line(&mut server, &server_log);

        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("metadata")).expect("repo dir");
        std::fs::copy(keys.join("root.json"), repo.join("root.json")).expect("copy root");
        std::fs::copy(keys.join("root.json"), repo.join("metadata/1.root.json"))
            .expect("copy root");
        World {
            dir,
            keys,
            repo,
            server_url,
            admin_token,
            ca_file: None,
            server,
            server_log,
        }
    }

    /// Starts a server that serves HTTPS only, with the certificate and key of `pki`.
    pub fn start_https(pki: &crate::pki::TestPki) -> World {
        let mut world = Self::start_with(&[
            "--tls-cert",
            path_str(&pki.cert_pem),
            "--tls-key",
            path_str(&pki.key_pem),
        ]);
        world.ca_file = Some(pki.ca_pem.clone());
        world
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `ota` with the admin token in its environment.
    pub fn ota(&self, args: &[&str]) -> Finished {
        let mut command = Command::new(bin("ota"));
        command.args(args).env("OTA_ADMIN_TOKEN", &self.admin_token);
        if let Some(ca_file) = &self.ca_file {
            command.env("OTA_CA_FILE", ca_file);
        }
        run_tool(&mut command)
    }

    /// Runs an admin command of `ota` against this world's server (`--server` appended).
    pub fn ota_admin(&self, args: &[&str]) -> Finished {
        let mut all = args.to_vec();
        all.extend(["--server", &self.server_url]);
        self.ota(&all)
    }

    /// Signs version `version` of `class`'s configuration profile into the local
    /// repository with the example targets key: one file, `device_path`, whose approved
    /// contents are those of `approved` (`ota config add`).
    pub fn add_config_profile(
        &self,
        class: &str,
        version: u64,
        device_path: &str,
        approved: &Path,
    ) {
        let targets_key = self.keys.join("targets.pem");
        let file_arg = format!("{device_path}={}", path_str(approved));
        let version = version.to_string();
        self.ota(&[
            "config",
            "add",
            "--repo",
            path_str(&self.repo),
            "--key",
            path_str(&targets_key),
            "--class",
            class,
            "--version",
            &version,
            "--file",
            &file_arg,
        ])
        .assert_ok("ota config add");
    }

    /// Signs a release into the local repository with the example targets key (with the
    /// forms `ota release add` makes by default: zstd, deltas).
    pub fn release(&self, image: &Path, version: &str, class: &str, hardware: &[&str]) {
        self.release_with(image, version, class, hardware, &[]);
    }

    /// [`World::release`] with more `ota release add` flags (e.g. `--no-zstd`).
    pub fn release_with(
        &self,
        image: &Path,
        version: &str,
        class: &str,
        hardware: &[&str],
        flags: &[&str],
    ) {
        let targets_key = self.keys.join("targets.pem");
        let mut args = vec![
            "release",
            "add",
            path_str(image),
            "--repo",
            path_str(&self.repo),
            "--key",
            path_str(&targets_key),
            "--version",
            version,
            "--class",
            class,
        ];
        for h in hardware {
            args.extend(["--hardware", h]);
        }
        args.extend(flags);
        self.ota(&args).assert_ok("ota release add");
    }

    /// The repository's signed targets (what `ota release add` made), by name.
    pub fn targets(&self) -> std::collections::BTreeMap<String, TargetFile> {
        let bytes = std::fs::read(self.repo.join("targets.json")).expect("repo targets.json");
        let envelope =
            SignedEnvelope::from_slice(&bytes, "targets.json").expect("targets.json parses");
        let targets: Targets = envelope
            .parse_unverified()
            .expect("targets.json is targets");
        targets.targets
    }

    pub fn publish(&self) {
        self.ota(&[
            "publish",
            "--repo",
            path_str(&self.repo),
            "--server",
            &self.server_url,
        ])
        .assert_ok("ota publish");
    }

    /// Enrols a device with the public key it made (`ota device add`).
    pub fn enroll_key(&self, device_id: &str, class: &str, public_key: &str) {
        self.ota(&[
            "device",
            "add",
            device_id,
            "--class",
            class,
            "--public-key",
            public_key,
            "--server",
            &self.server_url,
        ])
        .assert_ok("ota device add");
    }

    /// Enrols a device that will never run, with a key nobody keeps: it counts in its
    /// class.
    pub fn enroll(&self, device_id: &str, class: &str) {
        let key = update_core::device_auth::DeviceKey::generate();
        self.enroll_key(device_id, class, &key.public_key_hex());
    }

    /// Pins a class's approved release through the admin API.
    pub fn pin(&self, class: &str, target_name: &str) {
        let response = reqwest::blocking::Client::new()
            .put(format!(
                "{}/api/v1/admin/classes/{class}/approved",
                self.server_url
            ))
            .bearer_auth(&self.admin_token)
            .json(&update_core::api::ApprovedRelease {
                target_name: target_name.to_string(),
            })
            .send()
            .expect("PUT approved release");
        assert!(
            response.status().is_success(),
            "pin refused: {}",
            response.status()
        );
    }

    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        reqwest::blocking::Client::new()
            .get(format!("{}{path}", self.server_url))
            .bearer_auth(&self.admin_token)
            .send()
            .expect("GET from server")
    }

    pub fn metrics(&self) -> String {
        self.get("/metrics").text().expect("metrics body")
    }

    /// The value of one sample line of `/metrics`, e.g. `ota_devices{class="cam",version="1.1.0"}`.
    pub fn metric(&self, series: &str) -> Option<f64> {
        metric_value(&self.metrics(), series)
    }

    pub fn status(&self) -> FleetStatus {
        self.get("/api/v1/admin/status")
            .json()
            .expect("status JSON")
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(&self.server_log).unwrap_or_default()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        if std::thread::panicking() {
            eprintln!("--- server log ---\n{}", self.server_log());
        }
    }
}

/// Finds `series` (name plus labels, as printed) in Prometheus text and parses its value.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
        None => (series, Vec::new()),
    };
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (head, value) = line.rsplit_once(' ')?;
            let (line_name, line_labels) = match head.split_once('{') {
                Some((n, rest)) => (n, parse_labels(rest.trim_end_matches('}'))),
                None => (head, Vec::new()),
            };
            let mut sorted_line = line_labels;
            sorted_line.sort();
            let mut sorted_want = labels.clone();
            sorted_want.sort();
            (line_name == name && sorted_line == sorted_want)
                .then(|| value.parse().ok())
                .flatten()
        })
}

fn parse_labels(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

fn read_listen_line(server: &mut Child, log: &Path) -> String {
    const PREFIX: &str = "update-server listening on ";
    let stdout = server.stdout.take().expect("server stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix(PREFIX) {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(url) => url,
        Err(_) => {
            let _ = server.kill();
            panic!(
                "update-server did not report its address:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        }
    }
}

fn run_tool(command: &mut Command) -> Finished {
    let mut owned = Command::new(command.get_program());
    owned.args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => owned.env(key, value),
            None => owned.env_remove(key),
        };
    }
    run(owned, COMMAND_DEADLINE)
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}
