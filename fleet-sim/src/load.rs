//! The load generator: `connections` workers over one HTTP client (keep-alive
//! connections) send requests back to back for a fixed time, and the latencies of all
//! of them give requests/s and percentiles. Check-in mode posts a different device's
//! body on each request, signed at send time with that device's key and next sequence
//! (a signature cannot be reused: the server refuses replays); static mode GETs one URL, with the same generator,
//! so a comparison with a static file server (nginx) is fair.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::Client;
use tokio::time::Instant;
use update_core::api::{CheckIn, Slot, paths};
use update_core::hash::sha256_hex;

use update_client::identity::Identity;

use crate::seed::SeededDevice;

/// One device of a check-in load: its identity, its check-in body, and a lock held
/// from signing to answer, since a device sends one request at a time (two in flight
/// could arrive out of sequence order, and the later-signed one would be refused).
#[derive(Debug)]
pub struct LoadDevice {
    identity: Identity,
    body: Vec<u8>,
    in_flight: tokio::sync::Mutex<()>,
}

/// What each request is.
#[derive(Clone, Debug)]
pub enum Target {
    /// `POST /api/v1/device/checkin` for each device in turn, with pre-encoded bodies.
    CheckIns {
        url: String,
        requests: Arc<Vec<LoadDevice>>,
    },
    /// `GET url`.
    Static { url: String },
}

impl Target {
    /// Check-ins of `devices` on `server`, each running `version` on `hardware_id`.
    pub fn check_ins(
        server: &str,
        devices: &[SeededDevice],
        hardware_id: &str,
        version: &semver::Version,
    ) -> Result<Target, serde_json::Error> {
        let image_sha256 = sha256_hex(version.to_string().as_bytes());
        let requests = devices
            .iter()
            .map(|device| {
                let body = CheckIn {
                    device_id: device.device_id.clone(),
                    class: device.class.clone(),
                    hardware_id: hardware_id.to_string(),
                    firmware_version: version.clone(),
                    image_sha256: image_sha256.clone(),
                    boot_slot: Slot::A,
                    pending_update: None,
                    clock_untrusted: false,
                    config: None,
                };
                Ok(LoadDevice {
                    identity: Identity::new(&device.device_id, device.key()),
                    body: serde_json::to_vec(&body)?,
                    in_flight: tokio::sync::Mutex::new(()),
                })
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        Ok(Target::CheckIns {
            url: format!("{}{}", server.trim_end_matches('/'), paths::CHECKIN),
            requests: Arc::new(requests),
        })
    }
}

/// The result of a load run.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadResult {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latencies of successful requests, sorted, in microseconds.
    latencies_us: Vec<u64>,
}

impl LoadResult {
    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// The `p`-th percentile latency (0 < p <= 100), nearest rank.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies_us.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.latencies_us.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies_us.len()) - 1;
        Duration::from_micros(self.latencies_us[index])
    }

    pub fn max(&self) -> Duration {
        Duration::from_micros(self.latencies_us.last().copied().unwrap_or(0))
    }

    /// One line: requests/s and latency percentiles in milliseconds.
    pub fn line(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "requests={} errors={} elapsed={:.1}s rps={:.0} p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms",
            self.requests,
            self.errors,
            self.elapsed.as_secs_f64(),
            self.requests_per_sec(),
            ms(self.percentile(50.0)),
            ms(self.percentile(90.0)),
            ms(self.percentile(99.0)),
            ms(self.max()),
        )
    }
}

/// Sends requests from `connections` workers for `duration`.
pub async fn run(
    client: Client,
    target: Target,
    connections: usize,
    duration: Duration,
) -> LoadResult {
    let started = Instant::now();
    let deadline = started + duration;
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        let (client, target, next) = (client.clone(), target.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            worker(client, target, next, deadline).await
        }));
    }
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for worker in workers {
        match worker.await {
            Ok((latencies, failed)) => {
                latencies_us.extend(latencies);
                errors += failed;
            }
            Err(_) => errors += 1,
        }
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    LoadResult {
        requests: latencies_us.len() as u64,
        errors,
        elapsed,
        latencies_us,
    }
}

async fn worker(
    client: Client,
    target: Target,
    next: Arc<AtomicUsize>,
    deadline: Instant,
) -> (Vec<u64>, u64) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    while Instant::now() < deadline {
        let mut _in_flight = None;
        let request = match &target {
            Target::Static { url } => client.get(url),
            Target::CheckIns { url, requests } => {
                let index = next.fetch_add(1, Ordering::Relaxed) % requests.len().max(1);
                let Some(device) = requests.get(index) else {
                    return (latencies, errors + 1);
                };
                _in_flight = Some(device.in_flight.lock().await);
                let (identity, body) = (&device.identity, &device.body);
                crate::api::signed_post(&client, url, paths::CHECKIN, identity, body)
            }
        };
        let sent = Instant::now();
        let ok = match request.send().await {
            // Reading the whole body is part of the request's latency.
            Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
            Err(_) => false,
        };
        match ok {
            true => latencies.push(sent.elapsed().as_micros() as u64),
            false => errors += 1,
        }
    }
    (latencies, errors)
}
