//! One simulated device: obtains its key (a saved key file, or a new key enrolled over the
//! admin API), then checks in, updates when assigned a release it does not run and has
//! not failed, and reports every step, like `update-client run` on a real device. The
//! outcome of each update is injected ([`crate::fate`]); everything on the wire is real.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use update_client::fetch::HttpClient;
use update_core::api::{Assignment, CheckIn, Payload, Report, Slot, UpdateEvent};
use update_core::hash::sha256_hex;

use crate::api::{ApiError, ServerApi};
use crate::config_drift::SimulatedConfig;
use crate::fate::{Fate, FateRates};
use crate::identity;
use crate::stats::{Counters, FleetStats, Phase};
use crate::update::{self, DeviceRepository, Repository, UpdateError};

/// Consecutive failed polls after which a device gives up.
const MAX_CONSECUTIVE_ERRORS: u32 = 5;
/// Longest wait before trying again after an error.
const ERROR_BACKOFF: Duration = Duration::from_secs(5);

/// What every device of a simulation shares.
#[derive(Debug)]
pub struct FleetConfig {
    pub id_prefix: String,
    pub class: String,
    pub hardware_id: String,
    pub from_version: semver::Version,
    /// One API client per source address; device `i` uses `apis[i % len]`.
    pub apis: Vec<ServerApi>,
    pub repository: Repository,
    pub admin_token: String,
    pub enroll: bool,
    /// `ID.key` files (device private keys): reused when present, else made there.
    pub tokens_dir: Option<PathBuf>,
    /// Holds each device's TUF metadata directory.
    pub work_dir: PathBuf,
    pub rates: FateRates,
    /// The configuration devices report at check-in; `None`: no configuration reported.
    pub config: Option<SimulatedConfig>,
    /// Overrides the server's poll interval.
    pub poll_interval: Option<Duration>,
    /// Stop each device at its first check-in that leaves nothing to do.
    pub until_idle: bool,
    pub deadline: Option<Instant>,
}

impl FleetConfig {
    pub fn device_id(&self, index: usize) -> String {
        format!("{}{index:06}", self.id_prefix)
    }

    /// The API client of device `index` (round robin over the source addresses).
    /// `fleet::run` refuses a config without any.
    pub fn api_for(&self, index: usize) -> &ServerApi {
        &self.apis[index % self.apis.len().max(1)]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("update interrupted: {0}")]
    Interrupted(update_client::Error),
    #[error("key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("no key for {0}: pass --enroll or a --tokens-dir holding ID.key")]
    NoKey(String),
}

/// What one poll did.
enum Cycle {
    /// Nothing to do.
    Idle,
    /// An update ended (any outcome): check in again at once, as after a reboot.
    Updated,
}

/// A simulated device's state (what a real device keeps in its journal and slots).
struct SimDevice {
    index: usize,
    id: String,
    identity: update_client::identity::Identity,
    version: semver::Version,
    image_sha256: String,
    slot: Slot,
    failed: BTreeSet<String>,
    poll: Duration,
}

/// Runs device `index` until it is idle (with `until_idle`), the deadline passes, or it
/// gives up after repeated errors.
pub async fn run(
    config: Arc<FleetConfig>,
    index: usize,
    stats: Arc<FleetStats>,
    gate: Arc<Semaphore>,
) {
    let id = config.device_id(index);
    let identity = {
        let Ok(_permit) = gate.acquire().await else {
            return;
        };
        match identity::obtain_identity(&config, index, &id, &stats).await {
            Ok(identity) => identity,
            Err(e) => {
                eprintln!("{id}: {e}");
                Counters::add(&stats.counters.errors, 1);
                stats.set_phase(index, Phase::Errored);
                return;
            }
        }
    };
    let mut device = SimDevice {
        index,
        identity,
        image_sha256: sha256_hex(
            format!("factory {} {}", config.class, config.from_version).as_bytes(),
        ),
        version: config.from_version.clone(),
        slot: Slot::A,
        failed: BTreeSet::new(),
        poll: config.poll_interval.unwrap_or(Duration::from_secs(300)),
        id,
    };
    stats.set_phase(index, Phase::Polling);
    let mut consecutive_errors = 0;
    loop {
        if config
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return;
        }
        let cycle = {
            let Ok(_permit) = gate.acquire().await else {
                return;
            };
            device.poll_once(&config, &stats).await
        };
        match cycle {
            Ok(Cycle::Updated) => {
                consecutive_errors = 0;
                continue;
            }
            Ok(Cycle::Idle) => {
                consecutive_errors = 0;
                if config.until_idle {
                    stats.set_phase(index, Phase::Idle);
                    return;
                }
                stats.set_phase(index, Phase::Polling);
            }
            Err(e) => {
                Counters::add(&stats.counters.errors, 1);
                consecutive_errors += 1;
                if consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
                    eprintln!(
                        "{}: giving up after {consecutive_errors} errors: {e}",
                        device.id
                    );
                    stats.set_phase(index, Phase::Errored);
                    return;
                }
            }
        }
        // After an error, try again sooner than a whole poll interval.
        let wait = match consecutive_errors {
            0 => device.poll,
            _ => device.poll.min(ERROR_BACKOFF),
        };
        sleep_until_next_poll(wait, config.deadline).await;
    }
}

async fn sleep_until_next_poll(poll: Duration, deadline: Option<Instant>) {
    // Jitter spreads a fleet's polls out, as it does for real devices.
    let jittered = poll.mul_f64(rand::thread_rng().gen_range(0.5..1.5));
    let wake = Instant::now() + jittered;
    let wake = deadline.map_or(wake, |deadline| wake.min(deadline));
    tokio::time::sleep_until(wake).await;
}

impl SimDevice {
    fn api<'a>(&self, config: &'a FleetConfig) -> &'a ServerApi {
        config.api_for(self.index)
    }

    /// What the device says about itself, with its configuration digests.
    fn check_in_body(&self, config: &FleetConfig) -> CheckIn {
        CheckIn {
            device_id: self.id.clone(),
            class: config.class.clone(),
            hardware_id: config.hardware_id.clone(),
            firmware_version: self.version.clone(),
            image_sha256: self.image_sha256.clone(),
            boot_slot: self.slot,
            pending_update: None,
            clock_untrusted: false,
            config: config.config.as_ref().map(|c| c.state(&self.id)),
        }
    }

    async fn poll_once(
        &mut self,
        config: &FleetConfig,
        stats: &FleetStats,
    ) -> Result<Cycle, DeviceError> {
        let body = self.check_in_body(config);
        let response = self.api(config).check_in(&self.identity, &body).await?;
        Counters::add(&stats.counters.check_ins, 1);
        if config.poll_interval.is_none() {
            self.poll = Duration::from_secs(response.poll_interval_secs.max(1));
        }
        let Some(assignment) = response.assignment else {
            return Ok(Cycle::Idle);
        };
        let already_failed = self.failed.contains(&assignment.target_name) && !assignment.retry;
        // A held release waits here without downloading: unlike the real agent, a
        // simulated device has no slot to stage it in.
        if assignment.version == self.version || already_failed || assignment.hold.is_some() {
            return Ok(Cycle::Idle);
        }
        stats.set_phase(self.index, Phase::Updating);
        self.update(config, stats, &assignment).await?;
        stats.set_phase(self.index, Phase::Polling);
        Ok(Cycle::Updated)
    }

    async fn update(
        &mut self,
        config: &FleetConfig,
        stats: &FleetStats,
        assignment: &Assignment,
    ) -> Result<(), DeviceError> {
        let api = self.api(config);
        let http = HttpClient::from_client(api.client().clone());
        let metadata_dir = config.work_dir.join("devices").join(&self.id);
        let repository = DeviceRepository::new(http, &config.repository, &metadata_dir);
        let running = self.version.clone();
        let device = update::device(&config.class, &config.hardware_id, &running);
        let verified = match repository.verify(&device, assignment).await {
            Ok(verified) => verified,
            Err(UpdateError::Interrupted(e)) => return Err(DeviceError::Interrupted(e)),
            Err(UpdateError::Refused(reason)) => {
                let report = self.report(assignment, UpdateEvent::Failure, Some(reason), 0, None);
                return self.finish(config, stats, &report).await;
            }
        };
        let payload = Some(verified.payload.clone());
        let downloading = self.report(
            assignment,
            UpdateEvent::Downloading,
            None,
            0,
            payload.clone(),
        );
        self.send(config, stats, &downloading).await?;
        Counters::add(&stats.counters.updates_started, 1);
        let (bytes, payload) = match repository.download(&verified).await {
            Ok(downloaded) => (downloaded.bytes, Some(downloaded.payload)),
            Err(UpdateError::Interrupted(e)) => return Err(DeviceError::Interrupted(e)),
            Err(UpdateError::Refused(reason)) => {
                let report =
                    self.report(assignment, UpdateEvent::Failure, Some(reason), 0, payload);
                return self.finish(config, stats, &report).await;
            }
        };
        Counters::add(&stats.counters.bytes_downloaded, bytes);
        let fate = config.rates.fate(&self.id, &assignment.target_name);
        if fate == Fate::Failure {
            let reason = Some("injected failure: writing the inactive slot failed".to_string());
            let report = self.report(assignment, UpdateEvent::Failure, reason, bytes, payload);
            return self.finish(config, stats, &report).await;
        }
        let installed = self.report(
            assignment,
            UpdateEvent::Installed,
            None,
            bytes,
            payload.clone(),
        );
        self.send(config, stats, &installed).await?;
        let terminal = match fate {
            Fate::RollBack => self.report(
                assignment,
                UpdateEvent::RolledBack,
                Some("injected failure: the new slot failed its health check".into()),
                bytes,
                payload,
            ),
            Fate::Success | Fate::Failure => {
                self.report(assignment, UpdateEvent::Success, None, bytes, payload)
            }
        };
        self.finish(config, stats, &terminal).await?;
        if fate == Fate::Success {
            self.version = verified.firmware.version.clone();
            self.image_sha256 = verified.firmware.image.sha256.clone();
            self.slot = self.slot.other();
            stats.set_version(self.index, &self.version.to_string());
        }
        Ok(())
    }

    fn report(
        &self,
        assignment: &Assignment,
        event: UpdateEvent,
        reason: Option<String>,
        bytes_downloaded: u64,
        payload: Option<Payload>,
    ) -> Report {
        Report {
            device_id: self.id.clone(),
            target_name: assignment.target_name.clone(),
            version: assignment.version.clone(),
            from_version: self.version.clone(),
            event,
            reason,
            bytes_downloaded,
            payload,
        }
    }

    async fn send(
        &self,
        config: &FleetConfig,
        stats: &FleetStats,
        report: &Report,
    ) -> Result<(), DeviceError> {
        self.api(config).report(&self.identity, report).await?;
        Counters::add(&stats.counters.reports, 1);
        Ok(())
    }

    /// Sends a terminal report and counts its outcome once the server accepted it; a
    /// release that did not succeed is remembered, never retried on its own.
    async fn finish(
        &mut self,
        config: &FleetConfig,
        stats: &FleetStats,
        report: &Report,
    ) -> Result<(), DeviceError> {
        if report.event != UpdateEvent::Success {
            self.failed.insert(report.target_name.clone());
        }
        self.send(config, stats, report).await?;
        let counter = match report.event {
            UpdateEvent::Success => &stats.counters.successes,
            UpdateEvent::RolledBack => &stats.counters.rollbacks,
            _ => &stats.counters.failures,
        };
        Counters::add(counter, 1);
        Ok(())
    }
}
