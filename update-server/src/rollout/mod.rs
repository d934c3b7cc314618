//! Staged rollouts: the pure rules ([`engine`], [`bucket`]) and their application to the
//! stored rollouts. A rollout is re-evaluated whenever it is read for a check-in, a
//! report or the admin API, so it advances without a background task and a restarted
//! server continues where the database says it was.

pub mod bucket;
pub mod engine;
pub mod evidence;

use chrono::{DateTime, Utc};
use update_core::classes::{RolloutState, RolloutStatus};

pub use engine::{DeviceProgress, Offer, Transition};

use crate::store::{Store, StoreError};

/// An operator's command to a rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Pause,
    Resume,
    Abort,
}

impl Action {
    pub fn parse(text: &str) -> Option<Action> {
        match text {
            "pause" => Some(Action::Pause),
            "resume" => Some(Action::Resume),
            "abort" => Some(Action::Abort),
            _ => None,
        }
    }

    /// The state `action` leads to from `state`, if the action is allowed there.
    /// A halted rollout can only be aborted: resuming it would bypass the halt.
    pub fn next_state(self, state: RolloutState) -> Option<RolloutState> {
        match (self, state) {
            (Action::Pause, RolloutState::Running) => Some(RolloutState::Paused),
            (Action::Resume, RolloutState::Paused) => Some(RolloutState::Running),
            (
                Action::Abort,
                RolloutState::Running | RolloutState::Paused | RolloutState::Halted,
            ) => Some(RolloutState::Aborted),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no rollout {0:?}")]
    NotFound(String),
    #[error("cannot {action:?} a {state} rollout")]
    NotAllowed { action: Action, state: RolloutState },
    #[error("rollout {0:?} changed concurrently; try again")]
    Busy(String),
}

/// Brings `status` up to date: fills its wave counts and applies every transition the
/// rules call for at `now`, storing each. Returns the device progress it counted.
pub async fn refresh(
    store: &Store,
    status: &mut RolloutStatus,
    now: DateTime<Utc>,
) -> Result<Vec<DeviceProgress>, StoreError> {
    let progress = store
        .rollout_progress(&status.spec.class, &status.spec.target_name)
        .await?;
    // Each transition opens a wave or ends the rollout, so this many steps suffice.
    for _ in 0..=status.spec.waves.len() {
        status.waves = engine::wave_statuses(status, &progress);
        let Some(transition) = engine::evaluate(status, now) else {
            break;
        };
        let (from_state, from_wave) = (status.state, status.wave);
        engine::apply(status, &transition);
        if !store.update_rollout(from_state, from_wave, status).await? {
            // Another request moved it first: continue from what it stored.
            match store.rollout(&status.id).await? {
                Some(stored) => *status = stored,
                None => break,
            }
        }
    }
    status.waves = engine::wave_statuses(status, &progress);
    Ok(progress)
}

/// Re-evaluates the rollout that governs `class` (after a report that may halt it).
pub async fn evaluate_class(
    store: &Store,
    class: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if let Some(mut status) = store.active_rollout(class).await? {
        refresh(store, &mut status, now).await?;
    }
    Ok(())
}

/// For a check-in: the class's active rollout (as last read) brought up to date, and
/// `device_id`'s progress in it. Counting every device of the class is needed only when
/// the open wave's soak is over (a wave may open or the rollout complete); halts are
/// evaluated at each terminal report, so between those a check-in costs one small query.
pub async fn for_check_in(
    store: &Store,
    active: Option<&RolloutStatus>,
    device_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<(RolloutStatus, DeviceProgress)>, StoreError> {
    let Some(mut status) = active.cloned() else {
        return Ok(None);
    };
    if status.state == RolloutState::Running && engine::soaked(&status, now) {
        refresh(store, &mut status, now).await?;
    }
    let own = store
        .device_progress(device_id, &status.spec.target_name)
        .await?;
    Ok(Some((status, own)))
}

/// Pauses, resumes or aborts rollout `id`.
pub async fn act(
    store: &Store,
    id: &str,
    action: Action,
    now: DateTime<Utc>,
) -> Result<RolloutStatus, RolloutError> {
    let mut status = store
        .rollout(id)
        .await?
        .ok_or_else(|| RolloutError::NotFound(id.to_string()))?;
    refresh(store, &mut status, now).await?;
    let from_state = status.state;
    let next = action
        .next_state(from_state)
        .ok_or(RolloutError::NotAllowed {
            action,
            state: from_state,
        })?;
    status.state = next;
    if action == Action::Abort {
        status.reason = Some("aborted by an operator".into());
    }
    if !store
        .update_rollout(from_state, status.wave, &status)
        .await?
    {
        return Err(RolloutError::Busy(id.to_string()));
    }
    Ok(status)
}
