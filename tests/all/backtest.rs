//! `warbler policy backtest` on the repository's labelled dataset, and the
//! dataset itself: what its seeded generator makes.

use std::path::{Path, PathBuf};

use crate::local_cli::warbler;

fn dataset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/backtest")
}

#[test]
fn the_committed_dataset_is_what_the_seeded_generator_makes() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = warbler::backtest::dataset::generate(warbler::backtest::dataset::SEED);
    warbler::backtest::dataset::write(dir.path(), &scenarios).unwrap();
    let names = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(dir.path()), names(&dataset()));
    for name in names(dir.path()) {
        let made = std::fs::read(dir.path().join(&name)).unwrap();
        let committed = std::fs::read(dataset().join(&name)).unwrap();
        assert!(
            made == committed,
            "{name} differs: regenerate with `cargo run -p warbler --example backtest_dataset`"
        );
    }
}

/// `warbler policy backtest` of the committed dataset with `args` (the
/// policies and their configs), as JSON.
fn backtest(args: &[&str]) -> serde_json::Value {
    let output = warbler()
        .args(["policy", "backtest", "--dataset"])
        .arg(dataset())
        .args(args)
        .args(["-o", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn backtest_reports_each_policy_by_kind_of_rollout() {
    let report = backtest(&["-p", "builtin:threshold", "-p", "builtin:compare"]);
    let (threshold, compare) = (&report["policies"][0], &report["policies"][1]);
    assert_eq!(threshold["policy"], "builtin:threshold");
    // Absolute thresholds: every healthy canary promoted, and a 20% slower
    // one too (120 ms is within `max: 500`).
    assert_eq!(threshold["kinds"]["healthy"]["promoted"], 100);
    assert_eq!(threshold["kinds"]["latency-shift-20pct"]["promoted"], 20);
    // Comparing with the primary catches it.
    assert_eq!(compare["kinds"]["latency-shift-20pct"]["rolledBack"], 20);
    assert_eq!(compare["kinds"]["healthy"]["rollouts"], 100);
}

#[test]
fn a_folder_without_labels_is_refused_saying_what_a_dataset_is() {
    let dir = tempfile::tempdir().unwrap();
    let output = warbler()
        .args(["policy", "backtest", "--dataset"])
        .arg(dir.path())
        .args(["-p", "builtin:threshold"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("labels.json"), "{stderr}");
}

/// What compare with `rates` gets right on the committed dataset, against
/// the Kayenta-like setup (no spread check, counts left out): the figures
/// the README reports, held so that a change to the policy cannot lose them
/// unnoticed.
#[test]
fn compare_catches_what_a_kayenta_like_judge_misses_without_rolling_back_healthy_canaries() {
    let report = backtest(&[
        "-p",
        "builtin:compare",
        "--config",
        r#"{"rates": [{"name": "errors", "events": "error-count", "trials": "request-count"}]}"#,
        "-p",
        "builtin:compare",
        "--config",
        r#"{"dispersion": {"enabled": false}, "metrics": {"error-count": {"ignore": true}, "request-count": {"ignore": true}}}"#,
    ]);
    let (compare, kayenta) = (
        &report["policies"][0]["kinds"],
        &report["policies"][1]["kinds"],
    );
    let count =
        |kinds: &serde_json::Value, kind: &str, what: &str| kinds[kind][what].as_u64().unwrap();
    assert!(count(compare, "healthy", "rolledBack") <= 1, "{compare}");
    assert_eq!(
        count(compare, "latency-shift-20pct", "promoted"),
        0,
        "{compare}"
    );
    // Counted over the run: at least 95% of doubled error rates, and three
    // in four of the error rates rising on 2 requests a second.
    assert!(
        count(compare, "error-rate-doubled", "promoted") <= 1,
        "{compare}"
    );
    assert!(
        count(compare, "errors-rising-low-traffic", "promoted") <= 5,
        "{compare}"
    );
    for kind in [
        "latency-variance-3x",
        "latency-tail-10pct-2x",
        "errors-rising-low-traffic",
        "error-rate-doubled",
    ] {
        assert!(
            count(compare, kind, "promoted") < count(kayenta, kind, "promoted"),
            "{kind}: compare {compare}, Kayenta-like {kayenta}"
        );
    }
}

#[test]
fn errors_counted_over_the_run_catch_what_each_interval_alone_misses() {
    let rate = |over: &str| {
        format!(
            r#"{{"rates": [{{"name": "errors", "events": "error-count", "trials": "request-count", "over": "{over}"}}]}}"#
        )
    };
    let (run, step) = (rate("run"), rate("step"));
    let report = backtest(&[
        "-p",
        "builtin:compare",
        "--config",
        &run,
        "-p",
        "builtin:compare",
        "--config",
        &step,
    ]);
    let promoted = |policy: usize, kind: &str| {
        report["policies"][policy]["kinds"][kind]["promoted"]
            .as_u64()
            .unwrap()
    };
    for kind in ["errors-rising-low-traffic", "error-rate-doubled"] {
        assert!(
            promoted(0, kind) < promoted(1, kind),
            "{kind}: over the run {}, over a step {}",
            promoted(0, kind),
            promoted(1, kind)
        );
    }
}
