//! Server request latency: a histogram per route, kept in memory by this process (each
//! replica reports its own; Prometheus sums them), unlike the fleet metrics, which are
//! read from the database at scrape time.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

/// Bucket bounds in seconds: check-ins are expected in milliseconds, image uploads and
/// downloads may take minutes.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 120.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route's pattern (`/api/v1/device/checkin`, `/targets/{*path}`), never the raw
    /// path, so the label set stays bounded; "unmatched" for requests no route took.
    pub route: String,
    pub method: String,
}

type RouteHistograms = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Cheap to clone: every clone records into the same histograms.
#[derive(Clone, Debug)]
pub struct RequestMetrics {
    pub(super) durations: RouteHistograms,
}

fn new_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl Default for RequestMetrics {
    fn default() -> Self {
        RequestMetrics {
            durations: Family::new_with_constructor(new_histogram),
        }
    }
}

impl RequestMetrics {
    pub fn observe(&self, route: &str, method: &str, elapsed: Duration) {
        let labels = RouteLabels {
            route: route.to_string(),
            method: method.to_string(),
        };
        self.durations
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }
}
