//! The A/B variables and the grub.cfg model, exhaustively over every state and boot
//! limits 1 to 3.

use std::collections::HashSet;

use super::*;

const SLOTS: [Slot; 2] = [Slot::A, Slot::B];
const TRIES: [Option<u8>; 5] = [None, Some(0), Some(1), Some(2), Some(3)];

fn slot_states() -> impl Iterator<Item = SlotState> {
    [false, true]
        .into_iter()
        .flat_map(|ok| TRIES.into_iter().map(move |tries| SlotState { ok, tries }))
}

/// Every state the variables can express.
fn all_states() -> Vec<AbState> {
    let mut states = Vec::new();
    for first in SLOTS {
        for a in slot_states() {
            for b in slot_states() {
                for boot_limit in 1..=MAX_BOOT_LIMIT {
                    states.push(AbState {
                        first,
                        a,
                        b,
                        boot_limit,
                    });
                }
            }
        }
    }
    states
}

/// Power-ons with nothing running in between; the slots booted.
fn boots(state: &mut AbState, count: usize) -> Vec<Option<Slot>> {
    (0..count)
        .map(|_| state.power_on().map(|boot| boot.slot))
        .collect()
}

#[test]
fn every_state_survives_a_write_and_read() {
    assert_eq!(
        AbState::read(&GrubEnv::default()).unwrap(),
        AbState::default()
    );
    for state in all_states() {
        let mut env = GrubEnv::default();
        env.set("saved_entry", "kept").unwrap();
        state.write(&mut env).unwrap();
        assert_eq!(AbState::read(&env).unwrap(), state);
        assert_eq!(env.get("saved_entry"), Some("kept"));
        for slot in SLOTS {
            assert_eq!(
                env.get(&try_name(slot)).is_some(),
                state.slot(slot).tries.is_some()
            );
        }
    }
}

#[test]
fn invalid_values_are_refused_with_the_variable_named() {
    let cases = [
        (ORDER, "A"),
        (ORDER, "A B C"),
        (ORDER, "a b"),
        (ORDER, "A A"),
        ("A_OK", "2"),
        ("B_OK", ""),
        ("A_TRY", "4"),
        ("B_TRY", "01"),
        ("B_TRY", ""),
        ("A_TRY", "+1"),
        (BOOT_LIMIT, "0"),
        (BOOT_LIMIT, "4"),
    ];
    for (name, value) in cases {
        let mut env = GrubEnv::default();
        env.set(name, value).unwrap();
        let error = AbState::read(&env).unwrap_err().to_string();
        assert!(error.contains(&format!("{name}={value:?}")), "{error}");
    }
}

#[test]
fn the_boot_limit_must_be_one_to_three() {
    assert_eq!(check_boot_limit(1), Ok(1));
    assert_eq!(check_boot_limit(3), Ok(3));
    for bad in [0, 4, 256, u32::MAX] {
        assert_eq!(check_boot_limit(bad), Err(AbError::BootLimit(bad)));
    }
}

#[test]
fn every_state_settles_after_a_bounded_number_of_counted_boots() {
    for start in all_states() {
        let mut state = start;
        let counted = (0..7)
            .filter(|_| state.power_on().is_some_and(|boot| boot.counted))
            .count();
        assert!(counted <= 2 * usize::from(MAX_BOOT_LIMIT), "{start:?}");
        let settled = state;
        assert_eq!(state.power_on(), settled.next_boot());
        assert_eq!(state, settled, "{start:?} still counts after 7 boots");
        for slot in SLOTS {
            assert!(state.slot(slot).tries.is_none_or(|t| t <= MAX_BOOT_LIMIT));
        }
    }
}

#[test]
fn a_trial_gets_exactly_its_tries_then_the_old_slot_boots_for_good() {
    for start in all_states() {
        for new in SLOTS {
            let old = new.other();
            if start.slot(old) != SlotState::COMMITTED {
                continue;
            }
            for boot_limit in 1..=MAX_BOOT_LIMIT {
                let mut state = start;
                state.try_slot(new, boot_limit).unwrap();
                let limit = usize::from(boot_limit);
                let mut expected = vec![Some(new); limit];
                expected.extend([Some(old); 4]);
                assert_eq!(boots(&mut state, limit + 4), expected, "{start:?}");
                assert_eq!(state.next_boot().map(|b| b.counted), Some(false));
            }
        }
    }
}

#[test]
fn committing_on_any_try_stops_the_counting() {
    for boot_limit in 1..=MAX_BOOT_LIMIT {
        for commit_after in 1..=boot_limit {
            for new in SLOTS {
                let mut state = AbState::default();
                state.roll_back_to(new.other());
                state.try_slot(new, boot_limit).unwrap();
                boots(&mut state, usize::from(commit_after));
                state.mark_good(new);
                let committed = state;
                assert_eq!(boots(&mut state, 6), vec![Some(new); 6]);
                assert_eq!(state, committed, "a committed slot is not counted");
            }
        }
    }
}

#[test]
fn rolling_back_during_a_trial_boots_the_old_slot_for_good() {
    for boot_limit in 1..=MAX_BOOT_LIMIT {
        for tried in 0..=boot_limit {
            let mut state = AbState::default();
            state.try_slot(Slot::B, boot_limit).unwrap();
            boots(&mut state, usize::from(tried));
            state.roll_back_to(Slot::A);
            assert_eq!(boots(&mut state, 5), vec![Some(Slot::A); 5]);
            assert!(!state.b.ok);
        }
    }
}

#[test]
fn a_trial_without_a_committed_fallback_is_refused() {
    for start in all_states() {
        for new in SLOTS {
            let mut state = start;
            let result = state.try_slot(new, 1);
            if start.slot(new.other()) == SlotState::COMMITTED {
                assert!(result.is_ok());
            } else {
                assert!(matches!(result, Err(AbError::NoFallback { .. })));
                assert_eq!(state, start, "a refused trial changes nothing");
            }
        }
    }
}

/// What the agent may do between boots, relative to the slot it runs on.
#[derive(Clone, Copy, Debug)]
enum Step {
    PowerOn,
    TryOther,
    MarkGood,
    RollBackToBooted,
    RollBackToOther,
}

#[test]
fn no_sequence_of_agent_steps_leaves_the_device_without_a_slot_to_boot() {
    let steps = [
        Step::PowerOn,
        Step::TryOther,
        Step::MarkGood,
        Step::RollBackToBooted,
        Step::RollBackToOther,
    ];
    for boot_limit in 1..=MAX_BOOT_LIMIT {
        let mut seen = HashSet::new();
        let mut pending = vec![(AbState::default(), Slot::A)];
        while let Some((state, booted)) = pending.pop() {
            if !seen.insert((state, booted)) {
                continue;
            }
            assert!(state.next_boot().is_some(), "{state:?} boots nothing");
            for step in steps {
                let mut next = state;
                let mut next_booted = booted;
                match step {
                    Step::PowerOn => next_booted = next.power_on().map_or(booted, |b| b.slot),
                    Step::TryOther => {
                        // Refused without a committed fallback: nothing changes.
                        let _ = next.try_slot(booted.other(), boot_limit);
                    }
                    Step::MarkGood => next.mark_good(booted),
                    Step::RollBackToBooted => next.roll_back_to(booted),
                    Step::RollBackToOther => next.roll_back_to(booted.other()),
                }
                for slot in SLOTS {
                    assert!(next.slot(slot).tries.is_none_or(|t| t <= boot_limit));
                }
                pending.push((next, next_booted));
            }
        }
        assert!(seen.len() > 20, "the search reached {} states", seen.len());
    }
}
