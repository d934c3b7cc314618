//! Deterministic failure injection: whether a device's update of a release fails,
//! rolls back or succeeds depends only on the seed, the device id and the release, so
//! a simulation can be replayed and its expected counts computed in advance.

use update_core::hash::sha256_hex;

/// What happens to one update on one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Success,
    /// Fails before the switch (e.g. the slot write fails): reports `failure`.
    Failure,
    /// Installed, then the new slot fails its health check: reports `rolled-back`.
    RollBack,
}

/// Injected failure and rollback shares, each in [0, 1], with their sum at most 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FateRates {
    pub failure: f64,
    pub rollback: f64,
    pub seed: u64,
}

impl FateRates {
    pub fn fate(&self, device_id: &str, target_name: &str) -> Fate {
        let draw = unit_draw(self.seed, device_id, target_name);
        if draw < self.failure {
            Fate::Failure
        } else if draw < self.failure + self.rollback {
            Fate::RollBack
        } else {
            Fate::Success
        }
    }
}

/// A number in [0, 1) from the sha256 of the inputs.
pub(crate) fn unit_draw(seed: u64, device_id: &str, target_name: &str) -> f64 {
    let digest = sha256_hex(format!("{seed}\0{device_id}\0{target_name}").as_bytes());
    let top = digest
        .get(..13)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or(0);
    // 13 hex digits = 52 bits, exactly representable in an f64.
    top as f64 / (1u64 << 52) as f64
}

/// Parses a rate such as `3%`, `0.5 %` or `0.03`.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let (number, scale) = match trimmed.strip_suffix('%') {
        Some(percent) => (percent.trim(), 100.0),
        None => (trimmed, 1.0),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a rate such as 3% or 0.03"))?;
    let rate = value / scale;
    if !(0.0..=1.0).contains(&rate) {
        return Err(format!("{text:?} is not between 0% and 100%"));
    }
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_as_percent_or_fraction() {
        assert_eq!(parse_rate("3%"), Ok(0.03));
        assert_eq!(parse_rate("0.5"), Ok(0.5));
        assert!(parse_rate("120%").is_err());
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("lots").is_err());
    }

    #[test]
    fn fates_are_deterministic_and_follow_the_rates() {
        let rates = FateRates {
            failure: 0.1,
            rollback: 0.2,
            seed: 7,
        };
        let fates: Vec<Fate> = (0..10_000)
            .map(|i| rates.fate(&format!("dev-{i}"), "camera-1.1.0.img"))
            .collect();
        let again: Vec<Fate> = (0..10_000)
            .map(|i| rates.fate(&format!("dev-{i}"), "camera-1.1.0.img"))
            .collect();
        assert_eq!(fates, again);
        let count = |fate| fates.iter().filter(|f| **f == fate).count();
        assert!((800..1200).contains(&count(Fate::Failure)));
        assert!((1700..2300).contains(&count(Fate::RollBack)));
    }
}
