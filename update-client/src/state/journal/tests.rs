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
                    Recovery::ResumeSwitch
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

#[test]
fn recovery_table() {
    use Recovery::*;
    let cases = [
        (Phase::Installing, Slot::A, Slot::A, DiscardInstall),
        (Phase::Switching, Slot::A, Slot::A, ResumeSwitch),
        (Phase::Switching, Slot::A, Slot::B, ResumeSwitch),
        (Phase::Switching, Slot::B, Slot::B, StartTrial),
        (Phase::Installed, Slot::A, Slot::B, Reboot),
        (Phase::Installed, Slot::A, Slot::A, BootloaderFellBack),
        (Phase::Installed, Slot::B, Slot::B, StartTrial),
        (Phase::Trial, Slot::B, Slot::B, StartTrial),
        (Phase::Trial, Slot::A, Slot::A, BootloaderFellBack),
        (Phase::Committing, Slot::B, Slot::B, FinishCommit),
        (Phase::Committing, Slot::A, Slot::A, BootloaderFellBack),
        (Phase::RollingBack, Slot::B, Slot::B, RedoRollBack),
        (Phase::RollingBack, Slot::B, Slot::A, RedoRollBack),
        (Phase::RollingBack, Slot::A, Slot::A, FinishRollBack),
        (Phase::Committed, Slot::B, Slot::B, Nothing),
    ];
    for (phase, booted, primary, expected) in cases {
        assert_eq!(
            plan_recovery(&journal(phase), booted, primary),
            expected,
            "{phase:?} booted {booted} primary {primary}"
        );
    }
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
