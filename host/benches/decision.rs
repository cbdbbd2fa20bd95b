//! What one policy decision costs: a fresh pooled instance per decision with
//! the built-in threshold policy (fuel and epoch budgets), the same logic run
//! natively, compare with and without earlier steps to read, and loading a
//! policy from the warm on-disk cache.
//!
//! Criterion reports mean-based estimates; the issue's targets are median and
//! p99, so a percentile pass over 10,000 individually timed decisions runs
//! first and prints them.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion};
use warbler::earlier_steps::EARLIER_STEPS_LEN;
use warbler::policy::{CpuBudget, PolicyRuntime, PolicySource, RuntimeConfig};
use warbler_guest_sdk::{
    Analysis, CanaryRef, EarlierStep, Input, Metric, Phase, Policy, RolloutState, Series,
    ThresholdRange,
};
use warbler_policy_threshold::Threshold;

/// 5 metrics × 60 samples, for canary and primary.
fn input() -> Input {
    let series = |base: f64| Series {
        start_ms: 1_795_000_000_000,
        step_ms: 1_000,
        values: (0..60).map(|i| base + f64::from(i % 7) * 0.01).collect(),
    };
    let metric = |name: &str, value: f64, range: ThresholdRange| Metric {
        name: name.to_owned(),
        canary: Some(value),
        primary: Some(value * 0.99),
        canary_series: Some(series(value)),
        primary_series: Some(series(value * 0.99)),
        threshold_range: range,
        interval_seconds: 60,
        note: String::new(),
    };
    let min = |v| ThresholdRange {
        min: Some(v),
        max: None,
    };
    let max = |v| ThresholdRange {
        min: None,
        max: Some(v),
    };
    Input {
        canary: CanaryRef {
            name: "frontend".into(),
            namespace: "podinfo".into(),
            revision: "7d9f8c6b5".into(),
        },
        analysis: Analysis {
            interval_seconds: 60,
            threshold: 3,
            step_weight: Some(10),
            step_weights: vec![],
            max_weight: Some(50),
            iterations: None,
        },
        state: RolloutState {
            phase: Phase::Progressing,
            canary_weight: 20,
            failed_checks: 0,
            iteration: 2,
            elapsed_seconds: 120,
        },
        metrics: vec![
            metric("request-success-rate", 99.7, min(99.0)),
            metric("request-duration", 180.0, max(250.0)),
            metric("error-rate", 0.2, max(1.0)),
            metric("cpu-usage", 0.4, max(0.8)),
            metric("saturation", 0.5, max(0.9)),
        ],
        webhooks: vec![],
        history: vec![],
        now_ms: 1_795_000_120_000,
        config: "null".into(),
        earlier_steps: vec![],
    }
}

fn runtime(cpu: CpuBudget, cache_dir: Option<std::path::PathBuf>) -> PolicyRuntime {
    PolicyRuntime::new(RuntimeConfig {
        cpu,
        cache_dir,
        ..RuntimeConfig::default()
    })
    .expect("engine starts")
}

const THRESHOLD: PolicySource = PolicySource::Builtin("threshold");

/// Time `f` `n` times one call at a time and print median, p99 and max.
fn percentiles(label: &str, n: usize, mut f: impl FnMut()) {
    for _ in 0..n / 10 {
        f();
    }
    let mut samples: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    let at = |q: f64| samples[((n as f64 * q) as usize).min(n - 1)];
    println!(
        "{label:<44} median {:>9.2?}  p99 {:>9.2?}  max {:>9.2?}  (n={n})",
        at(0.5),
        at(0.99),
        samples[n - 1]
    );
}

fn print_percentiles() {
    let input = input();
    let fuel = runtime(CpuBudget::Fuel(200_000_000), None);
    let policy = fuel.load(&THRESHOLD).unwrap();
    percentiles("fresh-instance decision (fuel)", 10_000, || {
        black_box(policy.evaluate(black_box(&input)).unwrap());
    });
    let epoch = runtime(CpuBudget::Deadline(Duration::from_millis(100)), None);
    let policy = epoch.load(&THRESHOLD).unwrap();
    percentiles("fresh-instance decision (epoch deadline)", 10_000, || {
        black_box(policy.evaluate(black_box(&input)).unwrap());
    });
    percentiles(
        "fresh instance, describe() only (fixed cost)",
        10_000,
        || {
            black_box(policy.describe().unwrap());
        },
    );
    percentiles("native decision (same Rust logic)", 10_000, || {
        black_box(Threshold::evaluate(black_box(&input)).unwrap());
    });
    // compare reads the run's earlier steps (contract 0.1.1): the cost of
    // twenty of them crossing into the guest, against none.
    let compare = fuel.load(&PolicySource::Builtin("compare")).unwrap();
    let first = Input {
        config: r#"{"rates":[{"name":"errors","events":"error-rate","trials":"saturation"}]}"#
            .to_owned(),
        ..input.clone()
    };
    percentiles("compare decision, first step", 2_000, || {
        black_box(compare.evaluate(black_box(&first)).unwrap());
    });
    let mut later = first.clone();
    later.earlier_steps = (0..EARLIER_STEPS_LEN as u32)
        .map(|step| EarlierStep {
            iteration: step,
            canary_weight: 20,
            at_ms: first.now_ms - i64::from(EARLIER_STEPS_LEN as u32 - step) * 60_000,
            metrics: first.metrics.clone(),
        })
        .collect();
    percentiles("compare decision, 20 earlier steps", 2_000, || {
        black_box(compare.evaluate(black_box(&later)).unwrap());
    });
    let dir = tempfile::tempdir().unwrap();
    runtime(CpuBudget::Fuel(200_000_000), Some(dir.path().to_owned()))
        .load(&THRESHOLD)
        .unwrap();
    let mut samples = Vec::new();
    for _ in 0..200 {
        let fresh = runtime(CpuBudget::Fuel(200_000_000), Some(dir.path().to_owned()));
        let start = Instant::now();
        black_box(fresh.load(&THRESHOLD).unwrap());
        let took = start.elapsed();
        samples.push(took);
    }
    samples.sort();
    println!(
        "{:<44} median {:>9.2?}  p99 {:>9.2?}  (n=200)",
        "load from warm disk cache", samples[100], samples[198]
    );
}

fn criterion_benches(c: &mut Criterion) {
    let input = input();
    let fuel = runtime(CpuBudget::Fuel(200_000_000), None);
    let policy = fuel.load(&THRESHOLD).unwrap();
    c.bench_function("decision/fresh_instance_fuel", |b| {
        b.iter(|| policy.evaluate(black_box(&input)).unwrap())
    });
    let epoch = runtime(CpuBudget::Deadline(Duration::from_millis(100)), None);
    let policy = epoch.load(&THRESHOLD).unwrap();
    c.bench_function("decision/fresh_instance_epoch", |b| {
        b.iter(|| policy.evaluate(black_box(&input)).unwrap())
    });
    // The fixed cost of a fresh instance: instantiate, a trivial call, drop.
    c.bench_function("decision/fresh_instance_describe_only", |b| {
        b.iter(|| policy.describe().unwrap())
    });
    c.bench_function("decision/native", |b| {
        b.iter(|| Threshold::evaluate(black_box(&input)).unwrap())
    });
    let dir = tempfile::tempdir().unwrap();
    runtime(CpuBudget::Fuel(200_000_000), Some(dir.path().to_owned()))
        .load(&THRESHOLD)
        .unwrap();
    c.bench_function("load/warm_disk_cache", |b| {
        b.iter_batched(
            || runtime(CpuBudget::Fuel(200_000_000), Some(dir.path().to_owned())),
            |fresh| fresh.load(&THRESHOLD).unwrap(),
            BatchSize::PerIteration,
        )
    });
}

fn main() {
    print_percentiles();
    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion);
    criterion.final_summary();
}
