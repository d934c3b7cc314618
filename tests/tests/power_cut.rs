//! Power cuts at every crash point the agent lists (`update-client crash-points`): for a
//! healthy device updating by delta (the update commits), a device updating by the
//! compressed image whose health check fails (it rolls back), a device fed tampered
//! forms of the release (the delta, then the compressed image, then the raw image are
//! refused) and a healthy device configured for the raw image only, each point is hit
//! once with `OTA_CRASH_AT` (SIGKILL, no clean-up). Right after the cut the device must be
//! bootable: the running slot untouched, the slot records true, the bootloader on a
//! committed slot or on a bounded trial of a verified one. Powered on again it must end
//! where an uninterrupted update ends, by the form its scenario takes. The table of
//! outcomes is printed and written to `$CARGO_TARGET_TMPDIR/power_cut_table.md`.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tests::images::{firmware_image, sha256_file, successor};
use tests::peers::{RepositoryCopy, copy_repository, mirror};
use tests::power::{self, Update};
use tests::process::{Finished, bin, run};
use tests::proxy::Proxy;
use tests::{Device, DeviceSpec, World};
use update_core::api::{PayloadKind, UpdateEvent};
use update_core::firmware::{delta_target_name, zstd_target_name};
use update_core::hash::sha256_hex;

/// Over one zstd frame (4 MiB of image), so the compressed form has a checkpoint too.
const IMAGE_SIZE: usize = 5 << 20;
const CLASS: &str = "cam";
const HARDWARE: &str = "board-a";
const NEW_TARGET: &str = "cam-1.1.0.img";
/// Simulated devices run at once (each is a chain of processes, mostly waiting).
const WORKERS: usize = 4;
/// A trial survives one power cut: the cut boot uses one try, the next one decides.
const BOOT_LIMIT: u32 = 2;
/// Later occurrences worth a cut of their own (counted over the device's boots): the
/// reports of later steps, and checkpoints in the middle of the download.
const LATER_OCCURRENCES: [&str; 12] = [
    "after-report-queued:2",
    "after-report-queued:3",
    "after-report-queued:4",
    "after-report-delivered:2",
    "after-report-delivered:3",
    "after-report-delivered:4",
    "slot-chunk-written:3",
    "after-slot-checkpoint-sync:3",
    "after-journal-progress:3",
    "zstd-chunk-written:3",
    "delta-apply-chunk-written:3",
    "after-journal-fallback:2",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    /// By delta, healthy.
    Healthy,
    /// By the compressed image (deltas off), the health check fails.
    Failing,
    /// Every form tampered on the mirror: each is refused in turn.
    Refused,
    /// By the raw image (deltas and compression off), healthy.
    Raw,
}

impl Scenario {
    const ALL: [Scenario; 4] = [
        Scenario::Healthy,
        Scenario::Failing,
        Scenario::Refused,
        Scenario::Raw,
    ];

    fn name(self) -> &'static str {
        match self {
            Scenario::Healthy => "healthy, delta",
            Scenario::Failing => "health check fails, zstd",
            Scenario::Refused => "tampered forms",
            Scenario::Raw => "healthy, raw only",
        }
    }

    /// The `[payload]` lines of its devices.
    fn payload(self) -> Option<&'static str> {
        match self {
            Scenario::Healthy | Scenario::Refused => None,
            Scenario::Failing => Some("delta = false"),
            Scenario::Raw => Some("delta = false\nzstd = false"),
        }
    }

    /// The form its update ends with (and the last report names).
    fn payload_kind(self) -> PayloadKind {
        match self {
            Scenario::Healthy => PayloadKind::Delta,
            Scenario::Failing => PayloadKind::Zstd,
            Scenario::Refused | Scenario::Raw => PayloadKind::Raw,
        }
    }
}

struct Fleet {
    world: World,
    proxy: Proxy,
    tampered: tests::peers::Peer,
    old_sha256: String,
    new_sha256: String,
    next_id: AtomicUsize,
}

struct Row {
    crash: String,
    scenario: Scenario,
    reached: bool,
    after_cut: Result<String, String>,
    converged: Result<String, String>,
}

#[test]
fn every_crash_point_leaves_a_bootable_device_that_converges() {
    let fleet = fleet();
    let points = crash_points();
    assert!(points.len() >= 30, "crash points: {points:?}");
    let mut cases: Vec<(String, Scenario)> = Vec::new();
    for scenario in Scenario::ALL {
        for crash in points.iter().map(String::as_str).chain(LATER_OCCURRENCES) {
            cases.push((crash.to_string(), scenario));
        }
    }
    let rows = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                while let Some((crash, scenario)) = cases.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let row = cut_power(&fleet, crash, *scenario);
                    rows.lock().expect("rows").push(row);
                }
            });
        }
    });
    let mut rows = rows.into_inner().expect("rows");
    let order = |row: &Row| {
        let point = row.crash.split(':').next().unwrap_or_default();
        let index = points.iter().position(|p| p == point).unwrap_or(usize::MAX);
        (index, row.crash.clone(), row.scenario as u8)
    };
    rows.sort_by_key(order);
    let table = table(&rows);
    println!("{table}");
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("power_cut_table.md");
    std::fs::write(&file, &table).expect("write the table");
    println!("(also in {})", file.display());

    let failures: Vec<&Row> = rows
        .iter()
        .filter(|r| r.after_cut.is_err() || r.converged.is_err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{table}",
        failures.len()
    );
    for point in &points {
        assert!(
            rows.iter().any(|r| &r.crash == point && r.reached),
            "crash point {point} is reached by no scenario"
        );
    }
}

fn fleet() -> Fleet {
    let world = World::start();
    let old_image = firmware_image(1, IMAGE_SIZE);
    let new_image = successor(&old_image, 2);
    let (old, new) = (world.path("fw-1.0.0.img"), world.path("fw-1.1.0.img"));
    std::fs::write(&old, &old_image).expect("write 1.0.0");
    std::fs::write(&new, &new_image).expect("write 1.1.0");
    let (old_sha256, new_sha256) = (sha256_hex(&old_image), sha256_hex(&new_image));
    world.release(&old, "1.0.0", CLASS, &[HARDWARE]);
    world.release(&new, "1.1.0", CLASS, &[HARDWARE]);
    world.publish();
    let copy = copy_repository(&world.server_url, &world.path("tampered"));
    let targets = world.targets();
    for name in [
        NEW_TARGET.to_string(),
        zstd_target_name(NEW_TARGET),
        delta_target_name(NEW_TARGET, &old_sha256),
    ] {
        let target = targets
            .get(&name)
            .unwrap_or_else(|| panic!("`ota release add` did not publish {name}"));
        tamper(&copy, &name, target.sha256().expect("sha256"));
    }
    let tampered = mirror(&copy.dir);
    let proxy = Proxy::recording(&world.server_url);
    Fleet {
        world,
        proxy,
        tampered,
        old_sha256,
        new_sha256,
        next_id: AtomicUsize::new(0),
    }
}

/// Flips one byte near the end of a target in the mirror's copy: same length, wrong hash.
fn tamper(copy: &RepositoryCopy, name: &str, sha256: &str) {
    let path = copy.target(name, sha256);
    let mut bytes = std::fs::read(&path).expect("target copy");
    let at = bytes.len() - 10;
    bytes[at] ^= 0x01;
    std::fs::write(&path, bytes).expect("tamper");
}

/// The names `update-client crash-points` prints.
fn crash_points() -> Vec<String> {
    let mut command = Command::new(bin("update-client"));
    command.arg("crash-points");
    let listed = run(command, std::time::Duration::from_secs(30));
    listed.assert_ok("update-client crash-points");
    listed.stdout.lines().map(str::to_string).collect()
}

fn device(fleet: &Fleet, scenario: Scenario) -> Device {
    let n = fleet.next_id.fetch_add(1, Ordering::SeqCst);
    let id = format!("pc-{n}");
    let factory = fleet.world.path("fw-1.0.0.img");
    let mut spec = DeviceSpec::new(&id, CLASS, HARDWARE, factory, "1.0.0");
    spec.boot_limit = BOOT_LIMIT;
    spec.server_url = Some(fleet.proxy.url.clone());
    spec.payload = scenario.payload();
    match scenario {
        Scenario::Healthy | Scenario::Raw => spec.health_check = Some(vec!["true".into()]),
        Scenario::Failing => {
            spec.health_check = Some(vec!["sh".into(), "-c".into(), "exit 1".into()]);
        }
        Scenario::Refused => spec.repository_url = Some(fleet.tampered.url.clone()),
    }
    Device::create(&fleet.world, spec)
}

/// One case: cut the power at `crash`, check, power on again, check the end state.
fn cut_power(fleet: &Fleet, crash: &str, scenario: Scenario) -> Row {
    let dev = device(fleet, scenario);
    let update = Update {
        old_sha256: &fleet.old_sha256,
        new_sha256: &fleet.new_sha256,
    };
    let count_file = dev.dir.join("crash-count");
    let count_file = count_file.to_str().expect("UTF-8 path");
    let first = dev.run_until_idle_with_env(&[
        ("OTA_CRASH_AT", crash),
        ("OTA_CRASH_COUNT_FILE", count_file),
    ]);
    let reached = was_cut(&first);
    let (after_cut, last) = if reached {
        let state = power::check(&dev, &update);
        (state, dev.run_until_idle())
    } else {
        (Ok("(not reached)".into()), first)
    };
    let converged = power::check(&dev, &update).and_then(|state| {
        converged(fleet, &dev, scenario, &last).map(|end| format!("{state} | {end}"))
    });
    Row {
        crash: crash.to_string(),
        scenario,
        reached,
        after_cut,
        converged,
    }
}

/// `simulate` killed at a power-on step, or reporting that its agent was killed.
fn was_cut(run: &Finished) -> bool {
    run.status.signal() == Some(9) || run.code() == Some(4)
}

/// The end state an uninterrupted update of this scenario reaches.
fn converged(
    fleet: &Fleet,
    dev: &Device,
    scenario: Scenario,
    last: &Finished,
) -> Result<String, String> {
    let reports = fleet.proxy.reports_of(&dev.id);
    let events: Vec<UpdateEvent> = reports.iter().map(|r| r.event).collect();
    let phase = dev
        .state_file("journal.json")
        .and_then(|j| j["phase"].as_str().map(str::to_string))
        .unwrap_or_default();
    let count = |event: UpdateEvent| events.iter().filter(|e| **e == event).count();
    let expected_exit = if scenario == Scenario::Refused { 1 } else { 0 };
    let mut problems = Vec::new();
    if last.code() != Some(expected_exit) {
        problems.push(format!(
            "exit {:?}, stderr: {}",
            last.code(),
            tail(&last.stderr)
        ));
    }
    let (slot, journal, must, must_not): (&str, &str, UpdateEvent, &[UpdateEvent]) = match scenario
    {
        Scenario::Healthy | Scenario::Raw => (
            "B",
            "committed",
            UpdateEvent::Success,
            &[UpdateEvent::RolledBack, UpdateEvent::Failure],
        ),
        Scenario::Failing => (
            "A",
            "rolled-back",
            UpdateEvent::RolledBack,
            &[UpdateEvent::Success, UpdateEvent::Failure],
        ),
        Scenario::Refused => (
            "A",
            "failed",
            UpdateEvent::Failure,
            &[UpdateEvent::Installed, UpdateEvent::Success],
        ),
    };
    if dev.booted_slot() != slot
        || dev.boot_env().get("boot_slot").map(String::as_str) != Some(slot)
    {
        problems.push(format!("booted {}, expected {slot}", dev.booted_slot()));
    }
    if phase != journal {
        problems.push(format!("journal {phase}, expected {journal}"));
    }
    if count(must) == 0 {
        problems.push(format!("no {must} report"));
    }
    for event in must_not {
        if count(*event) > 0 {
            problems.push(format!("a {event} report"));
        }
    }
    let healthy = matches!(scenario, Scenario::Healthy | Scenario::Raw);
    if healthy && sha256_file(&dev.slot_b) != fleet.new_sha256 {
        problems.push("slot B does not hold 1.1.0".into());
    }
    let payload = reports.last().and_then(|r| r.payload.clone());
    let kind = payload.as_ref().map(|p| p.kind);
    if kind != Some(scenario.payload_kind()) {
        problems.push(format!("the last report names payload {kind:?}"));
    }
    let fell_back = payload.as_ref().is_some_and(|p| p.delta_failure.is_some());
    if fell_back != (scenario == Scenario::Refused) {
        problems.push(format!("delta failure reported: {fell_back}"));
    }
    if !dev.spooled_files().is_empty() {
        problems.push(format!("spool files left: {:?}", dev.spooled_files()));
    }
    if scenario == Scenario::Failing {
        let downloads = count(UpdateEvent::Downloading);
        let again = dev.run_until_idle();
        if !again.success() || dev.booted_slot() != "A" {
            problems.push("a power-on after the roll-back did not stay on A".into());
        }
        if fleet
            .proxy
            .events_of(&dev.id)
            .iter()
            .filter(|e| **e == UpdateEvent::Downloading)
            .count()
            != downloads
        {
            problems.push("the rolled-back release was tried again".into());
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    let kind = kind.map(PayloadKind::as_str).unwrap_or("none");
    Ok(format!("{kind}; reports: {}", events.join(" ")))
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" / ")
}

fn table(rows: &[Row]) -> String {
    let mut text = String::from(
        "| crash point | scenario | right after the cut | after powering on again |\n| --- | --- | --- | --- |\n",
    );
    for row in rows {
        let show = |r: &Result<String, String>| match r {
            Ok(state) => state.clone(),
            Err(problem) => format!("**FAILED: {problem}**"),
        };
        text.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            row.crash,
            row.scenario.name(),
            show(&row.after_cut),
            show(&row.converged)
        ));
    }
    text
}
