//! Journal round trips and the recovery plan over every phase and boot situation.

use super::*;

const PHASES: [Phase; 9] = [
    Phase::Installing,
    Phase::Switching,
    Phase::Installed,
    Phase::Trial,
    Phase::Committing,
    Phase::Committed,
    Phase::RollingBack,
    Phase::RolledBack,
    Phase::Failed,
];

fn journal(phase: Phase) -> Journal {
    Journal {
        target_name: "camera-1.1.0.img".into(),
        version: semver::Version::new(1, 1, 0),
        from_version: semver::Version::new(1, 0, 0),
        from_slot: Slot::A,
        to_slot: Slot::B,
        target_sha256: "cd".repeat(32),
        image_length: 1024,
        image_sha256: "cd".repeat(32),
        phase,
        last_event: UpdateEvent::Installed,
        bytes_downloaded: 1024,
        reason: None,
        written: None,
        validator: None,
        payload: None,
        zstd_offset: None,
    }
}

#[test]
fn round_trips_through_json_with_kebab_case_phases() {
    for phase in PHASES {
        let j = journal(phase);
        let json = serde_json::to_string(&j).unwrap();
        let back: Journal = serde_json::from_str(&json).unwrap();
        assert_eq!(back, j);
    }
    let json = serde_json::to_value(journal(Phase::RollingBack)).unwrap();
    assert_eq!(json["phase"], "rolling-back");
    assert_eq!(json["last_event"], "installed");
}

#[test]
fn the_payload_and_zstd_progress_round_trip_and_may_be_absent() {
    let mut j = journal(Phase::Installing);
    j.payload = Some(update_core::api::Payload {
        kind: update_core::api::PayloadKind::Zstd,
        target_name: "camera-1.1.0.img.zst".into(),
        base_version: None,
        length: 700,
        reason: "compressed full image, after the delta".into(),
        delta_failure: Some("delta refused".into()),
    });
    j.written = Some(WrittenPrefix {
        length: 512,
        sha256: "ab".repeat(32),
    });
    j.zstd_offset = Some(300);
    let json = serde_json::to_value(&j).unwrap();
    assert_eq!(json["payload"]["kind"], "zstd");
    assert_eq!(json["zstd_offset"], 300);
    assert_eq!(serde_json::from_value::<Journal>(json).unwrap(), j);
    j.clear_progress();
    assert_eq!((j.written, j.validator, j.zstd_offset), (None, None, None));
    assert!(j.payload.is_some(), "the form stays named");

    // A journal written before payloads existed still reads.
    let mut old = serde_json::to_value(journal(Phase::Installing)).unwrap();
    old.as_object_mut().unwrap().remove("payload");
    assert_eq!(
        serde_json::from_value::<Journal>(old).unwrap(),
        journal(Phase::Installing)
    );
}

#[test]
fn only_unfinished_updates_are_pending() {
    for phase in PHASES {
        let pending = journal(phase).pending_update();
        assert_eq!(pending.is_none(), phase.is_terminal(), "{phase:?}");
        if let Some(p) = pending {
            assert_eq!(p.last_event, UpdateEvent::Installed);
            assert_eq!(p.version, semver::Version::new(1, 1, 0));
        }
    }
}

#[test]
fn recovery_never_acts_on_the_wrong_slot() {
    for phase in PHASES {
        for booted in [Slot::A, Slot::B] {
            for primary in [Slot::A, Slot::B] {
                let plan = plan_recovery(&journal(phase), booted, primary);
                let on_new = booted == Slot::B;
                let case = format!("{phase:?} booted {booted} primary {primary}: {plan:?}");
                if phase.is_terminal() {
                    assert_eq!(plan, Recovery::Nothing, "{case}");
                }
                let needs_new = matches!(
                    plan,
                    Recovery::StartTrial | Recovery::FinishCommit | Recovery::RedoRollBack
                );
                let needs_old = matches!(
                    plan,
                    Recovery::ResumeInstall
                        | Recovery::ResumeSwitch
                        | Recovery::Reboot
                        | Recovery::FinishRollBack
                        | Recovery::BootloaderFellBack
                );
                assert!(on_new || !needs_new, "{case}");
                assert!(!on_new || !needs_old, "{case}");
            }
        }
    }
}

/// Every phase x booted slot x primary slot, for an update from A to B.
#[test]
fn recovery_table() {
    use Recovery::*;
    let (a, b) = (Slot::A, Slot::B);
    let cases = [
        (Phase::Installing, a, a, ResumeInstall),
        (Phase::Installing, a, b, ResumeInstall),
        (Phase::Installing, b, a, DiscardInstall),
        (Phase::Installing, b, b, DiscardInstall),
        (Phase::Switching, a, a, ResumeSwitch),
        (Phase::Switching, a, b, ResumeSwitch),
        (Phase::Switching, b, a, StartTrial),
        (Phase::Switching, b, b, StartTrial),
        (Phase::Installed, a, a, BootloaderFellBack),
        (Phase::Installed, a, b, Reboot),
        (Phase::Installed, b, a, StartTrial),
        (Phase::Installed, b, b, StartTrial),
        (Phase::Trial, a, a, BootloaderFellBack),
        (Phase::Trial, a, b, BootloaderFellBack),
        (Phase::Trial, b, a, StartTrial),
        (Phase::Trial, b, b, StartTrial),
        (Phase::Committing, a, a, BootloaderFellBack),
        (Phase::Committing, a, b, BootloaderFellBack),
        (Phase::Committing, b, a, FinishCommit),
        (Phase::Committing, b, b, FinishCommit),
        (Phase::Committed, a, a, Nothing),
        (Phase::Committed, a, b, Nothing),
        (Phase::Committed, b, a, Nothing),
        (Phase::Committed, b, b, Nothing),
        (Phase::RollingBack, a, a, FinishRollBack),
        (Phase::RollingBack, a, b, FinishRollBack),
        (Phase::RollingBack, b, a, RedoRollBack),
        (Phase::RollingBack, b, b, RedoRollBack),
        (Phase::RolledBack, a, a, Nothing),
        (Phase::RolledBack, a, b, Nothing),
        (Phase::RolledBack, b, a, Nothing),
        (Phase::RolledBack, b, b, Nothing),
        (Phase::Failed, a, a, Nothing),
        (Phase::Failed, a, b, Nothing),
        (Phase::Failed, b, a, Nothing),
        (Phase::Failed, b, b, Nothing),
    ];
    assert_eq!(cases.len(), PHASES.len() * 4, "every combination is listed");
    for (phase, booted, primary, expected) in cases {
        assert_eq!(
            plan_recovery(&journal(phase), booted, primary),
            expected,
            "{phase:?} booted {booted} primary {primary}"
        );
    }
}

#[test]
fn download_progress_round_trips_and_older_journals_still_read() {
    let mut j = journal(Phase::Installing);
    j.written = Some(WrittenPrefix {
        length: 4 << 20,
        sha256: "ab".repeat(32),
    });
    j.validator = Some("\"etag\"".into());
    let json = serde_json::to_value(&j).unwrap();
    assert_eq!(json["written"]["length"], 4 << 20);
    assert_eq!(serde_json::from_value::<Journal>(json).unwrap(), j);

    let mut old = serde_json::to_value(journal(Phase::Installing)).unwrap();
    let fields = old.as_object_mut().unwrap();
    assert!(!fields.contains_key("written") && !fields.contains_key("validator"));
    fields.remove("reason");
    let back: Journal = serde_json::from_value(old).unwrap();
    assert_eq!((back.written, back.validator), (None, None));
}

#[test]
fn journal_file_survives_a_round_trip_through_the_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let state = crate::state::StateDir::open(&dir.path().join("state")).unwrap();
    assert_eq!(state.journal().unwrap(), None);
    state.save_journal(&journal(Phase::Trial)).unwrap();
    assert_eq!(state.journal().unwrap(), Some(journal(Phase::Trial)));
    std::fs::write(dir.path().join("state/journal.json"), b"{\"phase\":").unwrap();
    assert!(state.journal().is_err());
}
