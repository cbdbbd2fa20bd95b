//! The embedded local mode end to end: real sample apps behind the weighted
//! proxy, real load, the threshold policy component deciding, and a real
//! Prometheus server scraping the proxy where the built-in queries are used.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use warbler::canary::{API_VERSION, Manifest};
use warbler::journal::FileJournal;
use warbler::load::{LoadReport, LoadSpec};
use warbler::loadtester::LoadTester;
use warbler::local::{LocalOptions, LocalRun, Progress, RunEnd, RunObserver};
use warbler::ports::JournalEntry;
use warbler::sample_app::SampleApp;
use warbler_guest_sdk::{Decision, Phase};

use crate::common::{self, no_updates};
use crate::http_server;
use crate::prometheus_server::{free_port, start_prometheus};

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/flagger-frontend-canary.yaml"
);

/// A sample app on a free loopback port; its URL.
async fn sample_app(version: &str, error_rate: f64) -> String {
    let app = SampleApp {
        version: version.to_owned(),
        error_rate,
        latency: Duration::ZERO,
    };
    let (address, _) = app.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    format!("http://{address}")
}

/// `spec.local` with URL releases, as one YAML line under `spec:`.
fn local_section(listen: u16, metrics: u16, primary: &str, canary: &str) -> String {
    format!(
        "  local: {{ listen: \"127.0.0.1:{listen}\", metricsListen: \"127.0.0.1:{metrics}\", readinessPath: /healthz, primary: {{ url: \"{primary}\" }}, canary: {{ url: \"{canary}\" }} }}\n"
    )
}

/// `spec.local` for a stable 1.0.0 and a canary 1.1.0 failing
/// `canary_error_rate` of its requests, both started here.
async fn local_apps(listen: u16, metrics: u16, canary_error_rate: f64) -> String {
    local_section(
        listen,
        metrics,
        &sample_app("1.0.0", 0.0).await,
        &sample_app("1.1.0", canary_error_rate).await,
    )
}

/// A Canary `podinfo/frontend` with `local` and `analysis` (YAML under
/// `spec:`), followed by `extra` documents.
fn manifest(local: &str, analysis: &str, extra: &str) -> Manifest {
    let yaml = format!(
        "apiVersion: {API_VERSION}\nkind: Canary\nmetadata: {{ name: frontend, namespace: podinfo }}\nspec:\n  targetRef: {{ apiVersion: apps/v1, kind: Deployment, name: frontend }}\n  service: {{ port: 9898 }}\n{local}{analysis}{extra}"
    );
    Manifest::from_yaml("test.yaml", &yaml).unwrap()
}

fn options(dir: &Path, prometheus: Option<&str>) -> LocalOptions {
    LocalOptions {
        prometheus: prometheus.map(str::to_owned),
        state_dir: dir.join("state"),
        runtime: Arc::new(common::runtime()),
        registry: None,
    }
}

fn journal(dir: &Path) -> Vec<JournalEntry> {
    FileJournal::read(&dir.join("state/journal.jsonl")).unwrap()
}

/// `rps` requests per second at `url` until aborted.
fn send_load(url: &str, rps: f64) -> tokio::task::JoinHandle<LoadReport> {
    let spec = LoadSpec {
        url: url.parse().unwrap(),
        method: hyper::Method::GET,
        concurrency: 2,
        rate_per_worker: Some(rps / 2.0),
        duration: Some(Duration::from_secs(300)),
        requests: 0,
        timeout: Duration::from_secs(5),
    };
    tokio::spawn(async move { warbler::load::run(&spec).await })
}

/// Calls `when` after each reconcile with the Canary's status.
struct Watch<F: FnMut(&Progress<'_>)>(F);

impl<F: FnMut(&Progress<'_>)> RunObserver for Watch<F> {
    fn update(&mut self, progress: &Progress<'_>) {
        (self.0)(progress);
    }
}

fn ignore() -> Watch<impl FnMut(&Progress<'_>)> {
    Watch(|_| {})
}

/// Run `run` until its rollout ends, then stop it.
async fn finish(mut run: LocalRun, observer: &mut dyn RunObserver) -> RunEnd {
    let end = run
        .run(observer, std::future::pending(), &mut no_updates())
        .await
        .unwrap();
    run.shutdown().await;
    end
}

/// Roll `manifest` out on the proxy at `listen` while `rps` requests per
/// second go through it, with built-in metrics from the proxy; how it ended
/// and its journal.
async fn run_under_load(
    manifest: Manifest,
    dir: &Path,
    listen: u16,
    rps: f64,
) -> (RunEnd, Vec<JournalEntry>) {
    let load = send_load(&format!("http://127.0.0.1:{listen}/"), rps);
    let run = LocalRun::start(manifest, options(dir, None)).await.unwrap();
    let end = finish(run, &mut ignore()).await;
    load.abort();
    (end, journal(dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_canary_is_promoted_locally_with_prometheus_scraping_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let (listen, metrics) = (free_port(), free_port());
    let prometheus = start_prometheus(dir.path(), metrics);
    let loadtester = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let loadtester_url = format!("http://{}/", loadtester.local_addr().unwrap());
    tokio::spawn(LoadTester::default().serve(loadtester));
    let events = http_server::serve(|_| (200, String::new()));
    let local = local_apps(listen, metrics, 0.0).await;
    // The seed, with its apiVersion changed, a local target added, its
    // intervals shortened and its webhooks pointed at this machine.
    let yaml = std::fs::read_to_string(SEED)
        .unwrap()
        .replace("flagger.app/v1beta1", API_VERSION)
        .replacen("interval: 1m", "interval: 3s", 1)
        .replace("interval: 1m", "interval: 10s")
        .replace("spec:\n", &format!("spec:\n{local}"))
        .replace(
            "http://frontend-canary.podinfo:9898/",
            &format!("http://127.0.0.1:{listen}/"),
        )
        .replace(
            "http://flagger-loadtest-loadtester.loadtest/",
            &loadtester_url,
        )
        .replace("http://webhook.default/webhook", &events.url("/webhook"));
    let manifest = Manifest::from_yaml("seed.yaml", &yaml).unwrap();

    let run = LocalRun::start(manifest, options(dir.path(), Some(&prometheus.address)))
        .await
        .unwrap();
    prometheus.wait_until_scraped().await;
    let end = finish(run, &mut ignore()).await;

    let steps = journal(dir.path());
    assert_eq!(end, RunEnd::Promoted, "steps: {steps:#?}");
    let mut weights: Vec<u32> = steps.iter().map(|s| s.input.state.canary_weight).collect();
    weights.dedup();
    assert_eq!(
        weights,
        [0, 10, 20, 30, 40, 50],
        "step by step to maxWeight"
    );
    let checked = &steps.last().unwrap().input.metrics[0];
    assert!(
        checked.canary.is_some_and(|v| v > 99.0),
        "success rate from Prometheus: {checked:?}"
    );
    let bodies: Vec<String> = events.requests().into_iter().map(|r| r.body).collect();
    assert!(
        bodies.iter().any(|b| b.contains("Promotion completed")
            && b.contains(r#""eventType":"Normal""#)
            && b.contains(r#""app":"frontend""#)),
        "event webhook calls: {bodies:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_naming_a_shared_policy_of_its_file_is_judged_by_it_with_its_config() {
    let dir = tempfile::tempdir().unwrap();
    let (listen, metrics) = (free_port(), free_port());
    let local = local_apps(listen, metrics, 0.0).await;
    let shared = format!(
        "---\napiVersion: {API_VERSION}\nkind: AnalysisPolicy\nmetadata: {{ name: platform-threshold, namespace: podinfo }}\nspec:\n  ref: builtin:threshold\n  config: {{ missingMetric: fail }}\n"
    );
    let manifest = manifest(
        &local,
        r#"  analysis:
    interval: 1s
    threshold: 2
    stepWeight: 25
    maxWeight: 50
    metrics:
    - { name: request-success-rate, interval: 10s, thresholdRange: { min: 99 } }
    policy:
      policyRef: { name: platform-threshold }
      config: { missingMetric: skip }
"#,
        &shared,
    );
    let (end, steps) = run_under_load(manifest, dir.path(), listen, 50.0).await;
    assert_eq!(end, RunEnd::Promoted, "steps: {steps:#?}");
    for step in &steps {
        assert_eq!(step.policy, "builtin:threshold");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&step.input.config).unwrap(),
            serde_json::json!({ "missingMetric": "skip" }),
            "the Canary's config over the shared default"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_with_five_percent_errors_is_rolled_back_after_threshold_failed_checks() {
    let dir = tempfile::tempdir().unwrap();
    let (listen, metrics) = (free_port(), free_port());
    let prometheus = start_prometheus(dir.path(), metrics);
    let local = local_apps(listen, metrics, 0.05).await;
    // The success rate comes from a MetricTemplate in the same file.
    let template = format!(
        r#"---
apiVersion: {API_VERSION}
kind: MetricTemplate
metadata: {{ name: success-rate, namespace: podinfo }}
spec:
  provider: {{ type: prometheus, address: "{}" }}
  query: |
    sum(rate(response_total{{namespace="{{{{ namespace }}}}", deployment="{{{{ target }}}}", classification!="failure"}}[{{{{ interval }}}}]))
    / sum(rate(response_total{{namespace="{{{{ namespace }}}}", deployment="{{{{ target }}}}"}}[{{{{ interval }}}}])) * 100
"#,
        prometheus.address
    );
    let manifest = manifest(
        &local,
        r#"  analysis:
    interval: 3s
    threshold: 2
    stepWeight: 25
    maxWeight: 50
    metrics:
    - { name: success, templateRef: { name: success-rate }, interval: 10s, thresholdRange: { min: 99 } }
"#,
        &template,
    );
    let load = send_load(&format!("http://127.0.0.1:{listen}/"), 100.0);
    let run = LocalRun::start(manifest, options(dir.path(), None))
        .await
        .unwrap();
    prometheus.wait_until_scraped().await;
    let end = finish(run, &mut ignore()).await;
    load.abort();

    let steps = journal(dir.path());
    assert!(
        matches!(&end, RunEnd::RolledBack(why) if why.contains("failed checks threshold reached 2")),
        "{end:?}"
    );
    let failed: Vec<Option<f64>> = steps
        .iter()
        .filter(|s| matches!(&s.outcome, Ok(v) if matches!(v.decision, Decision::Hold { failed: true, .. })))
        .map(|s| s.input.metrics[0].canary)
        .collect();
    assert_eq!(failed.len(), 2, "two failed checks: {steps:#?}");
    for rate in failed {
        assert!(
            rate.is_some_and(|r| (90.0..99.0).contains(&r)),
            "canary success rate {rate:?}"
        );
    }
    assert!(
        matches!(
            &steps.last().unwrap().outcome,
            Ok(v) if matches!(v.decision, Decision::Hold { failed: true, .. })
        ),
        "the host rolls back at the threshold without another step, as Flagger: {steps:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_whose_metrics_disappear_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let (listen, metrics) = (free_port(), free_port());
    let prometheus = start_prometheus(dir.path(), metrics);
    let local = local_apps(listen, metrics, 0.0).await;
    let manifest = manifest(
        &local,
        r#"  analysis:
    interval: 3s
    threshold: 2
    stepWeight: 20
    maxWeight: 80
    metrics:
    - { name: request-success-rate, interval: 4s, thresholdRange: { min: 99 } }
    - { name: request-duration, interval: 4s, thresholdRange: { max: 500 } }
"#,
        "",
    );
    let load = send_load(&format!("http://127.0.0.1:{listen}/"), 100.0);
    let run = LocalRun::start(manifest, options(dir.path(), Some(&prometheus.address)))
        .await
        .unwrap();
    prometheus.wait_until_scraped().await;
    // The traffic stops once the canary has passed a step with data.
    let mut load = Some(load);
    let mut stop_load = Watch(|progress: &Progress<'_>| {
        if progress.canary.status.canary_weight >= 40
            && let Some(load) = load.take()
        {
            load.abort();
        }
    });
    let end = finish(run, &mut stop_load).await;

    let steps = journal(dir.path());
    assert!(matches!(end, RunEnd::RolledBack(_)), "{end:?}: {steps:#?}");
    let last_checked = steps
        .iter()
        .rev()
        .find(|s| matches!(&s.outcome, Ok(v) if matches!(v.decision, Decision::Hold { failed: true, .. })))
        .expect("a failed check");
    let metric = &last_checked.input.metrics[0];
    assert!(
        metric.canary.is_none_or(f64::is_nan),
        "no value without traffic: {metric:?}"
    );
    assert!(
        metric.note.contains("response_total"),
        "the note names the query: {}",
        metric.note
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_resumes_at_its_weight_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let listen = free_port();
    let local = local_apps(listen, free_port(), 0.0).await;
    let analysis = r#"  analysis:
    interval: 1s
    threshold: 2
    stepWeight: 10
    maxWeight: 40
    metrics:
    - { name: request-success-rate, interval: 5s, thresholdRange: { min: 99 } }
"#;
    let load = send_load(&format!("http://127.0.0.1:{listen}/"), 100.0);
    let mut run = LocalRun::start(manifest(&local, analysis, ""), options(dir.path(), None))
        .await
        .unwrap();
    let reached = Notify::new();
    let mut notify_at_20 = Watch(|progress: &Progress<'_>| {
        if progress.canary.status.canary_weight >= 20 {
            reached.notify_one();
        }
    });
    let end = run
        .run(&mut notify_at_20, reached.notified(), &mut no_updates())
        .await
        .unwrap();
    assert_eq!(end, RunEnd::Interrupted);
    run.shutdown().await;
    let steps_before = journal(dir.path()).len();

    let run = LocalRun::start(manifest(&local, analysis, ""), options(dir.path(), None))
        .await
        .unwrap();
    let status = &run.canary().status;
    assert_eq!(
        (status.phase, status.canary_weight),
        (Phase::Progressing, 20)
    );
    let end = finish(run, &mut ignore()).await;
    load.abort();

    assert_eq!(end, RunEnd::Promoted, "{:#?}", journal(dir.path()));
    let resumed: Vec<u32> = journal(dir.path())[steps_before..]
        .iter()
        .map(|s| s.input.state.canary_weight)
        .collect();
    assert_eq!(resumed, [20, 30, 40], "resumed at 20%, not from 0");
}

#[tokio::test]
async fn a_canary_without_a_local_target_is_refused_with_the_field_to_add() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest("", "  analysis: { interval: 1s }\n", "");
    let Err(err) = LocalRun::start(manifest, options(dir.path(), None)).await else {
        panic!("started without spec.local");
    };
    assert!(
        err.to_string().starts_with("spec.local is missing"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_serves_http1_and_http2_clients_from_the_primary_at_weight_zero() {
    let dir = tempfile::tempdir().unwrap();
    let listen = free_port();
    let local = local_apps(listen, free_port(), 0.0).await;
    let run = LocalRun::start(
        manifest(&local, "  analysis: { interval: 1m }\n", ""),
        options(dir.path(), None),
    )
    .await
    .unwrap();
    let url = format!("http://127.0.0.1:{listen}/");
    for (client, version) in [
        (reqwest::Client::new(), reqwest::Version::HTTP_11),
        (
            reqwest::Client::builder()
                .http2_prior_knowledge()
                .build()
                .unwrap(),
            reqwest::Version::HTTP_2,
        ),
    ] {
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.version(), version);
        assert_eq!(response.status(), 200);
        let body = response.text().await.unwrap();
        assert!(body.contains(r#""version":"1.0.0""#), "{body}");
    }
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_template_reads_a_metrics_endpoint_for_canary_and_primary() {
    let dir = tempfile::tempdir().unwrap();
    let (listen, metrics) = (free_port(), free_port());
    let local = local_apps(listen, metrics, 0.0).await;
    // Failed responses, read straight from the proxy's own /metrics.
    let template = format!(
        r#"---
apiVersion: {API_VERSION}
kind: MetricTemplate
metadata: {{ name: failures, namespace: podinfo }}
spec:
  provider: {{ type: scrape, address: "http://127.0.0.1:{metrics}/metrics" }}
  query: 'response_total{{deployment="{{{{ target }}}}", classification="failure"}}'
"#
    );
    let manifest = manifest(
        &local,
        r#"  analysis:
    interval: 1s
    stepWeight: 50
    maxWeight: 50
    metrics:
    - { name: failures, templateRef: { name: failures }, thresholdRange: { max: 0 } }
"#,
        &template,
    );
    let (end, steps) = run_under_load(manifest, dir.path(), listen, 100.0).await;
    assert_eq!(end, RunEnd::Promoted, "{steps:#?}");
    let failures = &steps.last().unwrap().input.metrics[0];
    assert_eq!((failures.canary, failures.primary), (Some(0.0), Some(0.0)));
}

/// The Canary's analysis judged by `builtin:slo-burn` (99.9%) on error and
/// request counts that Prometheus, scraping the proxy, gives per second.
/// Each sample counts 5 s of requests: overlapping samples count every
/// request five times, errors as well, which leaves the ratio as it is.
fn slo_burn_analysis() -> &'static str {
    r#"  analysis:
    interval: 3s
    threshold: 2
    stepWeight: 25
    maxWeight: 50
    metrics:
    - name: error-count
      interval: 60s
      query: 'sum(increase(response_total{namespace="{{ namespace }}", deployment="{{ target }}", classification="failure"}[5s])) or vector(0)'
    - name: request-count
      interval: 60s
      query: 'sum(increase(response_total{namespace="{{ namespace }}", deployment="{{ target }}"}[5s]))'
    policy:
      ref: builtin:slo-burn
      config: { objective: 99.9 }
"#
}

/// `slo_burn_analysis` rolled out with a canary failing `error_rate` of its
/// requests, under load, with Prometheus scraping the proxy.
async fn slo_burn_run(error_rate: f64) -> (RunEnd, Vec<JournalEntry>) {
    let dir = tempfile::tempdir().unwrap();
    let (listen, metrics) = (free_port(), free_port());
    let prometheus = start_prometheus(dir.path(), metrics);
    let local = local_apps(listen, metrics, error_rate).await;
    let manifest = manifest(&local, slo_burn_analysis(), "");
    let load = send_load(&format!("http://127.0.0.1:{listen}/"), 100.0);
    let run = LocalRun::start(manifest, options(dir.path(), Some(&prometheus.address)))
        .await
        .unwrap();
    prometheus.wait_until_scraped().await;
    let end = finish(run, &mut ignore()).await;
    load.abort();
    (end, journal(dir.path()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slo_burn_promotes_a_canary_within_its_error_budget_on_prometheus_counts() {
    let (end, steps) = slo_burn_run(0.0).await;
    assert_eq!(end, RunEnd::Promoted, "steps: {steps:#?}");
    let judged = steps
        .iter()
        .filter_map(|step| step.outcome.as_ref().ok())
        .flat_map(|verdict| &verdict.judgements)
        .find(|j| j.metric == "burn 300s/60s")
        .expect("a step judged the fast window pair");
    assert!(judged.detail.contains("(burn 0.0x)"), "{judged:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slo_burn_rolls_back_a_canary_burning_its_error_budget_fifty_times_over() {
    let (end, steps) = slo_burn_run(0.05).await;
    let RunEnd::RolledBack(why) = &end else {
        panic!("{end:?}: {steps:#?}");
    };
    assert!(why.contains("burn"), "{why}");
    let last = steps.last().unwrap().outcome.as_ref().unwrap();
    assert!(
        matches!(last.decision, Decision::Rollback { .. }),
        "the fast pair rolls back at once, not after failed checks: {steps:#?}"
    );
}
