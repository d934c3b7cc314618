//! Runs a simulated fleet: one tokio task per device, at most `concurrency` of them
//! talking to the server at once, a progress line every few seconds, and the final
//! tallies.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::{JoinSet, LocalSet};
use tokio::time::Instant;

use crate::device::{self, FleetConfig};
use crate::stats::{Counters, FleetStats, Phase};

/// A fleet config listed no API client to reach the server with.
#[derive(Debug, thiserror::Error)]
#[error("no HTTP client to reach the server with")]
pub struct NoServerApi;

/// The result of a simulation.
#[derive(Debug)]
pub struct FleetRun {
    pub stats: Arc<FleetStats>,
    pub elapsed: Duration,
    pub devices: usize,
}

impl FleetRun {
    /// Every device ended its run cleanly (idle with `--until-idle`; no device gave up)
    /// and no request failed.
    pub fn all_clean(&self, until_idle: bool) -> bool {
        let (phases, _) = self.stats.tallies();
        let count = |phase| phases.get(&phase).copied().unwrap_or(0);
        let finished = match until_idle {
            true => count(Phase::Idle) == self.devices as u64,
            false => count(Phase::Errored) == 0,
        };
        finished && Counters::get(&self.stats.counters.errors) == 0
    }
}

/// Simulates `devices` devices; prints progress every `progress_every` (if any).
pub async fn run(
    config: FleetConfig,
    devices: usize,
    concurrency: usize,
    progress_every: Option<Duration>,
) -> Result<FleetRun, NoServerApi> {
    if config.apis.is_empty() {
        return Err(NoServerApi);
    }
    let started = Instant::now();
    let config = Arc::new(config);
    let stats = Arc::new(FleetStats::new(devices, &config.from_version.to_string()));
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let progress = progress_every.map(|every| {
        let stats = stats.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                println!("{}", stats.progress_line(started.elapsed().as_secs_f64()));
            }
        })
    });
    // The device's download future (update_client's resumable sink) is not `Send`:
    // devices run on one thread, which also leaves the other cores to the server.
    let devices_done = LocalSet::new();
    devices_done
        .run_until(async {
            let mut tasks = JoinSet::new();
            for index in 0..devices {
                tasks.spawn_local(device::run(
                    config.clone(),
                    index,
                    stats.clone(),
                    gate.clone(),
                ));
            }
            while let Some(joined) = tasks.join_next().await {
                if let Err(e) = joined {
                    eprintln!("a device task ended abnormally: {e}");
                    Counters::add(&stats.counters.errors, 1);
                }
            }
        })
        .await;
    if let Some(progress) = progress {
        progress.abort();
    }
    Ok(FleetRun {
        stats,
        elapsed: started.elapsed(),
        devices,
    })
}
