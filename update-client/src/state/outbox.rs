//! `outbox.json`: reports waiting for delivery, oldest first.
//!
//! Every report is stored here before it is sent, and removed once the server took it,
//! so a report survives a lost network or a power cut (it may then arrive twice).

use serde::{Deserialize, Serialize};
use update_core::api::Report;

/// Reports kept while the server is unreachable; the oldest are dropped first.
const MAX_REPORTS: usize = 100;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Outbox(Vec<Report>);

impl Outbox {
    pub fn push(&mut self, report: Report) {
        self.0.push(report);
        if self.0.len() > MAX_REPORTS {
            let excess = self.0.len() - MAX_REPORTS;
            self.0.drain(..excess);
        }
    }

    pub fn first(&self) -> Option<&Report> {
        self.0.first()
    }

    pub fn pop_first(&mut self) {
        if !self.0.is_empty() {
            self.0.remove(0);
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
