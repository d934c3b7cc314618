//! What the simulated fleet did: each device's current phase and version, and counters
//! of requests and outcomes, shared by every device task; the progress line printed
//! every few seconds and the summary table at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a simulated device is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Starting,
    Polling,
    Updating,
    /// A check-in left nothing to do (the end of the device's run with `--until-idle`).
    Idle,
    /// The device gave up after repeated errors.
    Errored,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Polling => "polling",
            Phase::Updating => "updating",
            Phase::Idle => "idle",
            Phase::Errored => "errored",
        }
    }
}

#[derive(Clone, Debug)]
struct DeviceView {
    phase: Phase,
    version: String,
}

/// Counters of everything the devices did. The outcome counters count reports the
/// server accepted, so they must equal the server's own outcome counts.
#[derive(Debug, Default)]
pub struct Counters {
    pub enrolled: AtomicU64,
    pub check_ins: AtomicU64,
    pub reports: AtomicU64,
    pub updates_started: AtomicU64,
    pub successes: AtomicU64,
    pub failures: AtomicU64,
    pub rollbacks: AtomicU64,
    pub bytes_downloaded: AtomicU64,
    pub errors: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The fleet's shared record.
#[derive(Debug)]
pub struct FleetStats {
    devices: Mutex<Vec<DeviceView>>,
    pub counters: Counters,
}

impl FleetStats {
    pub fn new(devices: usize, from_version: &str) -> FleetStats {
        let view = DeviceView {
            phase: Phase::Starting,
            version: from_version.to_string(),
        };
        FleetStats {
            devices: Mutex::new(vec![view; devices]),
            counters: Counters::default(),
        }
    }

    pub fn set_phase(&self, index: usize, phase: Phase) {
        self.with_device(index, |view| view.phase = phase);
    }

    pub fn set_version(&self, index: usize, version: &str) {
        self.with_device(index, |view| view.version = version.to_string());
    }

    fn with_device(&self, index: usize, change: impl FnOnce(&mut DeviceView)) {
        // A poisoned lock only means another task panicked mid-update of a plain value.
        let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(view) = devices.get_mut(index) {
            change(view);
        }
    }

    /// Devices per phase and per version.
    pub fn tallies(&self) -> (BTreeMap<Phase, u64>, BTreeMap<String, u64>) {
        let devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        let mut phases = BTreeMap::new();
        let mut versions = BTreeMap::new();
        for view in devices.iter() {
            *phases.entry(view.phase).or_insert(0) += 1;
            *versions.entry(view.version.clone()).or_insert(0) += 1;
        }
        (phases, versions)
    }

    /// One progress line.
    pub fn progress_line(&self, elapsed_secs: f64) -> String {
        let (phases, versions) = self.tallies();
        let c = &self.counters;
        let mut line = format!("[{elapsed_secs:7.1}s]");
        for (phase, count) in &phases {
            let _ = write!(line, " {}={count}", phase.as_str());
        }
        line.push_str(" |");
        for (version, count) in &versions {
            let _ = write!(line, " v{version}={count}");
        }
        let _ = write!(
            line,
            " | success={} failure={} rolled-back={} errors={} check-ins={}",
            Counters::get(&c.successes),
            Counters::get(&c.failures),
            Counters::get(&c.rollbacks),
            Counters::get(&c.errors),
            Counters::get(&c.check_ins),
        );
        line
    }

    /// The summary table (Markdown).
    pub fn summary(&self, elapsed_secs: f64) -> String {
        let (phases, versions) = self.tallies();
        let c = &self.counters;
        let mut out = String::from("| what | count |\n| --- | --- |\n");
        let mut row = |what: String, count: u64| {
            let _ = writeln!(out, "| {what} | {count} |");
        };
        for (phase, count) in phases {
            row(format!("devices {}", phase.as_str()), count);
        }
        for (version, count) in versions {
            row(format!("devices on {version}"), count);
        }
        row("enrolled over HTTP".into(), Counters::get(&c.enrolled));
        row("check-ins".into(), Counters::get(&c.check_ins));
        row("reports".into(), Counters::get(&c.reports));
        row("updates started".into(), Counters::get(&c.updates_started));
        row("success".into(), Counters::get(&c.successes));
        row("failure".into(), Counters::get(&c.failures));
        row("rolled-back".into(), Counters::get(&c.rollbacks));
        row(
            "bytes downloaded".into(),
            Counters::get(&c.bytes_downloaded),
        );
        row("errors".into(), Counters::get(&c.errors));
        let _ = writeln!(out, "\nelapsed {elapsed_secs:.1} s");
        out
    }
}
