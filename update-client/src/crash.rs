//! Fault injection: named crash points at every step whose interruption leaves a
//! different state on disk, so power-cut tests enumerate them from the code instead of
//! guessing with sleeps.
//!
//! `OTA_CRASH_AT=NAME` kills the process with SIGKILL the first time [`point`] reaches
//! the point `NAME`; `OTA_CRASH_AT=NAME:N` the N-th time, counted in this process, or
//! across the processes of a simulated device (the `run` of each boot, and `simulate`
//! itself) when `OTA_CRASH_COUNT_FILE` names a file to count in. A
//! SIGKILL runs no destructor and flushes nothing: what is on disk is what a power cut
//! would leave (data written but not synced survives it, which a real power cut may not
//! keep; every step that matters syncs before it goes on). `update-client crash-points`
//! lists [`ALL`], one name per line. Without the variable, [`point`] does nothing but
//! read one cached value.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable naming the point to crash at.
pub const ENV_VAR: &str = "OTA_CRASH_AT";
/// The environment variable naming a file that counts occurrences across processes.
pub const COUNT_FILE_VAR: &str = "OTA_CRASH_COUNT_FILE";

macro_rules! crash_points {
    ($($(#[doc = $doc:literal])+ $variant:ident => $name:literal,)+) => {
        /// A step of the agent (or of the simulated bootloader) where a power cut is
        /// simulated on request. Each is named after the state it leaves.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Point {
            $($(#[doc = $doc])+ $variant,)+
        }

        /// Every crash point, in the order an update normally reaches them.
        pub const ALL: &[Point] = &[$(Point::$variant,)+];

        impl Point {
            /// The name `OTA_CRASH_AT` uses.
            pub fn name(self) -> &'static str {
                match self {
                    $(Point::$variant => $name,)+
                }
            }

            /// What a cut at this point leaves (the doc comment above).
            pub fn description(self) -> &'static str {
                match self {
                    $(Point::$variant => concat!($($doc),+).trim_start(),)+
                }
            }
        }
    };
}

crash_points! {
    /// First start: `slots.json` records the factory image of the booted slot.
    AfterFactoryRecord => "after-factory-record",
    /// A report is in `outbox.json`, not sent yet.
    AfterReportQueued => "after-report-queued",
    /// The server took a report that is still in `outbox.json` (it is sent again).
    AfterReportDelivered => "after-report-delivered",
    /// Journal `installing` written; the new slot is untouched.
    AfterJournalInstalling => "after-journal-installing",
    /// The new slot's record in `slots.json` is cleared; nothing written to it yet.
    AfterSlotRecordCleared => "after-slot-record-cleared",
    /// A downloaded chunk of the delta went into the spool file, not synced.
    DeltaChunkSpooled => "delta-chunk-spooled",
    /// The whole delta is in the spool file, synced, its signed length and hashes
    /// checked; nothing applied yet.
    AfterDeltaSpooled => "after-delta-spooled",
    /// Applying the delta: a chunk of the result went into the new slot, not synced (the
    /// apply starts again from byte 0 after a cut).
    DeltaApplyChunkWritten => "delta-apply-chunk-written",
    /// The delta's result is in the new slot and matched the length and sha256 of its
    /// header; not synced yet.
    AfterDeltaApplied => "after-delta-applied",
    /// A decompressed chunk of the zstd form went into the new slot, not synced, not
    /// counted in the journal.
    ZstdChunkWritten => "zstd-chunk-written",
    /// At a zstd frame end the new slot is synced; the journal does not count it yet.
    AfterZstdCheckpointSync => "after-zstd-checkpoint-sync",
    /// The journal counts a synced prefix of the new slot and the compressed offset of
    /// its frame end (the resume point of the zstd form).
    AfterJournalZstdProgress => "after-journal-zstd-progress",
    /// A form failed: the journal names the next form to install; its download has not
    /// started.
    AfterJournalFallback => "after-journal-fallback",
    /// A downloaded chunk went into the new slot, not synced, not counted in the journal.
    SlotChunkWritten => "slot-chunk-written",
    /// A prefix of the new slot is synced; the journal does not count it yet.
    AfterSlotCheckpointSync => "after-slot-checkpoint-sync",
    /// The journal counts a synced prefix of the new slot (the resume point).
    AfterJournalProgress => "after-journal-progress",
    /// The whole image is in the new slot and synced, not read back yet.
    AfterSlotSync => "after-slot-sync",
    /// The new slot was read back and matched the signed sha256; not recorded yet.
    AfterSlotReadBack => "after-slot-read-back",
    /// `slots.json` records the new slot's verified image.
    AfterSlotRecordSet => "after-slot-record-set",
    /// Journal `switching` written; the bootloader still selects the old slot.
    AfterJournalSwitching => "after-journal-switching",
    /// About to arm the bootloader's trial of the new slot.
    BeforeTrySlot => "before-try-slot",
    /// The bootloader tries the new slot at the next boots (bounded), then falls back.
    AfterTrySlot => "after-try-slot",
    /// Journal `installed` written; the reboot command has not run.
    AfterJournalInstalled => "after-journal-installed",
    /// About to run the reboot command.
    BeforeRebootCommand => "before-reboot-command",
    /// The reboot command ran (the reboot is pending); the agent has not exited.
    AfterRebootCommand => "after-reboot-command",
    /// Simulated power-on of a counted boot: the new `bootcount` is not saved yet.
    PowerOnBeforeEnvWrite => "power-on-before-env-write",
    /// Simulated power-on: the environment with the new `bootcount` (or the fallback) is
    /// saved; the booted slot is not recorded yet.
    PowerOnAfterEnvWrite => "power-on-after-env-write",
    /// Journal `trial` written on the new slot; the health check has not run.
    AfterJournalTrial => "after-journal-trial",
    /// The health check decided; nothing recorded yet.
    AfterHealthCheck => "after-health-check",
    /// Journal `committing` written; the bootloader still counts the trial.
    AfterJournalCommitting => "after-journal-committing",
    /// About to mark the new slot good in the bootloader.
    BeforeMarkGood => "before-mark-good",
    /// The bootloader keeps the new slot for good.
    AfterMarkGood => "after-mark-good",
    /// `slots.json` records the committed slot again.
    AfterSlotRecordCommitted => "after-slot-record-committed",
    /// Journal `committed` written; the `success` report is queued.
    AfterJournalCommitted => "after-journal-committed",
    /// Journal `rolling-back` written with the reason; the bootloader still counts the
    /// trial.
    AfterJournalRollingBack => "after-journal-rolling-back",
    /// About to point the bootloader back at the old slot.
    BeforeRollBack => "before-roll-back",
    /// The bootloader selects the old slot again, trial abandoned.
    AfterRollBack => "after-roll-back",
    /// `failed.json` remembers the release that was rolled back.
    AfterFailedRecorded => "after-failed-recorded",
    /// Journal `rolled-back` written; the `rolled-back` report is queued.
    AfterJournalRolledBack => "after-journal-rolled-back",
    /// Journal `failed` written; the `failure` report is queued.
    AfterJournalFailed => "after-journal-failed",
}

/// The point and occurrence `OTA_CRASH_AT` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Armed {
    pub point: Point,
    /// 1 for the first time the point is reached.
    pub occurrence: u32,
    /// Where occurrences are counted across processes (`OTA_CRASH_COUNT_FILE`); `None`:
    /// in this process only.
    pub count_file: Option<PathBuf>,
}

/// Parses `NAME` or `NAME:N` (N >= 1).
pub fn parse(spec: &str) -> Result<Armed, String> {
    let (name, occurrence) = match spec.split_once(':') {
        Some((name, n)) => {
            let n: u32 =
                n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    format!("{ENV_VAR}={spec:?}: the occurrence must be 1 or more")
                })?;
            (name, n)
        }
        None => (spec, 1),
    };
    let point = ALL
        .iter()
        .copied()
        .find(|p| p.name() == name)
        .ok_or_else(|| {
            format!("{ENV_VAR}={spec:?} names no crash point (`update-client crash-points`)")
        })?;
    Ok(Armed {
        point,
        occurrence,
        count_file: None,
    })
}

static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
static REACHED: AtomicU32 = AtomicU32::new(0);

/// Reads `OTA_CRASH_AT` (and `OTA_CRASH_COUNT_FILE`) once; an unknown name is an error,
/// so a misspelt test cannot silently crash nowhere. Unset or empty: nothing is armed.
pub fn arm_from_env() -> Result<Option<Armed>, String> {
    let armed = armed_by_env()?;
    Ok(ARMED.get_or_init(|| armed).clone())
}

fn armed_by_env() -> Result<Option<Armed>, String> {
    let Some(spec) = std::env::var(ENV_VAR).ok().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let mut armed = parse(&spec)?;
    armed.count_file = std::env::var_os(COUNT_FILE_VAR).map(PathBuf::from);
    Ok(Some(armed))
}

/// Marks that the process reached `here`; kills it if `OTA_CRASH_AT` asks for this
/// occurrence of it.
pub fn point(here: Point) {
    // Library use without `arm_from_env`: an invalid value arms nothing.
    let armed = ARMED.get_or_init(|| armed_by_env().ok().flatten());
    let Some(armed) = armed else {
        return;
    };
    if armed.point != here {
        return;
    }
    let reached = match &armed.count_file {
        Some(file) => count_in_file(file),
        None => REACHED.fetch_add(1, Ordering::SeqCst) + 1,
    };
    if reached == armed.occurrence {
        tracing::warn!(point = here.name(), reached, "simulated power cut");
        power_cut();
    }
}

/// Adds one to the count in `file` and returns it. Processes reaching points run one
/// after the other (a simulated device boots once at a time), so no locking.
fn count_in_file(file: &Path) -> u32 {
    let count = std::fs::read_to_string(file)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .unwrap_or(0)
        .saturating_add(1);
    if let Err(e) = std::fs::write(file, format!("{count}\n")) {
        tracing::warn!("cannot count crash points in {}: {e}", file.display());
    }
    count
}

fn power_cut() -> ! {
    // SAFETY: getpid and kill have no memory-safety preconditions. SIGKILL cannot be
    // caught; it ends every thread of the process before kill returns to user space.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    // Not reached; abort is still a death by signal without destructors.
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_documented() {
        let mut names: Vec<&str> = ALL.iter().map(|p| p.name()).collect();
        for point in ALL {
            let name = point.name();
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{name}"
            );
            assert!(!point.description().is_empty(), "{name}");
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn parses_names_and_occurrences() {
        let armed = parse("after-try-slot").unwrap();
        assert_eq!((armed.point, armed.occurrence), (Point::AfterTrySlot, 1));
        let armed = parse("slot-chunk-written:7").unwrap();
        assert_eq!(
            (armed.point, armed.occurrence),
            (Point::SlotChunkWritten, 7)
        );
        for bad in [
            "after-nothing",
            "after-try-slot:0",
            "after-try-slot:x",
            ":1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_count_file_counts_across_processes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("count");
        assert_eq!(count_in_file(&file), 1);
        assert_eq!(count_in_file(&file), 2);
        std::fs::write(&file, "41\n").unwrap();
        assert_eq!(count_in_file(&file), 42);
    }
}
