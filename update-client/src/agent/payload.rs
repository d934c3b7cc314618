//! Choosing the form a release travels in and installing it, falling back to the next
//! form when one fails: a delta from the running image, else the compressed image, else
//! the raw image (`crate::payload` decides; `crate::install` writes the slot).
//!
//! The journal names the form being installed (`payload`), so an interrupted install
//! resumes with the same form, and every report of the update carries it. When a form
//! fails for any reason but a network interruption (refused download, header mismatch,
//! apply error, corrupt data, too little memory, a missing file), the next form is
//! journaled, with why the delta failed, and installed in the same run; only the failure
//! of the raw image, the last form, fails the update.

use tracing::{info, warn};
use update_core::api::PayloadKind;
use update_core::trust::TrustedMetadata;

use super::Agent;
use crate::crash::{self, Point};
use crate::error::{Error, Result};
use crate::install::Install;
use crate::payload::{self, Form, Lookup, Plan, kind_name, payload_of};
use crate::state::{Journal, SlotContent};

impl Agent {
    /// Looks the delta and compressed forms of `raw` up in the verified metadata (through
    /// delegations, as the raw target) and plans the forms to try.
    pub(super) async fn plan_payload(
        &self,
        trusted: &mut TrustedMetadata,
        raw: Form,
        running: Option<&SlotContent>,
    ) -> Result<Plan> {
        let config = &self.config.payload;
        let delta_target = match running.filter(|_| config.delta) {
            Some(running) => {
                let name = payload::delta_name(&raw, running);
                self.look_up(trusted, &name).await?
            }
            None => Ok(None),
        };
        let zstd_target = match config.zstd {
            true => self.look_up(trusted, &payload::zstd_name(&raw)).await?,
            false => Ok(None),
        };
        let delta = payload::check_delta(config, &raw, running, &delta_target);
        let zstd = payload::check_zstd(config, &raw, &zstd_target);
        let plan = payload::plan(raw, delta, zstd);
        if let Some(first) = plan.steps.first() {
            info!(
                payload = first.form.kind.as_str(),
                target = %first.form.target_name,
                length = first.form.target.length,
                "payload chosen: {}",
                first.reason
            );
        }
        Ok(plan)
    }

    /// A form's target, if listed; a lookup that fails for good is a reason not to use
    /// the form, a network interruption is the poll's error.
    async fn look_up(&self, trusted: &mut TrustedMetadata, name: &str) -> Result<Lookup> {
        match self.updater.find_target(trusted, name).await {
            Ok(found) => Ok(Ok(found)),
            Err(e) if e.is_interruption() => Err(e),
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    /// Installs the plan's forms in order from the one the journal names, until one is
    /// in the slot. Returns the error of a network interruption (the journal keeps the
    /// form and its progress for the next attempt) or of the last form.
    pub(super) async fn install_plan(
        &self,
        install: &Install<'_>,
        plan: &Plan,
        journal: &mut Journal,
    ) -> Result<()> {
        let first = self.resume_point(plan, journal)?;
        let mut delta_failure = journal
            .payload
            .as_ref()
            .and_then(|p| p.delta_failure.clone());
        let mut previous: Option<(PayloadKind, String)> = None;
        for (index, step) in plan.steps.iter().enumerate().skip(first) {
            if let Some((kind, failure)) = previous.take() {
                let mut payload = payload_of(step, delta_failure.clone());
                if kind != PayloadKind::Delta {
                    payload.reason = format!(
                        "{}; the {} failed: {failure}",
                        payload.reason,
                        kind_name(kind)
                    );
                }
                journal.payload = Some(payload);
                journal.clear_progress();
                self.state.save_journal(journal)?;
                crash::point(Point::AfterJournalFallback);
                info!(
                    payload = step.form.kind.as_str(),
                    target = %step.form.target_name,
                    "falling back: {}",
                    step.reason
                );
            }
            let last = index + 1 == plan.steps.len();
            let failure = match install.run(&step.form, journal).await {
                Ok(()) => return Ok(()),
                Err(e) if last || e.is_interruption() => return Err(e),
                Err(e) => e,
            };
            let kind = step.form.kind;
            warn!(
                "the {} failed, trying the next form: {failure}",
                kind_name(kind)
            );
            if kind == PayloadKind::Delta {
                delta_failure = Some(failure.to_string());
            }
            previous = Some((kind, failure.to_string()));
        }
        Err(Error::BadResponse {
            url: "(payload plan)".into(),
            reason: "no form of the release to install".into(),
        })
    }

    /// The step the journal's form is at: an interrupted install continues with it (a
    /// journal naming no form is from an agent that knew only the raw image). A journal
    /// naming a form the plan no longer has starts over with the plan's first.
    fn resume_point(&self, plan: &Plan, journal: &mut Journal) -> Result<usize> {
        let (kind, name) = match &journal.payload {
            Some(payload) => (payload.kind, payload.target_name.as_str()),
            None => (PayloadKind::Raw, journal.target_name.as_str()),
        };
        let journaled = plan
            .steps
            .iter()
            .position(|step| step.form.kind == kind && step.form.target_name == name);
        if let Some(index) = journaled {
            if journal.payload.is_none() {
                journal.payload = plan.steps.get(index).map(|step| payload_of(step, None));
            }
            return Ok(index);
        }
        let first = plan.steps.first().ok_or_else(|| Error::BadResponse {
            url: "(payload plan)".into(),
            reason: "no form of the release to install".into(),
        })?;
        journal.payload = Some(payload_of(first, None));
        journal.clear_progress();
        self.state.save_journal(journal)?;
        Ok(0)
    }
}
