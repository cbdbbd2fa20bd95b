//! A labelled dataset of rollouts made from a seed: healthy canaries
//! (drawn like their primary) and regressions of several kinds and sizes.
//! `cargo run -p warbler --example backtest_dataset -- DIR` writes it; the
//! repository keeps one under `tests/data/backtest/`, and a test checks it
//! is what the generator makes.
//!
//! Each rollout has 8 steps of a 60 s interval, sampled every 2 s, while
//! traffic (the canary's share growing 0, 20, 40, then 60%) is split between
//! canary and primary. Per sample: a mean latency whose noise shrinks as
//! 1/√requests, and errors drawn per request. Per step: Flagger's two
//! built-in metrics and two counts, `error-count` and `request-count`, over
//! the interval and per sample.

use std::collections::BTreeMap;
use std::path::Path;

use warbler_guest_sdk::{
    Analysis, CanaryRef, Input, Metric, Phase, RolloutState, Series, ThresholdRange,
};

use super::{LABELS, Label, Scenario};
use crate::ports::JournalEntry;

/// The canary's share of traffic at each step, as a rollout that passes
/// every step has it.
const SHARES: [f64; 8] = [0.0, 0.2, 0.4, 0.6, 0.6, 0.6, 0.6, 0.6];
/// Samples per step.
const SAMPLES: usize = 30;
/// Milliseconds between samples.
const STEP_MS: u32 = 2_000;
/// The seed of the repository's dataset.
pub const SEED: u64 = 20_261_207;
/// When the first rollout starts (Unix ms).
const START_MS: i64 = 1_795_000_000_000;

/// A kind of rollout and how its canary differs from its primary.
struct Kind {
    name: &'static str,
    rollouts: usize,
    regression: bool,
    /// Requests per second, canary and primary together.
    rps: f64,
    /// Error probability per request, primary then canary.
    errors: (f64, f64),
    /// The canary's median latency over the primary's.
    latency: f64,
    /// Share of the canary's samples that are twice as slow.
    tail: f64,
    /// The canary's latency noise over the primary's.
    spread: f64,
    /// Whether the canary receives no requests at all.
    no_traffic: bool,
}

const fn healthy(name: &'static str, rollouts: usize) -> Kind {
    Kind {
        name,
        rollouts,
        regression: false,
        rps: 100.0,
        errors: (0.005, 0.005),
        latency: 1.0,
        tail: 0.0,
        spread: 1.0,
        no_traffic: false,
    }
}

/// The dataset's kinds, healthy first.
const KINDS: [Kind; 7] = [
    healthy("healthy", 100),
    Kind {
        latency: 1.2,
        regression: true,
        ..healthy("latency-shift-20pct", 20)
    },
    Kind {
        tail: 0.1,
        regression: true,
        ..healthy("latency-tail-10pct-2x", 20)
    },
    Kind {
        spread: 3.0,
        regression: true,
        ..healthy("latency-variance-3x", 20)
    },
    Kind {
        errors: (0.005, 0.01),
        regression: true,
        ..healthy("error-rate-doubled", 20)
    },
    Kind {
        rps: 2.0,
        errors: (0.005, 0.05),
        regression: true,
        ..healthy("errors-rising-low-traffic", 20)
    },
    Kind {
        no_traffic: true,
        regression: true,
        ..healthy("no-traffic", 10)
    },
];

/// A small deterministic generator (SplitMix64): the same seed gives the
/// same dataset on every machine.
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Failures among `n` requests failing with probability `p` each.
    fn failures(&mut self, n: u64, p: f64) -> u64 {
        (0..n).filter(|_| self.uniform() < p).count() as u64
    }
}

/// One side's samples over a step: latencies, success rates, and totals.
struct Side {
    latency: Vec<f64>,
    success: Vec<f64>,
    /// Failed and all requests of each sample.
    counts: (Vec<f64>, Vec<f64>),
    errors: u64,
    requests: u64,
}

impl Side {
    fn draw(
        draws: &mut Draws,
        requests_per_sample: f64,
        error_rate: f64,
        kind: Option<&Kind>,
    ) -> Side {
        let (mut latency, mut success) = (Vec::new(), Vec::new());
        let mut counts = (Vec::new(), Vec::new());
        let (mut errors, mut requests) = (0, 0);
        for _ in 0..SAMPLES {
            let n = requests_per_sample.round() as u64;
            if n == 0 {
                latency.push(f64::NAN);
                success.push(f64::NAN);
                counts.0.push(0.0);
                counts.1.push(0.0);
                continue;
            }
            let (factor, spread) = kind.map_or((1.0, 1.0), |k| {
                let tail = if draws.uniform() < k.tail { 2.0 } else { 1.0 };
                (k.latency * tail, k.spread)
            });
            let noise = 0.1 * spread * (40.0 / n as f64).sqrt();
            // To the hundredth of a millisecond and of a percent, as a
            // Prometheus dashboard shows them: the dataset stays small.
            let hundredths = |v: f64| (v * 100.0).round() / 100.0;
            latency.push(hundredths(100.0 * factor * (noise * draws.normal()).exp()));
            let failed = draws.failures(n, error_rate);
            success.push(hundredths(100.0 * (1.0 - failed as f64 / n as f64)));
            counts.0.push(failed as f64);
            counts.1.push(n as f64);
            errors += failed;
            requests += n;
        }
        Side {
            latency,
            success,
            counts,
            errors,
            requests,
        }
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    let present: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    (!present.is_empty())
        .then(|| (100.0 * present.iter().sum::<f64>() / present.len() as f64).round() / 100.0)
}

fn metric(
    name: &str,
    range: ThresholdRange,
    values: (Option<f64>, Option<f64>),
    series: Option<(&[f64], &[f64], i64)>,
) -> Metric {
    let series_of = |values: &[f64], start_ms| Series {
        start_ms,
        step_ms: STEP_MS,
        values: values.to_vec(),
    };
    Metric {
        name: name.to_owned(),
        canary: values.0,
        primary: values.1,
        canary_series: series.map(|(canary, _, start)| series_of(canary, start)),
        primary_series: series.map(|(_, primary, start)| series_of(primary, start)),
        threshold_range: range,
        interval_seconds: 60,
        note: String::new(),
    }
}

/// One step's input of a rollout of `kind`.
fn step_input(draws: &mut Draws, kind: &Kind, name: &str, step: usize, started_ms: i64) -> Input {
    let share = if kind.no_traffic { 0.0 } else { SHARES[step] };
    let per_sample = kind.rps * f64::from(STEP_MS) / 1000.0;
    let canary = Side::draw(draws, per_sample * share, kind.errors.1, Some(kind));
    let primary = Side::draw(draws, per_sample * (1.0 - share), kind.errors.0, None);
    let now_ms = started_ms + (step as i64 + 1) * 60_000;
    let start = now_ms - (SAMPLES as i64 - 1) * i64::from(STEP_MS);
    let rate = |side: &Side| {
        (side.requests > 0)
            .then(|| (1e4 * (1.0 - side.errors as f64 / side.requests as f64)).round() / 100.0)
    };
    let count = |side: &Side, errors: bool| {
        let n = if errors { side.errors } else { side.requests };
        Some(n as f64)
    };
    let none = ThresholdRange::default();
    Input {
        canary: CanaryRef {
            name: name.to_owned(),
            namespace: "backtest".to_owned(),
            revision: format!("{name}-canary"),
        },
        analysis: Analysis {
            interval_seconds: 60,
            threshold: 2,
            step_weight: Some(20),
            step_weights: Vec::new(),
            max_weight: Some(60),
            iterations: None,
        },
        state: RolloutState {
            phase: Phase::Progressing,
            canary_weight: (share * 100.0).round() as u32,
            failed_checks: 0,
            iteration: step as u32,
            elapsed_seconds: step as u64 * 60,
        },
        metrics: vec![
            metric(
                "request-success-rate",
                ThresholdRange {
                    min: Some(99.0),
                    max: None,
                },
                (rate(&canary), rate(&primary)),
                Some((&canary.success, &primary.success, start)),
            ),
            metric(
                "request-duration",
                ThresholdRange {
                    min: None,
                    max: Some(500.0),
                },
                (mean(&canary.latency), mean(&primary.latency)),
                Some((&canary.latency, &primary.latency, start)),
            ),
            metric(
                "error-count",
                none,
                (count(&canary, true), count(&primary, true)),
                Some((&canary.counts.0, &primary.counts.0, start)),
            ),
            metric(
                "request-count",
                none,
                (count(&canary, false), count(&primary, false)),
                Some((&canary.counts.1, &primary.counts.1, start)),
            ),
        ],
        webhooks: Vec::new(),
        history: Vec::new(),
        now_ms,
        config: "null".to_owned(),
        earlier_steps: Vec::new(),
    }
}

/// The dataset for `seed`.
pub fn generate(seed: u64) -> Vec<Scenario> {
    let mut draws = Draws(seed);
    let mut scenarios = Vec::new();
    for kind in &KINDS {
        for n in 0..kind.rollouts {
            let name = format!("{}-{n:03}", kind.name);
            let started_ms = START_MS + scenarios.len() as i64 * 3_600_000;
            let steps = (0..SHARES.len())
                .map(|step| JournalEntry {
                    canary: format!("backtest/{name}"),
                    policy: "dataset".to_owned(),
                    policy_digest: None,
                    run_started_ms: started_ms,
                    step: step as u32 + 1,
                    at_ms: started_ms + (step as i64 + 1) * 60_000,
                    input: step_input(&mut draws, kind, &name, step, started_ms),
                    shadows: Vec::new(),
                    outcome: Err("generated input, never judged".to_owned()),
                })
                .collect();
            scenarios.push(Scenario {
                name: format!("{name}.jsonl"),
                label: Label {
                    kind: kind.name.to_owned(),
                    regression: kind.regression,
                },
                steps,
            });
        }
    }
    scenarios
}

/// Write `scenarios` into `dir`: a journal each and `labels.json`.
pub fn write(dir: &Path, scenarios: &[Scenario]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut labels = BTreeMap::new();
    for scenario in scenarios {
        let mut text = String::new();
        for step in &scenario.steps {
            text.push_str(&serde_json::to_string(step).expect("journal entries serialize"));
            text.push('\n');
        }
        std::fs::write(dir.join(&scenario.name), text)?;
        labels.insert(scenario.name.clone(), scenario.label.clone());
    }
    let labels = serde_json::to_string_pretty(&labels).expect("labels serialize");
    std::fs::write(dir.join(LABELS), labels + "\n")
}
