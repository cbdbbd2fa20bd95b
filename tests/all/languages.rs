//! Policies in Python and JavaScript, built from source with their own
//! toolchains (componentize-py, componentize-js) and run by Warbler
//! unchanged: the same case table as the Rust implementation, the CLI, and
//! local-mode rollouts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use warbler::canary::{API_VERSION, Manifest};
use warbler::case_table::{CaseOutcome, CaseTable};
use warbler::journal::FileJournal;
use warbler::load::LoadSpec;
use warbler::local::{LocalOptions, LocalRun, Progress, RunEnd, RunObserver};
use warbler::sample_app::SampleApp;

use crate::common::{self, no_updates};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/examples");

/// Build an example with its `build.sh` once per test run.
fn build(example: &str, hint: &str) -> PathBuf {
    build_guest(&Path::new(EXAMPLES).join(example), hint)
}

/// Build the guest in `folder` with its `build.sh` into the test binary's
/// temporary folder; its path.
pub(crate) fn build_guest(folder: &Path, hint: &str) -> PathBuf {
    let name = folder.file_name().unwrap().to_string_lossy();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.wasm"));
    let output = Command::new("sh")
        .arg(folder.join("build.sh"))
        .arg(&out)
        .output()
        .expect("sh runs");
    assert!(
        output.status.success() && out.exists(),
        "building {name} failed ({hint}):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

fn python() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        build(
            "python-zscore",
            "install componentize-py: pip install -r policies/examples/python-zscore/requirements.txt (tests/run.sh does)",
        )
    })
}

fn javascript() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("js-zscore", "install Node.js and npm (tests/run.sh does)"))
}

/// A runtime sharing one precompiled cache: each 12–18 MiB component is
/// compiled once for all these tests.
pub(crate) fn cached_runtime() -> warbler::policy::PolicyRuntime {
    common::runtime_with(warbler::policy::RuntimeConfig {
        cache_dir: Some(Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy-cache")),
        ..warbler::policy::RuntimeConfig::default()
    })
}

fn implementations() -> [(&'static str, PathBuf); 3] {
    [
        ("rust", PathBuf::from(warbler_test_guests::ZSCORE)),
        ("python", python().to_owned()),
        ("javascript", javascript().to_owned()),
    ]
}

/// The decision and each judgement's outcome: what every implementation
/// must agree on (details and scores are each language's own formatting).
fn essence(verdict: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "decision": verdict["decision"],
        "outcomes": verdict["judgements"]
            .as_array()
            .map(|js| js.iter().map(|j| j["outcome"].clone()).collect::<Vec<_>>()),
    })
}

#[test]
fn the_zscore_case_table_passes_in_rust_python_and_javascript_alike() {
    let table = CaseTable::read(&Path::new(EXAMPLES).join("zscore-cases.yaml")).unwrap();
    let runtime = cached_runtime();
    let mut verdicts: Vec<Vec<serde_json::Value>> = Vec::new();
    for (language, component) in implementations() {
        let policy = runtime
            .load(&component.display().to_string().parse().unwrap())
            .unwrap();
        let mut essences = Vec::new();
        for case in &table.cases {
            let outcome = case.run(&policy);
            assert_eq!(outcome, CaseOutcome::Passed, "{language}: {}", case.name);
            essences.push(match policy.evaluate(case.input.as_ref().unwrap()) {
                Ok(verdict) => essence(&serde_json::to_value(verdict).unwrap()),
                Err(err) => serde_json::json!({ "error": err.kind().name() }),
            });
        }
        verdicts.push(essences);
    }
    assert_eq!(
        verdicts[0], verdicts[1],
        "Rust and Python agree on every case, errors included"
    );
    assert_eq!(
        verdicts[0], verdicts[2],
        "Rust and JavaScript agree on every case"
    );
}

#[test]
fn python_and_javascript_policies_run_through_policy_eval_and_inspect() {
    let input = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/inputs/frontend-step.json"
    );
    for (component, language) in [(python(), "Python"), (javascript(), "JavaScript")] {
        let warbler = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_warbler"))
                .args(args)
                .env(
                    "WARBLER_CACHE_DIR",
                    Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy-cache"),
                )
                .output()
                .unwrap()
        };
        let path = component.to_str().unwrap();
        let eval = warbler(&["policy", "eval", "--policy", path, "--input", input]);
        assert!(
            eval.status.success(),
            "{}",
            String::from_utf8_lossy(&eval.stderr)
        );
        let verdict: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
        assert_eq!(
            essence(&verdict),
            serde_json::json!({
                "decision": { "action": "hold", "failed": true,
                              "reason": "not enough samples to compare: request-success-rate, request-duration" },
                "outcomes": ["no-data", "no-data"],
            }),
            "{language}"
        );
        let inspect = warbler(&["policy", "inspect", path]);
        let text = String::from_utf8_lossy(&inspect.stdout);
        assert!(text.contains("policy        zscore 0.1.0"), "{text}");
        assert!(
            text.contains("exports       warbler:policy/analysis@0.1.1\n"),
            "only the policy's interface is listed as its export: {text}"
        );
        assert!(
            text.contains("\n  \"properties\": {"),
            "the config schema is laid out on lines: {text}"
        );
        assert!(text.contains(&format!("({language})")), "{text}");
    }
}

/// A local rollout of `podinfo` decided by the zscore `policy`: the canary
/// fails `error_rate` of its requests.
async fn local_rollout(
    policy: &Path,
    error_rate: f64,
) -> (RunEnd, Vec<warbler::ports::JournalEntry>) {
    let dir = tempfile::tempdir().unwrap();
    let app = |version: &str, error_rate| SampleApp {
        version: version.to_owned(),
        error_rate,
        latency: Duration::ZERO,
    };
    let any = "127.0.0.1:0".parse().unwrap();
    let (primary, _) = app("1.0.0", 0.0).spawn(any).await.unwrap();
    let (canary, _) = app("1.1.0", error_rate).spawn(any).await.unwrap();
    let listen = crate::prometheus_server::free_port();
    let yaml = format!(
        r#"apiVersion: {API_VERSION}
kind: Canary
metadata: {{ name: podinfo, namespace: test }}
spec:
  targetRef: {{ kind: Deployment, name: podinfo }}
  service: {{ port: 9898 }}
  local:
    listen: "127.0.0.1:{listen}"
    readinessPath: /healthz
    primary: {{ url: "http://{primary}" }}
    canary: {{ url: "http://{canary}" }}
  analysis:
    interval: 2s
    threshold: 2
    stepWeight: 25
    maxWeight: 50
    metrics:
    - {{ name: request-success-rate, interval: 10s, thresholdRange: {{ min: 99 }} }}
    policy:
      ref: "{}"
      config: {{ minSamples: 2 }}
"#,
        policy.display()
    );
    let manifest = Manifest::from_yaml("podinfo.yaml", &yaml).unwrap();
    let options = LocalOptions {
        prometheus: None,
        state_dir: dir.path().join("state"),
        runtime: Arc::new(cached_runtime()),
        registry: None,
    };
    let spec = LoadSpec {
        url: format!("http://127.0.0.1:{listen}/").parse().unwrap(),
        method: hyper::Method::GET,
        concurrency: 2,
        rate_per_worker: Some(50.0),
        duration: Some(Duration::from_secs(120)),
        requests: 0,
        timeout: Duration::from_secs(5),
    };
    let mut run = LocalRun::start(manifest, options).await.unwrap();
    let load = tokio::spawn(async move { warbler::load::run(&spec).await });
    struct Quiet;
    impl RunObserver for Quiet {
        fn update(&mut self, _: &Progress<'_>) {}
    }
    let end = run
        .run(&mut Quiet, std::future::pending(), &mut no_updates())
        .await
        .unwrap();
    run.shutdown().await;
    load.abort();
    let steps = FileJournal::read(&dir.path().join("state/journal.jsonl")).unwrap();
    (end, steps)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_rollout_decided_by_the_python_policy_promotes_a_healthy_canary() {
    let (end, steps) = local_rollout(python(), 0.0).await;
    assert_eq!(end, RunEnd::Promoted, "{steps:#?}");
    let judged = steps.iter().filter_map(|s| s.outcome.as_ref().ok());
    assert!(
        judged
            .flat_map(|v| &v.judgements)
            .any(|j| j.detail.contains("vs primary")),
        "the zscore policy compared canary and primary: {steps:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_rollout_decided_by_the_javascript_policy_rolls_back_a_failing_canary() {
    let (end, steps) = local_rollout(javascript(), 0.1).await;
    assert!(
        matches!(&end, RunEnd::RolledBack(why) if why.contains("failed checks threshold reached 2")),
        "{end:?}: {steps:#?}"
    );
    let failing = steps
        .iter()
        .filter_map(|s| s.outcome.as_ref().ok())
        .flat_map(|v| &v.judgements)
        .filter(|j| j.outcome == warbler_guest_sdk::Outcome::Fail)
        .count();
    assert!(failing >= 1, "{steps:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canaries_keep_being_judged_while_another_canarys_policy_compiles() {
    use warbler::judge::RuntimeJudge;
    use warbler::ports::Judge;

    // No cache: the Python component (18 MiB) compiles for seconds.
    let judge = Arc::new(RuntimeJudge::new(Arc::new(common::runtime())));
    let builtin =
        common::frontend_canary("  analysis: { interval: 10s, threshold: 2, stepWeight: 10 }\n");
    let input = common::frontend_at(10);
    judge
        .judge(&builtin, &input)
        .await
        .expect("the built-in judges");
    let python = common::frontend_canary(&format!(
        "  analysis:\n    interval: 10s\n    threshold: 2\n    stepWeight: 10\n    policy: {{ ref: {:?} }}\n",
        python().display().to_string()
    ));
    let compiling = tokio::spawn({
        let (judge, input) = (judge.clone(), input.clone());
        async move { judge.judge(&python, &input).await }
    });
    // Give the compile time to start and take the load lock.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..10 {
        judge
            .judge(&builtin, &input)
            .await
            .expect("the built-in judges");
    }
    assert!(
        !compiling.is_finished(),
        "ten decisions of a loaded policy waited for another policy's compile"
    );
    compiling
        .await
        .unwrap()
        .expect("the Python policy judges once compiled");
}
