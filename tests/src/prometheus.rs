//! A real Prometheus (Debian's `prometheus`) scraping a test server, and its HTTP API.
//!
//! The server is scraped every second and the shipped alert rules
//! (`ops/prometheus/alerts.yml`) are evaluated every second, so a test can check with
//! PromQL what an operator's Prometheus would report, and which alerts would fire.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::process::workspace_root;

/// How long Prometheus may take to start, and a query to give the expected answer.
const READY_DEADLINE: Duration = Duration::from_secs(30);

pub struct Prometheus {
    child: Child,
    pub url: String,
    log: PathBuf,
    http: reqwest::blocking::Client,
}

/// Whether Debian's prometheus is installed (`.ci/run` installs it).
pub fn installed() -> bool {
    Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The alert rules operators are given.
pub fn alert_rules() -> PathBuf {
    workspace_root().join("ops/prometheus/alerts.yml")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

impl Prometheus {
    /// Starts Prometheus in `dir`, scraping `target` (`host:port`) every second.
    pub fn start(dir: &Path, target: &str) -> Prometheus {
        std::fs::create_dir_all(dir).expect("prometheus dir");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {rules}\n\
                 scrape_configs:\n  - job_name: ota\n    static_configs:\n      - targets: ['{target}']\n",
                rules = alert_rules().display()
            ),
        )
        .expect("write prometheus.yml");
        let port = free_port();
        let log = dir.join("prometheus.log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("prometheus log"))
            .spawn()
            .expect("start prometheus");
        let prometheus = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            http: reqwest::blocking::Client::new(),
        };
        prometheus.wait_ready();
        prometheus
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + READY_DEADLINE;
        while Instant::now() < deadline {
            let ready = self
                .http
                .get(format!("{}/-/ready", self.url))
                .send()
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("prometheus did not become ready:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn api(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .query(query)
            .send()
            .expect("prometheus API");
        let body: Value = response.json().expect("prometheus JSON");
        assert_eq!(body["status"], "success", "{path} {query:?}: {body}");
        body["data"].clone()
    }

    /// The instant vector of `promql` as (labels, value) pairs.
    pub fn query(&self, promql: &str) -> Vec<(serde_json::Map<String, Value>, f64)> {
        let data = self.api("/api/v1/query", &[("query", promql)]);
        data["result"]
            .as_array()
            .map(|series| {
                series
                    .iter()
                    .filter_map(|s| {
                        let labels = s["metric"].as_object()?.clone();
                        let value = s["value"][1].as_str()?.parse().ok()?;
                        Some((labels, value))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The single value of `promql`, once it is what `expected` accepts; panics with the
    /// last answer after `within`.
    pub fn wait_for(&self, promql: &str, within: Duration, expected: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + within;
        let mut last = Vec::new();
        while Instant::now() < deadline {
            last = self.query(promql);
            if let [(_, value)] = last.as_slice() {
                if expected(*value) {
                    return *value;
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("{promql} never gave the expected value; last answer: {last:?}");
    }

    /// Names of the alerts firing now.
    pub fn firing_alerts(&self) -> Vec<String> {
        let data = self.api("/api/v1/alerts", &[]);
        let mut names: Vec<String> = data["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["state"] == "firing")
            .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
