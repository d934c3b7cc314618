//! The rollout rules without a server: counts, soak gate, halts, completion, offers.

use chrono::{DateTime, Utc};
use update_core::api::UpdateEvent;
use update_core::classes::{RolloutSpec, RolloutState, RolloutStatus, WaveStatus};

use super::*;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
}

fn rollout(waves: Vec<u8>) -> RolloutStatus {
    RolloutStatus {
        id: "camera-r1".into(),
        spec: RolloutSpec {
            class: "camera".into(),
            target_name: "camera-2.0.0.img".into(),
            waves,
            soak_secs: 600,
            max_failure_rate: 0.2,
            min_finished: 5,
            halt_confidence: None,
        },
        version: "2.0.0".parse().unwrap(),
        state: RolloutState::Running,
        wave: 0,
        wave_opened_at: at(0),
        created_at: at(0),
        reason: None,
        waves: Vec::new(),
    }
}

fn open_wave(status: &mut RolloutStatus, success: u64, failed: u64, rolled_back: u64) {
    let mut waves: Vec<WaveStatus> = status
        .spec
        .waves
        .iter()
        .map(|&percent| WaveStatus {
            percent,
            ..WaveStatus::default()
        })
        .collect();
    waves[status.wave] = WaveStatus {
        percent: status.spec.waves[status.wave],
        devices: 100,
        finished: success + failed + rolled_back,
        success,
        failure: failed,
        rolled_back,
    };
    status.waves = waves;
}

fn device(n: usize, outcome: Option<UpdateEvent>) -> DeviceProgress {
    DeviceProgress {
        device_id: format!("dev-{n}"),
        started: outcome.is_some(),
        outcome,
    }
}

#[test]
fn waves_count_their_own_devices_and_outcomes() {
    let status = rollout(vec![10, 50, 100]);
    let devices: Vec<DeviceProgress> = (0..300)
        .map(|n| {
            let outcome = match n % 3 {
                0 => Some(UpdateEvent::Success),
                1 => Some(UpdateEvent::RolledBack),
                _ => None,
            };
            device(n, outcome)
        })
        .collect();
    let waves = wave_statuses(&status, &devices);
    assert_eq!(waves.iter().map(|w| w.devices).sum::<u64>(), 300);
    assert_eq!(waves.iter().map(|w| w.finished).sum::<u64>(), 200);
    assert_eq!(waves.iter().map(|w| w.rolled_back).sum::<u64>(), 100);
    // The 10 % band holds about 30 devices, the 50 % band about 120.
    assert!((15..=45).contains(&waves[0].devices), "{waves:?}");
    assert!((90..=150).contains(&waves[1].devices), "{waves:?}");
}

#[test]
fn the_next_wave_opens_only_after_the_soak_and_under_the_threshold() {
    let mut status = rollout(vec![10, 100]);
    open_wave(&mut status, 10, 1, 0);
    assert_eq!(evaluate(&status, at(599)), None);
    let next = evaluate(&status, at(600)).unwrap();
    assert_eq!(
        next,
        Transition::Advance {
            wave: 1,
            opened_at: at(600)
        }
    );
    apply(&mut status, &next);
    assert_eq!((status.wave, status.wave_opened_at), (1, at(600)));
    // Over the threshold but below min_finished: neither halt nor advance.
    open_wave(&mut status, 2, 2, 0);
    assert_eq!(evaluate(&status, at(5000)), None);
}

#[test]
fn a_wave_halts_only_once_enough_updates_finished() {
    let mut status = rollout(vec![10, 100]);
    open_wave(&mut status, 1, 1, 0);
    assert_eq!(
        evaluate(&status, at(1)),
        None,
        "1 failure of 2 is no signal"
    );
    open_wave(&mut status, 3, 1, 1);
    let halt = evaluate(&status, at(1)).unwrap();
    let Transition::Halt { reason } = &halt else {
        panic!("expected a halt, got {halt:?}");
    };
    assert!(
        reason.contains("wave 1") && reason.contains("2 of 5"),
        "{reason}"
    );
    apply(&mut status, &halt);
    assert_eq!(status.state, RolloutState::Halted);
    assert_eq!(evaluate(&status, at(10_000)), None, "halted stays halted");
}

#[test]
fn with_a_halt_confidence_a_wave_halts_on_evidence_not_on_noise() {
    let mut status = rollout(vec![10, 100]);
    status.spec.max_failure_rate = 0.1;
    status.spec.min_finished = 20;
    status.spec.halt_confidence = Some(0.95);
    // 3 of 28 (10.7 %) is over 10 %, and would halt without a confidence; with one it
    // neither halts nor opens the next wave.
    open_wave(&mut status, 25, 2, 1);
    assert_eq!(evaluate(&status, at(5000)), None);
    let mut plain = status.clone();
    plain.spec.halt_confidence = None;
    assert!(matches!(
        evaluate(&plain, at(1)),
        Some(Transition::Halt { .. })
    ));
    // 12 of 51 (23.5 %) is over 10 % even at 95 % confidence.
    open_wave(&mut status, 39, 10, 2);
    let Some(Transition::Halt { reason }) = evaluate(&status, at(1)) else {
        panic!("expected a halt");
    };
    assert!(
        reason.contains("12 of 51") && reason.contains("95.0% confidence"),
        "{reason}"
    );
}

#[test]
fn the_last_wave_soaked_completes_the_rollout() {
    let mut status = rollout(vec![50, 100]);
    status.wave = 1;
    open_wave(&mut status, 20, 0, 0);
    let done = evaluate(&status, at(600)).unwrap();
    assert!(matches!(done, Transition::Complete { .. }), "{done:?}");
    apply(&mut status, &done);
    assert_eq!(status.state, RolloutState::Completed);
}

#[test]
fn paused_and_aborted_rollouts_evaluate_to_nothing() {
    for state in [
        RolloutState::Paused,
        RolloutState::Aborted,
        RolloutState::Completed,
    ] {
        let mut status = rollout(vec![10, 100]);
        open_wave(&mut status, 0, 10, 0);
        status.state = state;
        assert_eq!(evaluate(&status, at(10_000)), None, "{state}");
    }
}

#[test]
fn offers_follow_the_state() {
    let mut status = rollout(vec![30, 100]);
    let in_wave: Vec<DeviceProgress> = (0..200)
        .map(|n| device(n, None))
        .filter(|d| bucket(&status.id, &d.device_id) < 30)
        .collect();
    let fresh = &in_wave[0];
    let started = DeviceProgress {
        started: true,
        ..in_wave[1].clone()
    };
    assert_eq!(offer(&status, fresh, false), Offer::Release);
    let outside = (0..200)
        .map(|n| device(n, None))
        .find(|d| bucket(&status.id, &d.device_id) >= 30)
        .unwrap();
    assert_eq!(offer(&status, &outside, false), Offer::Baseline);

    status.state = RolloutState::Paused;
    assert_eq!(offer(&status, fresh, false), Offer::Baseline);
    assert_eq!(offer(&status, &started, false), Offer::Release);

    status.state = RolloutState::Running;
    assert_eq!(offer(&status, fresh, false), Offer::Release, "resumed");

    for state in [RolloutState::Halted, RolloutState::Aborted] {
        status.state = state;
        assert_eq!(offer(&status, &started, false), Offer::Baseline);
        assert_eq!(offer(&status, fresh, true), Offer::Release, "keeps it");
    }
}
