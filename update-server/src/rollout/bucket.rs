//! Which wave a device falls in: a stable bucket 0..100 per (rollout, device), so a
//! device keeps its place across check-ins and restarts, devices enrolled later join the
//! running rollout, and different rollouts draw different devices first.

use sha2::{Digest, Sha256};

/// sha256 of "rollout-id:device-id", first 8 bytes big-endian, mod 100.
pub fn bucket(rollout_id: &str, device_id: &str) -> u8 {
    let digest = Sha256::digest(format!("{rollout_id}:{device_id}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // The remainder is below 100, so it always fits.
    (u64::from_be_bytes(first) % 100) as u8
}

/// Index of the wave whose band holds `bucket`: wave i covers waves[i-1]..waves[i].
pub fn wave_of(waves: &[u8], bucket: u8) -> Option<usize> {
    waves.iter().position(|&percent| bucket < percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_roughly_uniform() {
        assert_eq!(bucket("r1", "dev-1"), bucket("r1", "dev-1"));
        let mut per_decile = [0u32; 10];
        for n in 0..10_000 {
            per_decile[usize::from(bucket("r1", &format!("dev-{n}")) / 10)] += 1;
        }
        // Expected 1000 each; a fair hash stays well within ±15 %.
        for count in per_decile {
            assert!((850..=1150).contains(&count), "{per_decile:?}");
        }
        let differ = (0..100)
            .filter(|n| bucket("r1", &format!("d{n}")) != bucket("r2", &format!("d{n}")))
            .count();
        assert!(differ > 80, "other rollouts draw other devices: {differ}");
    }

    #[test]
    fn waves_are_bands_of_buckets() {
        let waves = [1, 10, 50, 100];
        assert_eq!(wave_of(&waves, 0), Some(0));
        assert_eq!(wave_of(&waves, 1), Some(1));
        assert_eq!(wave_of(&waves, 49), Some(2));
        assert_eq!(wave_of(&waves, 99), Some(3));
    }
}
