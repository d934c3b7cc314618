//! How sure the rollout rules are that a wave fails too often: the lower bound of the
//! Wilson score interval of its failure rate. Wilson rather than the normal
//! approximation because waves are small and rates near 0 or 1, where the normal
//! interval collapses to a point (1 of 1 failed would be "100 % ± 0").

use statrs::distribution::{ContinuousCDF, Normal};

/// The failure rate that `failed` of `finished` exceeds with one-sided `confidence`
/// (e.g. 0.95); 0 with nothing finished or a confidence outside (0, 1).
pub fn failure_rate_lower_bound(failed: u64, finished: u64, confidence: f64) -> f64 {
    if finished == 0 || !(confidence > 0.0 && confidence < 1.0) {
        return 0.0;
    }
    let Ok(normal) = Normal::new(0.0, 1.0) else {
        return 0.0;
    };
    let z = normal.inverse_cdf(confidence);
    let n = finished as f64;
    let rate = failed.min(finished) as f64 / n;
    let z2 = z * z;
    let centre = rate + z2 / (2.0 * n);
    let spread = z * (rate * (1.0 - rate) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - spread) / (1.0 + z2 / n)).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_waves_need_more_evidence_than_their_raw_rate() {
        // 3 of 28 is 10.7 %, but not confidently above 10 %.
        assert!(failure_rate_lower_bound(3, 28, 0.95) < 0.10);
        // 12 of 51 (23.5 %) is above 10 % with 95 % confidence.
        let bound = failure_rate_lower_bound(12, 51, 0.95);
        assert!((0.14..0.17).contains(&bound), "{bound}");
        // A release that fails everywhere halts quickly.
        assert!(failure_rate_lower_bound(5, 5, 0.95) > 0.6);
        assert_eq!(failure_rate_lower_bound(0, 40, 0.95), 0.0);
    }

    #[test]
    fn degenerate_inputs_give_no_evidence() {
        assert_eq!(failure_rate_lower_bound(1, 0, 0.95), 0.0);
        assert_eq!(failure_rate_lower_bound(1, 1, 1.0), 0.0);
        assert_eq!(failure_rate_lower_bound(1, 1, f64::NAN), 0.0);
        // More failures than finished updates cannot push the bound past 1.
        assert!(failure_rate_lower_bound(9, 3, 0.95) <= 1.0);
    }

    #[test]
    fn more_confidence_lowers_the_bound() {
        let (b90, b99) = (
            failure_rate_lower_bound(10, 50, 0.90),
            failure_rate_lower_bound(10, 50, 0.99),
        );
        assert!(b99 < b90 && b90 < 0.2, "{b90} {b99}");
    }
}
