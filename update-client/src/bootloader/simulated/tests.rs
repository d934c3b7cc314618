//! The simulated bootloader's power-on logic, exhaustively over small boot limits.

use super::*;

fn bootloader(dir: &Path, boot_limit: u32) -> SimulatedBootloader {
    SimulatedBootloader::new(dir, boot_limit)
}

#[test]
fn factory_boot_is_slot_a_without_counting() {
    let dir = tempfile::tempdir().unwrap();
    let boot = bootloader(dir.path(), 1);
    assert_eq!(boot.booted_slot().unwrap(), Slot::A);
    for _ in 0..3 {
        let outcome = boot.power_on().unwrap();
        assert_eq!(
            outcome,
            PowerOn {
                booted: Slot::A,
                fell_back: false
            }
        );
        assert_eq!(boot.env().unwrap().bootcount, 0);
    }
    assert_eq!(boot.booted_slot().unwrap(), Slot::A);
}

#[test]
fn a_trial_is_tried_once_then_falls_back_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let mut boot = bootloader(dir.path(), 1);
    boot.power_on().unwrap();
    boot.try_slot_once(Slot::B).unwrap();
    assert_eq!(boot.primary_slot().unwrap(), Slot::B);
    assert_eq!(boot.booted_slot().unwrap(), Slot::A, "nothing booted yet");
    assert_eq!(
        boot.power_on().unwrap(),
        PowerOn {
            booted: Slot::B,
            fell_back: false
        }
    );
    assert_eq!(boot.booted_slot().unwrap(), Slot::B);
    assert_eq!(
        boot.power_on().unwrap(),
        PowerOn {
            booted: Slot::A,
            fell_back: true
        }
    );
    let env = boot.env().unwrap();
    assert!(!env.upgrade_available);
    assert_eq!((env.boot_slot, env.bootcount), (Slot::A, 0));
    for _ in 0..3 {
        assert_eq!(
            boot.power_on().unwrap(),
            PowerOn {
                booted: Slot::A,
                fell_back: false
            }
        );
    }
}

#[test]
fn marking_good_stops_counting() {
    let dir = tempfile::tempdir().unwrap();
    let mut boot = bootloader(dir.path(), 1);
    boot.power_on().unwrap();
    boot.try_slot_once(Slot::B).unwrap();
    assert_eq!(boot.power_on().unwrap().booted, Slot::B);
    boot.mark_good().unwrap();
    for _ in 0..5 {
        assert_eq!(
            boot.power_on().unwrap(),
            PowerOn {
                booted: Slot::B,
                fell_back: false
            }
        );
        assert_eq!(boot.env().unwrap().bootcount, 0);
    }
}

#[test]
fn every_boot_limit_gives_exactly_that_many_tries() {
    for boot_limit in 1..=4 {
        for (old, new) in [(Slot::A, Slot::B), (Slot::B, Slot::A)] {
            let dir = tempfile::tempdir().unwrap();
            let mut boot = bootloader(dir.path(), boot_limit);
            boot.roll_back_to(old).unwrap();
            assert_eq!(boot.power_on().unwrap().booted, old);
            boot.try_slot_once(new).unwrap();
            for attempt in 1..=boot_limit {
                let outcome = boot.power_on().unwrap();
                assert_eq!(outcome.booted, new, "limit {boot_limit}, try {attempt}");
                assert_eq!(boot.env().unwrap().bootcount, attempt);
            }
            assert_eq!(
                boot.power_on().unwrap(),
                PowerOn {
                    booted: old,
                    fell_back: true
                }
            );
            assert_eq!(boot.power_on().unwrap().booted, old);
        }
    }
}

#[test]
fn commit_on_any_try_within_the_limit_keeps_the_new_slot() {
    for boot_limit in 1..=3 {
        for commit_on in 1..=boot_limit {
            let dir = tempfile::tempdir().unwrap();
            let mut boot = bootloader(dir.path(), boot_limit);
            boot.power_on().unwrap();
            boot.try_slot_once(Slot::B).unwrap();
            for _ in 0..commit_on {
                assert_eq!(boot.power_on().unwrap().booted, Slot::B);
            }
            boot.mark_good().unwrap();
            for _ in 0..boot_limit + 2 {
                assert_eq!(boot.power_on().unwrap().booted, Slot::B);
            }
        }
    }
}

#[test]
fn roll_back_abandons_a_trial_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut boot = bootloader(dir.path(), 2);
    boot.power_on().unwrap();
    boot.try_slot_once(Slot::B).unwrap();
    assert_eq!(boot.power_on().unwrap().booted, Slot::B);
    boot.roll_back_to(Slot::A).unwrap();
    assert_eq!(
        boot.power_on().unwrap(),
        PowerOn {
            booted: Slot::A,
            fell_back: false
        }
    );
    assert!(!boot.env().unwrap().upgrade_available);
}

#[test]
fn env_file_round_trips_and_keeps_unknown_variables() {
    let text = "boot_slot=B\nupgrade_available=1\nbootcount=2\nbootlimit=3\nbootargs=quiet\n";
    let env = BootEnv::parse(text, 1).unwrap();
    assert_eq!(env.boot_slot, Slot::B);
    assert!(env.upgrade_available);
    assert_eq!((env.bootcount, env.bootlimit), (2, 3));
    assert_eq!(env.to_text(), text);
    for bad in [
        "boot_slot=C",
        "upgrade_available=2",
        "bootcount=-1",
        "garbage",
    ] {
        assert!(BootEnv::parse(bad, 1).is_err(), "{bad}");
    }
}

#[test]
fn corrupt_files_are_errors_not_guesses() {
    let dir = tempfile::tempdir().unwrap();
    let boot = bootloader(dir.path(), 1);
    std::fs::write(dir.path().join(ENV_FILE), "boot_slot=Z\n").unwrap();
    assert!(boot.power_on().is_err());
    assert!(boot.primary_slot().is_err());
    std::fs::write(dir.path().join(ENV_FILE), "boot_slot=A\n").unwrap();
    std::fs::write(dir.path().join(BOOTED_FILE), "X\n").unwrap();
    assert!(boot.booted_slot().is_err());
}

#[test]
fn without_a_power_on_the_booted_slot_survives_a_switch() {
    let dir = tempfile::tempdir().unwrap();
    let mut boot = bootloader(dir.path(), 1);
    assert_eq!(boot.booted_slot().unwrap(), Slot::A);
    boot.try_slot_once(Slot::B).unwrap();
    assert_eq!(boot.booted_slot().unwrap(), Slot::A, "no reboot happened");
    assert_eq!(boot.primary_slot().unwrap(), Slot::B);
}
