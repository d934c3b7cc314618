//! The reference time for expiry checks, on devices whose clock cannot be trusted.
//!
//! Many devices have no battery-backed clock and boot in 1970, or drift. The client
//! keeps a time floor in `DIR/time-floor` (RFC 3339 text; not `.json`, so it is never
//! mistaken for metadata): the reference time of its last successful refresh. That
//! moment is bounded by the expiry of metadata the client verified at it, so a clock
//! running ahead cannot push the floor further than the repository's own freshness
//! window. Expiry is never evaluated earlier than the floor; a clock behind it is used
//! as the floor instead and reported as untrusted.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tracing::warn;

use crate::atomic::{read_limited, write_atomic};
use crate::error::{Error, Result};

const FILE: &str = "time-floor";

/// The reference time for one refresh and whether the local clock was behind the floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReferenceTime {
    pub time: DateTime<Utc>,
    pub clock_untrusted: bool,
}

#[derive(Debug, Clone)]
pub struct TimeFloor {
    path: PathBuf,
}

impl TimeFloor {
    pub fn new(metadata_dir: &Path) -> Self {
        TimeFloor {
            path: metadata_dir.join(FILE),
        }
    }

    /// The floor, if one was recorded and is readable (a damaged file is ignored: the
    /// floor is a safety net, not a source of trust).
    pub fn load(&self) -> Option<DateTime<Utc>> {
        let bytes = read_limited(&self.path, 64).ok().flatten()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// `now`, unless the clock is behind the floor.
    pub fn reference_time(&self, now: DateTime<Utc>) -> ReferenceTime {
        match self.load() {
            Some(floor) if floor > now => {
                warn!(%now, %floor, "local clock is behind the time floor: clock untrusted, using the floor");
                ReferenceTime {
                    time: floor,
                    clock_untrusted: true,
                }
            }
            _ => ReferenceTime {
                time: now,
                clock_untrusted: false,
            },
        }
    }

    /// Records `time` (the reference time of a refresh that succeeded) if it is later.
    pub fn advance(&self, time: DateTime<Utc>) -> Result<()> {
        if self.load().is_some_and(|floor| floor >= time) {
            return Ok(());
        }
        write_atomic(&self.path, time.to_rfc3339().as_bytes())
            .map_err(Error::io(format!("writing {}", self.path.display())))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn a_clock_behind_the_floor_is_untrusted_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let floor = TimeFloor::new(dir.path());
        let now = Utc::now();
        assert_eq!(
            floor.reference_time(now),
            ReferenceTime {
                time: now,
                clock_untrusted: false
            }
        );
        floor.advance(now).unwrap();
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        let reference = floor.reference_time(epoch);
        assert!(reference.clock_untrusted);
        assert_eq!(reference.time.timestamp(), now.timestamp());
        // The floor never moves back.
        floor.advance(now - Duration::days(1)).unwrap();
        assert_eq!(floor.load().unwrap().timestamp(), now.timestamp());
        floor.advance(now + Duration::hours(1)).unwrap();
        assert!(
            !floor
                .reference_time(now + Duration::hours(2))
                .clock_untrusted
        );
    }

    #[test]
    fn a_damaged_floor_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"not a time").unwrap();
        let now = Utc::now();
        assert!(
            !TimeFloor::new(dir.path())
                .reference_time(now)
                .clock_untrusted
        );
    }
}
