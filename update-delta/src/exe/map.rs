//! The address map M: old virtual address -> new virtual address, piecewise as a
//! constant displacement per segment, and how the generator fits it to what it
//! observed (where matched code moved, and where each matched reference points in the
//! new build).

/// From `start` on (until the next segment), addresses move by `displacement`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub start: u64,
    pub displacement: i64,
}

/// Segments sorted by strictly increasing `start`; before the first, nothing moves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AddressMap {
    segments: Vec<Segment>,
}

/// What a pair of references says: `address` of the old build moved by
/// `displacement`, and so (probably) did the `lead` bytes before it (the head of the
/// record that holds an observed field); `weight` is how much the pair is trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Observation {
    pub address: u64,
    pub displacement: i64,
    pub lead: u8,
    pub weight: u8,
}

/// The observations of one address folded: the displacement with the most weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Point {
    pub address: u64,
    pub displacement: i64,
    pub weight: u32,
    pub lead: u8,
}

impl AddressMap {
    /// `None` unless `segments` are sorted by strictly increasing start.
    pub(crate) fn new(segments: Vec<Segment>) -> Option<AddressMap> {
        let sorted = segments
            .windows(2)
            .all(|pair| pair[0].start < pair[1].start);
        sorted.then_some(AddressMap { segments })
    }

    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub(crate) fn displacement(&self, address: u64) -> i64 {
        let after = self.segments.partition_point(|s| s.start <= address);
        after
            .checked_sub(1)
            .map_or(0, |i| self.segments[i].displacement)
    }

    /// The piecewise-constant map that agrees with the most weight of `points` at the
    /// cost of few segments: points are taken in address order as runs of equal
    /// displacement; a run lighter than `min_weight` is not worth its segment (it stays
    /// mispredicted), the others start a segment where their displacement changes.
    pub(crate) fn fit(points: &[Point], min_weight: u64) -> AddressMap {
        let mut segments: Vec<Segment> = Vec::new();
        let mut current = 0i64;
        // The last point of the last run kept: a new segment starts after it.
        let mut kept_until: Option<u64> = None;
        let mut run_start = 0;
        while run_start < points.len() {
            let displacement = points[run_start].displacement;
            let run_len = points[run_start..]
                .iter()
                .take_while(|p| p.displacement == displacement)
                .count();
            let run = &points[run_start..run_start + run_len];
            let weight: u64 = run.iter().map(|p| u64::from(p.weight)).sum();
            if weight >= min_weight {
                if displacement != current {
                    let first = run[0].address;
                    let head = first.saturating_sub(u64::from(run[0].lead));
                    // Unobserved addresses between two runs stay with the first (the
                    // tail of a function after its last reference), but for the head of
                    // the new run's first record.
                    let start = kept_until.map_or(head, |last| head.max(last.saturating_add(1)));
                    segments.push(Segment {
                        start,
                        displacement,
                    });
                    current = displacement;
                }
                kept_until = Some(run[run_len - 1].address);
            }
            run_start += run_len;
        }
        AddressMap { segments }
    }
}

/// Folds observations into one point per address (the displacement observed most
/// there), sorted by address.
pub(crate) fn vote(mut observations: Vec<Observation>) -> Vec<Point> {
    observations.sort_unstable();
    let mut points: Vec<Point> = Vec::new();
    let mut index = 0;
    while index < observations.len() {
        let first = observations[index];
        let same = observations[index..]
            .iter()
            .take_while(|o| (o.address, o.displacement) == (first.address, first.displacement));
        let (count, weight, lead) = same.fold((0usize, 0u32, 0u8), |(count, weight, lead), o| {
            (
                count + 1,
                weight.saturating_add(u32::from(o.weight)),
                lead.max(o.lead),
            )
        });
        match points.last_mut() {
            Some(last) if last.address == first.address => {
                if weight > last.weight {
                    (last.displacement, last.weight, last.lead) =
                        (first.displacement, weight, lead);
                }
            }
            _ => points.push(Point {
                address: first.address,
                displacement: first.displacement,
                weight,
                lead,
            }),
        }
        index += count;
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(address: u64, displacement: i64, weight: u32) -> Point {
        Point {
            address,
            displacement,
            weight,
            lead: 0,
        }
    }

    fn observation(address: u64, displacement: i64, lead: u8) -> Observation {
        Observation {
            address,
            displacement,
            lead,
            weight: 1,
        }
    }

    #[test]
    fn fit_follows_heavy_runs_and_ignores_light_outliers() {
        let points = [
            point(10, 0, 5),
            point(20, 16, 1),
            point(30, 16, 1),
            point(40, 99, 1),
            point(50, 16, 3),
            point(60, -8, 4),
        ];
        let map = AddressMap::fit(&points, 2);
        assert_eq!(map.displacement(5), 0);
        assert_eq!(map.displacement(19), 0);
        assert_eq!(map.displacement(20), 16);
        assert_eq!(map.displacement(40), 16, "a lone outlier gets no segment");
        assert_eq!(map.displacement(59), 16);
        assert_eq!(map.displacement(60), -8);
        assert_eq!(map.segments().len(), 2);
    }

    #[test]
    fn vote_keeps_the_majority_per_address() {
        let observations = [(7, 1), (7, 2), (7, 2), (3, 0)].map(|(a, d)| observation(a, d, 0));
        let points = vote(observations.to_vec());
        assert_eq!(points, vec![point(3, 0, 1), point(7, 2, 2)]);
    }

    #[test]
    fn a_segment_starts_at_the_head_of_its_first_record() {
        let points = vote(vec![
            observation(100, 0, 0),
            observation(110, 0, 0),
            observation(140, 5, 8),
            observation(160, 5, 8),
            observation(165, 9, 8),
            observation(170, 9, 0),
        ]);
        let map = AddressMap::fit(&points, 2);
        assert_eq!(map.displacement(131), 0);
        assert_eq!(
            map.displacement(132),
            5,
            "8 bytes before the first observed field"
        );
        assert_eq!(
            map.displacement(160),
            5,
            "never before the previous run's last point"
        );
        assert_eq!(map.displacement(161), 9);
    }

    #[test]
    fn unsorted_segments_are_refused() {
        let segment = |start| Segment {
            start,
            displacement: 1,
        };
        assert!(AddressMap::new(vec![segment(1), segment(1)]).is_none());
        assert!(AddressMap::new(vec![segment(2), segment(1)]).is_none());
        assert!(AddressMap::new(vec![segment(1), segment(2)]).is_some());
    }
}
