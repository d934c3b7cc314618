//! Delivering update reports through the outbox.
//!
//! A report is first appended to `outbox.json`, then the outbox is sent in order. A
//! report the server refuses outright (a 4xx other than an authentication or rate
//! problem: it will never accept it) is dropped with a warning; anything else stops
//! delivery and waits for the next attempt, before the next check-in, so reports arrive
//! in the order they happened. A power cut between delivery and removal sends a report
//! twice; the server keeps one row per device, target and event.

use reqwest::Url;
use tracing::{debug, warn};
use update_core::api::Report;

use crate::crash::{self, Point};
use crate::error::{Error, Result};
use crate::fetch::HttpClient;
use crate::identity::Identity;
use crate::state::StateDir;

#[derive(Debug, Clone)]
pub struct Reporter {
    http: HttpClient,
    url: Url,
    identity: Identity,
    state: StateDir,
}

impl Reporter {
    pub fn new(http: HttpClient, url: Url, identity: Identity, state: StateDir) -> Self {
        Reporter {
            http,
            url,
            identity,
            state,
        }
    }

    /// Queues `report` durably, then tries to deliver everything queued.
    pub async fn send(&self, report: Report) -> Result<()> {
        self.queue(report)?;
        self.flush().await
    }

    /// Appends `report` to the outbox, durably; [`Reporter::flush`] delivers it.
    pub fn queue(&self, report: Report) -> Result<()> {
        debug!(event = %report.event, target = %report.target_name, "reporting");
        let mut outbox = self.state.outbox()?;
        outbox.push(report);
        self.state.save_outbox(&outbox)?;
        crash::point(Point::AfterReportQueued);
        Ok(())
    }

    /// Delivers queued reports, oldest first. Network trouble is not an error here: the
    /// reports stay queued. Only a failure to update the outbox file is.
    pub async fn flush(&self) -> Result<()> {
        let mut outbox = self.state.outbox()?;
        while let Some(report) = outbox.first() {
            match self
                .http
                .post_signed(&self.url, &self.identity, report)
                .await
            {
                Ok(_) => crash::point(Point::AfterReportDelivered),
                Err(e @ Error::HttpStatus { status, .. }) if is_permanent_refusal(status) => {
                    warn!("server refused a report, dropping it: {e}");
                }
                Err(e) => {
                    warn!(queued = outbox.len(), "reports kept for later: {e}");
                    return Ok(());
                }
            }
            outbox.pop_first();
            self.state.save_outbox(&outbox)?;
        }
        Ok(())
    }
}

/// Client errors that resending the same report cannot fix. Identity problems (401,
/// 403: not yet enrolled, revoked) can be fixed, so those reports are kept.
fn is_permanent_refusal(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 401 | 403 | 408 | 429)
}
