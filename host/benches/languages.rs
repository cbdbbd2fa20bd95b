//! Fresh-instance decisions of the same policy (`zscore`) written in Rust,
//! Python and JavaScript, and loads from the warm precompiled cache. Builds
//! the Python and JavaScript examples from source first (their toolchains
//! must be installed: tests/run.sh does).
//!
//! `cargo bench -p warbler --bench languages` (prints figures).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use warbler::case_table::CaseTable;
use warbler::policy::{CpuBudget, PolicyRuntime, PolicySource, RuntimeConfig};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/examples");

fn build(example: &str) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{example}.wasm"));
    let status = Command::new("sh")
        .arg(Path::new(EXAMPLES).join(example).join("build.sh"))
        .arg(&out)
        .status()
        .expect("sh runs");
    assert!(status.success(), "building {example} failed");
    out
}

fn runtime(cache_dir: &Path) -> PolicyRuntime {
    PolicyRuntime::new(RuntimeConfig {
        cpu: CpuBudget::Fuel(200_000_000),
        cache_dir: Some(cache_dir.to_owned()),
        ..RuntimeConfig::default()
    })
    .expect("engine starts")
}

fn quantiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let n = samples.len();
    (samples[n / 2], samples[(n * 99 / 100).min(n - 1)])
}

fn main() {
    let table = CaseTable::read(&Path::new(EXAMPLES).join("zscore-cases.yaml")).expect("table");
    let input = table.cases[1].input.clone().expect("a valid input");
    let cache = tempfile::tempdir().expect("a temporary directory");
    let components = [
        ("Rust", PathBuf::from(warbler_test_guests::ZSCORE), 10_000),
        ("Python", build("python-zscore"), 1_000),
        ("JavaScript", build("js-zscore"), 1_000),
    ];
    println!("zscore policy, fresh instance per decision (pooling allocator, fuel):");
    for (language, path, n) in components {
        let source = PolicySource::File(path.clone());
        let size = std::fs::metadata(&path)
            .map(|m| m.len())
            .unwrap_or_default();
        let compile = Instant::now();
        let policy = runtime(cache.path())
            .load(&source)
            .expect("the policy loads");
        let compile = compile.elapsed();
        for _ in 0..n / 10 {
            black_box(policy.evaluate(&input).expect("a verdict"));
        }
        let decisions = (0..n)
            .map(|_| {
                let start = Instant::now();
                black_box(policy.evaluate(black_box(&input)).expect("a verdict"));
                start.elapsed()
            })
            .collect();
        let (median, p99) = quantiles(decisions);
        // The fixed cost of a fresh instance: instantiate, a trivial call, drop.
        let describes = (0..n)
            .map(|_| {
                let start = Instant::now();
                black_box(policy.describe().expect("a description"));
                start.elapsed()
            })
            .collect();
        let (describe_median, _) = quantiles(describes);
        let loads = (0..20)
            .map(|_| {
                let fresh = runtime(cache.path());
                let start = Instant::now();
                black_box(fresh.load(&source).expect("the policy loads"));
                start.elapsed()
            })
            .collect();
        let (load_median, _) = quantiles(loads);
        println!(
            "{language:<11} {:>6.1} MiB  decision median {median:>9.2?}  p99 {p99:>9.2?}  \
             describe() only {describe_median:>9.2?}  first compile {compile:>8.2?}  \
             load from warm cache {load_median:>8.2?}",
            size as f64 / (1 << 20) as f64
        );
    }
}
