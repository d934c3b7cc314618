//! `--expires`: when signed metadata stops being valid, as a lifetime (`365d`) or as an
//! exact UTC time (`2036-11-25T00:00:00Z`, for metadata that must expire on a given date).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use update_core::schema::whole_seconds;

/// The default lifetime of metadata `ota` signs.
pub const DEFAULT_EXPIRY: &str = "365d";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    After(std::time::Duration),
    At(DateTime<Utc>),
}

#[derive(Debug, thiserror::Error)]
pub enum ExpiryError {
    #[error(
        "invalid expiry {0:?}: give a lifetime such as 365d or 12h, or a UTC time such as 2036-11-25T00:00:00Z"
    )]
    Unparsable(String),
    #[error("expiry {0} is not in the future")]
    NotInFuture(DateTime<Utc>),
    #[error("expiry lifetime {0} is too long")]
    TooLong(String),
}

impl FromStr for Expiry {
    type Err = ExpiryError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(lifetime) = humantime::parse_duration(text) {
            return Ok(Expiry::After(lifetime));
        }
        if text.ends_with('Z') {
            if let Ok(at) = DateTime::parse_from_rfc3339(text) {
                return Ok(Expiry::At(at.with_timezone(&Utc)));
            }
        }
        Err(ExpiryError::Unparsable(text.to_string()))
    }
}

impl Expiry {
    /// The `expires` time for metadata signed at `now`, in whole seconds.
    pub fn resolve(self, now: DateTime<Utc>) -> Result<DateTime<Utc>, ExpiryError> {
        let at = match self {
            Expiry::At(at) => at,
            Expiry::After(lifetime) => chrono::Duration::from_std(lifetime)
                .ok()
                .and_then(|lifetime| now.checked_add_signed(lifetime))
                .ok_or_else(|| {
                    ExpiryError::TooLong(humantime::format_duration(lifetime).to_string())
                })?,
        };
        let at = whole_seconds(at);
        if at <= now {
            return Err(ExpiryError::NotInFuture(at));
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_and_dates_resolve() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let in_a_year: Expiry = DEFAULT_EXPIRY.parse().unwrap();
        assert_eq!(
            in_a_year.resolve(now).unwrap().to_rfc3339(),
            "2027-01-01T00:00:00+00:00"
        );
        let fixed: Expiry = "2036-11-25T00:00:00Z".parse().unwrap();
        assert_eq!(
            fixed.resolve(now).unwrap().to_rfc3339(),
            "2036-11-25T00:00:00+00:00"
        );
    }

    #[test]
    fn past_and_garbage_are_refused() {
        let now = Utc::now();
        let past: Expiry = "2001-01-01T00:00:00Z".parse().unwrap();
        assert!(matches!(
            past.resolve(now),
            Err(ExpiryError::NotInFuture(_))
        ));
        assert!("tomorrow".parse::<Expiry>().is_err());
        assert!("2036-11-25T00:00:00+02:00".parse::<Expiry>().is_err());
        assert!(matches!(
            "0s".parse::<Expiry>().unwrap().resolve(now),
            Err(ExpiryError::NotInFuture(_))
        ));
    }
}
