//! The device agent's run loop (`update-client run`).
//!
//! On start it finishes whatever the install journal says is in progress
//! ([`recovery`]); then it polls: deliver queued reports, check in, and if the server
//! assigns a release this device is not running and has not failed, update
//! ([`update`]) by the best form of it ([`payload`]). After it arms the bootloader it
//! runs the reboot command and stops.

mod config_state;
mod enrol;
mod payload;
mod recovery;
mod reporter;
mod steps;
mod update;

use std::time::Duration;

use reqwest::Url;
use tracing::{error, info, warn};
use update_core::api::{CheckIn, CheckInResponse, Report, Slot, UpdateEvent, paths};

pub use reporter::Reporter;

use crate::bootloader::{self, Bootloader};
use crate::config::Config;
use crate::crash::{self, Point};
use crate::error::{Error, Result};
use crate::fetch::{HttpClient, join_url};
use crate::identity::Identity;
use crate::slots::Slots;
use crate::state::{Journal, Phase, SlotContent, SlotRecords, StateDir};
use crate::tuf::{Limits, TimeFloor, Updater};

/// Bounds on the poll interval a server may ask for.
const MIN_POLL: Duration = Duration::from_secs(1);
const MAX_POLL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How `run` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunExit {
    /// `--until-idle`: a check-in left nothing to do.
    Idle,
    /// The bootloader was switched and the reboot command ran.
    Rebooting,
    /// `--until-idle`: an update attempt failed (and was reported).
    UpdateFailed,
}

/// What one poll achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Poll {
    Idle,
    Rebooting,
    UpdateFailed,
}

pub struct Agent {
    config: Config,
    http: HttpClient,
    checkin_url: Url,
    identity: Identity,
    updater: Updater,
    reporter: Reporter,
    state: StateDir,
    slots: Slots,
    bootloader: Box<dyn Bootloader>,
}

/// The TUF updater for the repository the config names (`/metadata` and `/targets`
/// under `repository_url`).
pub fn updater_for(http: &HttpClient, config: &Config) -> Result<Updater> {
    let base = config.server.repository_url();
    let cap = config.trust.max_metadata_size;
    let defaults = Limits::default();
    let limits = Limits {
        root: cap,
        timestamp: defaults.timestamp.min(cap),
        snapshot: cap,
        targets: cap,
        ..defaults
    };
    Ok(Updater::new(
        http.clone(),
        join_url(base, paths::METADATA)?,
        join_url(base, paths::TARGETS)?,
        &config.trust.metadata_dir,
        Some(config.trust.root.clone()),
        limits,
    ))
}

/// Who the update is for and from where: the fields every report repeats.
#[derive(Debug, Clone)]
struct ReportHeader {
    target_name: String,
    version: semver::Version,
    from_version: semver::Version,
}

impl Agent {
    pub fn new(config: Config) -> Result<Self> {
        let http = HttpClient::new(config.server.timeout, &config.server.trust())?;
        let identity = Identity::load_or_create(&config)?;
        let state = StateDir::open(&config.state.dir)?;
        let checkin_url = join_url(&config.server.url, paths::CHECKIN)?;
        let report_url = join_url(&config.server.url, paths::REPORT)?;
        Ok(Agent {
            updater: updater_for(&http, &config)?,
            reporter: Reporter::new(http.clone(), report_url, identity.clone(), state.clone()),
            slots: Slots::new(&config.slots.a, &config.slots.b),
            bootloader: bootloader::from_config(&config.bootloader)?,
            config,
            http,
            checkin_url,
            identity,
            state,
        })
    }

    /// Finishes any update in progress, then polls until told to stop: with
    /// `until_idle`, after the first poll with nothing to do or a failed attempt.
    pub async fn run(&mut self, until_idle: bool) -> Result<RunExit> {
        self.ensure_slot_records()?;
        if self.recover().await? == recovery::AfterRecovery::Rebooting {
            return Ok(RunExit::Rebooting);
        }
        let mut poll_interval = self.config.server.poll_interval;
        loop {
            match self.poll(&mut poll_interval).await {
                Ok(Poll::Rebooting) => return Ok(RunExit::Rebooting),
                Ok(Poll::Idle) if until_idle => return Ok(RunExit::Idle),
                Ok(Poll::UpdateFailed) if until_idle => return Ok(RunExit::UpdateFailed),
                Ok(_) => {}
                Err(e) if until_idle => return Err(e),
                Err(e) if e.is_transient() => warn!("poll failed, retrying later: {e}"),
                Err(e) => error!("poll failed: {e}"),
            }
            info!(
                "next check-in in {}",
                humantime::format_duration(poll_interval)
            );
            tokio::time::sleep(poll_interval).await;
        }
    }

    async fn poll(&mut self, poll_interval: &mut Duration) -> Result<Poll> {
        self.enrol_if_needed().await?;
        self.reporter.flush().await?;
        let response = self.check_in().await?;
        *poll_interval = Duration::from_secs(response.poll_interval_secs).clamp(MIN_POLL, MAX_POLL);
        let assigned = response.assignment.as_ref().map(|a| a.target_name.clone());
        let outcome = match response.assignment {
            None => {
                info!("no release assigned");
                Poll::Idle
            }
            Some(assignment) => {
                let running = self.running()?;
                let same_target =
                    running.target_name.as_deref() == Some(assignment.target_name.as_str());
                if same_target || running.version == assignment.version {
                    info!(version = %running.version, "already running the assigned release");
                    Poll::Idle
                } else {
                    self.update(&assignment, &running).await?
                }
            }
        };
        if outcome != Poll::Rebooting {
            self.abandon_interrupted_install(assigned.as_deref())
                .await?;
        }
        Ok(outcome)
    }

    /// An install interrupted in an earlier run resumes only while the server assigns
    /// its release; once a check-in did not lead back to it, it ends as a failure.
    async fn abandon_interrupted_install(&mut self, assigned: Option<&str>) -> Result<()> {
        let Some(mut journal) = self.state.journal()? else {
            return Ok(());
        };
        match journal.phase {
            Phase::Installing => {
                info!(target = %journal.target_name, "the interrupted install is no longer assigned");
                self.fail(&mut journal, "interrupted, and no longer assigned".into())
                    .await
            }
            Phase::Staged if assigned != Some(journal.target_name.as_str()) => {
                self.drop_withdrawn_staged(&mut journal).await
            }
            _ => Ok(()),
        }
    }

    /// Ends a staged update the server no longer assigns (its rollout was aborted or
    /// superseded). Not reported: the release did not fail on this device, and the
    /// device's next update reports over it. The verified image stays recorded in its
    /// slot.
    async fn drop_withdrawn_staged(&mut self, journal: &mut Journal) -> Result<()> {
        info!(target = %journal.target_name, "the staged update is no longer assigned");
        journal.reason = Some("staged, then no longer assigned".into());
        self.advance(journal, Phase::Failed, None).await
    }

    async fn check_in(&self) -> Result<CheckInResponse> {
        let booted = self.bootloader.booted_slot()?;
        let running = self.running()?;
        let body = CheckIn {
            device_id: self.config.device.id.clone(),
            class: self.config.device.class.clone(),
            hardware_id: self.config.device.hardware_id.clone(),
            firmware_version: running.version,
            image_sha256: running.sha256,
            boot_slot: booted,
            pending_update: self.state.journal()?.and_then(|j| j.pending_update()),
            clock_untrusted: TimeFloor::new(&self.config.trust.metadata_dir)
                .reference_time(chrono::Utc::now())
                .clock_untrusted,
            config: self.measure_config().await,
        };
        let answer = self
            .http
            .post_signed(&self.checkin_url, &self.identity, &body)
            .await?;
        serde_json::from_slice(&answer).map_err(|e| Error::BadResponse {
            url: self.checkin_url.to_string(),
            reason: e.to_string(),
        })
    }

    /// What the booted slot holds.
    fn running(&self) -> Result<SlotContent> {
        let booted = self.bootloader.booted_slot()?;
        let records = self.state.slots()?.unwrap_or_default();
        records
            .get(booted)
            .cloned()
            .ok_or_else(|| Error::CorruptState {
                path: self.config.state.dir.join(crate::state::SLOTS_FILE),
                reason: format!("no record of what the booted slot {booted} holds"),
            })
    }

    /// On the very first start, records the factory image as the booted slot's content.
    fn ensure_slot_records(&self) -> Result<()> {
        if self.state.slots()?.is_some() {
            return Ok(());
        }
        let booted = self.bootloader.booted_slot()?;
        let (length, sha256) = self
            .slots
            .hash(booted, self.config.firmware.factory_image_length)?;
        if let Some(expected) = self.config.firmware.factory_image_length {
            if length != expected {
                return Err(Error::Slot {
                    slot: booted.to_string(),
                    reason: format!("factory image should be {expected} bytes, slot has {length}"),
                });
            }
        }
        info!(slot = %booted, %sha256, "recorded the factory image");
        let mut records = SlotRecords::default();
        records.set(
            booted,
            Some(SlotContent {
                version: self.config.firmware.version.clone(),
                target_name: None,
                length,
                sha256,
            }),
        );
        self.state.save_slots(&records)?;
        crash::point(Point::AfterFactoryRecord);
        Ok(())
    }

    fn set_slot_record(&self, slot: Slot, content: Option<SlotContent>) -> Result<()> {
        let mut records = self.state.slots()?.unwrap_or_default();
        records.set(slot, content);
        self.state.save_slots(&records)
    }

    async fn report(
        &self,
        header: &ReportHeader,
        event: UpdateEvent,
        reason: Option<String>,
        bytes_downloaded: u64,
    ) -> Result<()> {
        self.reporter
            .send(Report {
                device_id: self.config.device.id.clone(),
                target_name: header.target_name.clone(),
                version: header.version.clone(),
                from_version: header.from_version.clone(),
                event,
                reason,
                bytes_downloaded,
                payload: None,
            })
            .await
    }
}
