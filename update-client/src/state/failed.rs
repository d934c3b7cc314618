//! `failed.json`: releases that failed on this device (refused, or rolled back), so an
//! assignment to one of them is not attempted again. A release is its target name and
//! signed sha256: republishing fixed bytes under the same name is a new release.

use serde::{Deserialize, Serialize};

/// Entries kept; the oldest are forgotten first.
const MAX_ENTRIES: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedRelease {
    pub target_name: String,
    /// `None` when the release failed before its hash was known (not in the metadata).
    pub sha256: Option<String>,
    pub reason: String,
}

impl FailedRelease {
    fn is(&self, target_name: &str, sha256: Option<&str>) -> bool {
        self.target_name == target_name
            && match (&self.sha256, sha256) {
                (Some(known), Some(sha256)) => known.eq_ignore_ascii_case(sha256),
                (None, None) => true,
                _ => false,
            }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FailedReleases(Vec<FailedRelease>);

impl FailedReleases {
    pub fn contains(&self, target_name: &str, sha256: Option<&str>) -> bool {
        self.0.iter().any(|f| f.is(target_name, sha256))
    }

    /// Forgets a failure, so the release may be tried again (the operator's decision).
    pub fn remove(&mut self, target_name: &str, sha256: Option<&str>) {
        self.0.retain(|f| !f.is(target_name, sha256));
    }

    /// Remembers a failure (once per release).
    pub fn add(&mut self, failure: FailedRelease) {
        if self.contains(&failure.target_name, failure.sha256.as_deref()) {
            return;
        }
        self.0.push(failure);
        if self.0.len() > MAX_ENTRIES {
            let excess = self.0.len() - MAX_ENTRIES;
            self.0.drain(..excess);
        }
    }

    pub fn entries(&self) -> &[FailedRelease] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(name: &str, sha256: Option<&str>) -> FailedRelease {
        FailedRelease {
            target_name: name.into(),
            sha256: sha256.map(str::to_string),
            reason: "test".into(),
        }
    }

    #[test]
    fn a_release_is_its_name_and_hash() {
        let mut failed = FailedReleases::default();
        failed.add(failure("fw-1.1.img", Some("AA")));
        failed.add(failure("fw-1.1.img", Some("aa")));
        failed.add(failure("fw-1.2.img", None));
        assert_eq!(failed.entries().len(), 2);
        assert!(failed.contains("fw-1.1.img", Some("aa")));
        assert!(!failed.contains("fw-1.1.img", Some("bb")));
        assert!(!failed.contains("fw-1.1.img", None));
        assert!(failed.contains("fw-1.2.img", None));
        assert!(!failed.contains("fw-1.2.img", Some("aa")));
    }

    #[test]
    fn a_retry_forgets_only_that_release() {
        let mut failed = FailedReleases::default();
        failed.add(failure("a.img", Some("aa")));
        failed.add(failure("b.img", Some("bb")));
        failed.remove("a.img", Some("AA"));
        assert!(!failed.contains("a.img", Some("aa")));
        assert!(failed.contains("b.img", Some("bb")));
    }

    #[test]
    fn is_bounded_forgetting_the_oldest() {
        let mut failed = FailedReleases::default();
        for i in 0..MAX_ENTRIES + 5 {
            failed.add(failure(&format!("fw-{i}"), None));
        }
        assert_eq!(failed.entries().len(), MAX_ENTRIES);
        assert!(!failed.contains("fw-0", None));
        assert!(failed.contains(&format!("fw-{}", MAX_ENTRIES + 4), None));
    }
}
