//! What the embedded proxy counts: responses and latencies per backend, in
//! Linkerd's metric names and buckets. The counters are exported for
//! Prometheus to scrape and, kept as one-second snapshots, answer the
//! built-in metrics directly when no Prometheus is at hand.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use warbler_guest_sdk::Series;

/// Linkerd's `response_latency_ms` bucket bounds, in milliseconds.
pub const LATENCY_BUCKETS_MS: [f64; 25] = [
    1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 100.0, 200.0, 300.0, 400.0, 500.0,
    1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 10000.0, 20000.0, 30000.0, 40000.0, 50000.0,
];

/// Buckets plus `+Inf`.
const BUCKETS: usize = LATENCY_BUCKETS_MS.len() + 1;

/// Snapshots kept: long enough for a 15-minute metric window.
const HISTORY: usize = 15 * 60 + 1;

/// Snapshots closer together than this replace each other.
const MIN_SNAPSHOT_GAP_MS: i64 = 500;

/// Samples in a series handed to policies.
const SAMPLES_PER_WINDOW: usize = 60;

/// Which deployment answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The stable release (`NAME-primary`).
    Primary,
    /// The release under analysis (`NAME`).
    Canary,
}

impl Backend {
    fn index(self) -> usize {
        match self {
            Backend::Primary => 0,
            Backend::Canary => 1,
        }
    }
}

#[derive(Debug, Default)]
struct LiveCounts {
    success: AtomicU64,
    failure: AtomicU64,
    latency_sum_us: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
}

/// Cumulative counts of one backend at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) success: u64,
    pub(crate) failure: u64,
    latency_sum_us: u64,
    buckets: [u64; BUCKETS],
}

impl Counts {
    fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            success: self.success - earlier.success,
            failure: self.failure - earlier.failure,
            latency_sum_us: self.latency_sum_us - earlier.latency_sum_us,
            buckets: std::array::from_fn(|i| self.buckets[i] - earlier.buckets[i]),
        }
    }

    fn total(&self) -> u64 {
        self.success + self.failure
    }

    fn success_rate(&self) -> Option<f64> {
        let total = self.total();
        (total > 0).then(|| self.success as f64 * 100.0 / total as f64)
    }

    /// Prometheus's `histogram_quantile`: linear interpolation inside the
    /// bucket holding the rank.
    fn latency_quantile(&self, q: f64) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let mut below = 0u64;
        for (i, &count) in self.buckets.iter().enumerate() {
            let cumulative = below + count;
            if cumulative as f64 >= rank && count > 0 {
                let Some(&upper) = LATENCY_BUCKETS_MS.get(i) else {
                    return LATENCY_BUCKETS_MS.last().copied();
                };
                let lower = if i == 0 {
                    0.0
                } else {
                    LATENCY_BUCKETS_MS[i - 1]
                };
                let fraction = (rank - below as f64) / count as f64;
                return Some(lower + (upper - lower) * fraction);
            }
            below = cumulative;
        }
        LATENCY_BUCKETS_MS.last().copied()
    }
}

#[derive(Debug, Clone, Copy)]
struct Snapshot {
    at_ms: i64,
    backends: [Counts; 2],
}

/// A built-in metric the embedded router answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficMetric {
    /// Percentage of non-5xx responses (`request-success-rate`).
    SuccessRate,
    /// 99th percentile latency in milliseconds (`request-duration`).
    LatencyP99,
}

impl TrafficMetric {
    /// The metric a Flagger built-in name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "request-success-rate" => Some(TrafficMetric::SuccessRate),
            "request-duration" => Some(TrafficMetric::LatencyP99),
            _ => None,
        }
    }

    fn of(self, counts: &Counts) -> Option<f64> {
        match self {
            TrafficMetric::SuccessRate => counts.success_rate(),
            TrafficMetric::LatencyP99 => counts.latency_quantile(0.99),
        }
    }
}

/// Response counters of the primary and the canary of one Canary.
#[derive(Debug)]
pub struct TrafficStats {
    namespace: String,
    name: String,
    live: [LiveCounts; 2],
    history: Mutex<VecDeque<Snapshot>>,
}

impl TrafficStats {
    /// Counters for the canary `namespace/name`; the primary is exported as
    /// deployment `NAME-primary`, as Flagger names it.
    pub fn new(namespace: &str, name: &str) -> Self {
        TrafficStats {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            live: Default::default(),
            history: Mutex::new(VecDeque::with_capacity(HISTORY)),
        }
    }

    /// Count one response (or a failure to get one).
    pub fn record(&self, backend: Backend, failed: bool, latency: Duration) {
        let live = &self.live[backend.index()];
        if failed {
            live.failure.fetch_add(1, Ordering::Relaxed);
        } else {
            live.success.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        live.latency_sum_us.fetch_add(micros, Ordering::Relaxed);
        let millis = micros as f64 / 1000.0;
        let bucket = LATENCY_BUCKETS_MS
            .iter()
            .position(|&bound| millis <= bound)
            .unwrap_or(BUCKETS - 1);
        live.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn counts(&self, backend: Backend) -> Counts {
        let live = &self.live[backend.index()];
        Counts {
            success: live.success.load(Ordering::Relaxed),
            failure: live.failure.load(Ordering::Relaxed),
            latency_sum_us: live.latency_sum_us.load(Ordering::Relaxed),
            buckets: std::array::from_fn(|i| live.buckets[i].load(Ordering::Relaxed)),
        }
    }

    /// Keep the counters as they are at `at_ms`; the sampler calls this
    /// every second, and [`TrafficStats::measure`] once more before it reads.
    pub fn snapshot(&self, at_ms: i64) {
        let snapshot = Snapshot {
            at_ms,
            backends: [self.counts(Backend::Primary), self.counts(Backend::Canary)],
        };
        let mut history = self.history.lock().expect("traffic history poisoned");
        // A snapshot right after another replaces it, so measurements
        // between two ticks do not eat into the 15 minutes kept.
        if let Some(last) = history.back_mut()
            && at_ms - last.at_ms < MIN_SNAPSHOT_GAP_MS
        {
            *last = snapshot;
            return;
        }
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(snapshot);
    }

    /// `metric` of `backend` over the `window` ending `end_ms`, with a
    /// series of up to 60 samples; `None` when no request reached it.
    pub fn measure(
        &self,
        metric: TrafficMetric,
        backend: Backend,
        window: Duration,
        end_ms: i64,
    ) -> (Option<f64>, Option<Series>) {
        let history = self.history.lock().expect("traffic history poisoned");
        let at = |t: i64| -> Option<&Snapshot> {
            history
                .iter()
                .rev()
                .find(|s| s.at_ms <= t)
                .or_else(|| history.front())
        };
        let delta = |from: i64, to: i64| -> Option<Counts> {
            let (a, b) = (at(from)?, at(to)?);
            Some(b.backends[backend.index()].since(&a.backends[backend.index()]))
        };
        let window_ms = window.as_millis() as i64;
        let start_ms = end_ms - window_ms;
        let value = delta(start_ms, end_ms).and_then(|c| metric.of(&c));
        let step_ms = (window_ms / SAMPLES_PER_WINDOW as i64).max(1000);
        let samples = (window_ms / step_ms).clamp(1, SAMPLES_PER_WINDOW as i64);
        let first_ms = end_ms - step_ms * (samples - 1);
        let values: Vec<f64> = (0..samples)
            .map(|i| {
                let t = first_ms + i * step_ms;
                delta(t - step_ms, t)
                    .and_then(|c| metric.of(&c))
                    .unwrap_or(f64::NAN)
            })
            .collect();
        let series = if values.iter().any(|v| !v.is_nan()) {
            Some(Series {
                start_ms: first_ms,
                step_ms: step_ms as u32,
                values,
            })
        } else {
            None
        };
        (value, series)
    }

    fn deployment(&self, backend: Backend) -> String {
        match backend {
            Backend::Primary => format!("{}-primary", self.name),
            Backend::Canary => self.name.clone(),
        }
    }
}

impl Collector for TrafficStats {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let backends = [Backend::Primary, Backend::Canary].map(|b| (b, self.counts(b)));
        let labels = |backend| {
            vec![
                ("namespace", self.namespace.clone()),
                ("deployment", self.deployment(backend)),
                ("direction", "inbound".to_owned()),
            ]
        };
        let mut responses = encoder.encode_descriptor(
            "response",
            "Responses by backend and classification (Linkerd's names).",
            None,
            MetricType::Counter,
        )?;
        for (backend, counts) in &backends {
            for (classification, value) in
                [("success", counts.success), ("failure", counts.failure)]
            {
                let mut set = labels(*backend);
                set.push(("classification", classification.to_owned()));
                responses
                    .encode_family(&set)?
                    .encode_counter::<NoLabelSet, _, u64>(&value, None)?;
            }
        }
        let mut latency = encoder.encode_descriptor(
            "response_latency_ms",
            "Response latency in milliseconds by backend (Linkerd's names and buckets).",
            None,
            MetricType::Histogram,
        )?;
        for (backend, counts) in &backends {
            // Per-bucket counts: the encoder makes them cumulative.
            let buckets: Vec<(f64, u64)> = LATENCY_BUCKETS_MS
                .iter()
                .chain(std::iter::once(&f64::INFINITY))
                .copied()
                .zip(counts.buckets)
                .collect();
            latency
                .encode_family(&labels(*backend))?
                .encode_histogram::<NoLabelSet>(
                    counts.latency_sum_us as f64 / 1000.0,
                    counts.total(),
                    &buckets,
                    None,
                )?;
        }
        Ok(())
    }
}

/// The Prometheus text exposition of `stats`.
pub fn exposition(stats: std::sync::Arc<TrafficStats>) -> String {
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(stats));
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
        .expect("writing to a String cannot fail");
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn stats_with(successes: u64, failures: u64, latency_ms: u64) -> TrafficStats {
        let stats = TrafficStats::new("test", "podinfo");
        stats.snapshot(0);
        for _ in 0..successes {
            stats.record(Backend::Canary, false, Duration::from_millis(latency_ms));
        }
        for _ in 0..failures {
            stats.record(Backend::Canary, true, Duration::from_millis(latency_ms));
        }
        stats.snapshot(10_000);
        stats
    }

    #[test]
    fn success_rate_is_the_share_of_non_failed_responses_in_the_window() {
        let stats = stats_with(95, 5, 3);
        let (value, _) = stats.measure(
            TrafficMetric::SuccessRate,
            Backend::Canary,
            Duration::from_secs(10),
            10_000,
        );
        assert_eq!(value, Some(95.0));
    }

    #[test]
    fn a_backend_without_requests_has_no_value() {
        let stats = stats_with(10, 0, 3);
        let (value, series) = stats.measure(
            TrafficMetric::SuccessRate,
            Backend::Primary,
            Duration::from_secs(10),
            10_000,
        );
        assert_eq!((value, series), (None, None));
    }

    #[test]
    fn latency_p99_interpolates_inside_the_bucket_like_histogram_quantile() {
        // All 100 responses took 7 ms: bucket (5, 10], rank 99 of 100.
        let stats = stats_with(100, 0, 7);
        let (value, _) = stats.measure(
            TrafficMetric::LatencyP99,
            Backend::Canary,
            Duration::from_secs(10),
            10_000,
        );
        assert_eq!(value, Some(9.95));
    }

    #[test]
    fn only_requests_inside_the_window_count() {
        let stats = stats_with(50, 50, 3);
        for _ in 0..100 {
            stats.record(Backend::Canary, false, Duration::from_millis(3));
        }
        stats.snapshot(20_000);
        let (value, series) = stats.measure(
            TrafficMetric::SuccessRate,
            Backend::Canary,
            Duration::from_secs(10),
            20_000,
        );
        assert_eq!(value, Some(100.0));
        let series = series.expect("samples in the window");
        assert_eq!(series.step_ms, 1000);
        assert_eq!(series.values.last(), Some(&100.0));
    }

    #[test]
    fn a_snapshot_right_after_another_replaces_it() {
        let stats = TrafficStats::new("test", "podinfo");
        stats.snapshot(0);
        stats.snapshot(1_000);
        stats.record(Backend::Canary, true, Duration::from_millis(3));
        stats.snapshot(1_200);
        let history = stats.history.lock().unwrap();
        let times: Vec<i64> = history.iter().map(|s| s.at_ms).collect();
        assert_eq!(times, [0, 1_200]);
        assert_eq!(
            history[1].backends[1].failure, 1,
            "the newer counts are kept"
        );
    }

    #[test]
    fn exposition_uses_linkerd_metric_names_and_labels() {
        let stats = Arc::new(stats_with(3, 1, 3));
        let text = exposition(stats);
        assert!(
            text.contains(r#"response_total{namespace="test",deployment="podinfo",direction="inbound",classification="failure"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"response_latency_ms_bucket{namespace="test",deployment="podinfo-primary",direction="inbound",le="+Inf"} 0"#),
            "{text}"
        );
        assert!(
            text.contains(r#"response_latency_ms_count{namespace="test",deployment="podinfo",direction="inbound"} 4"#),
            "{text}"
        );
        // Buckets are cumulative: 3 ms responses are in le=3 and every bound above.
        for (le, count) in [("2", 0), ("3", 4), ("50000", 4), ("+Inf", 4)] {
            let line = format!(
                r#"response_latency_ms_bucket{{namespace="test",deployment="podinfo",direction="inbound",le="{le}"}} {count}"#
            );
            assert!(text.contains(&line), "{line} in {text}");
        }
    }
}
