//! `warbler controller` against a real control plane (kube-apiserver, etcd,
//! kube-controller-manager, kube-scheduler, kwok's fake kubelets) started by
//! `tests/cluster/up.sh`. The seed's Flagger manifest, with its apiVersion
//! changed, is rolled out and rolled back; controllers are killed mid-run.
//! `tests/run.sh` runs these with `--ignored` once the cluster is up.

mod autoscaler;
mod dashboard;
mod exporter;
mod fixture;
mod shadow_policy;
mod shared_policy;
mod tracked_config;

use std::time::Duration;

use serde_json::Value;

use exporter::Health;
use fixture::{Fixture, kubectl, try_kubectl};

use super::registry_server::Registry;

const INIT: Duration = Duration::from_secs(90);
const RUN: Duration = fixture::RUN_TIMEOUT;

/// The canary weights of the route object, as its provider writes them.
fn route_weight(fixture: &Fixture, provider: &str) -> Option<u64> {
    match provider {
        "trafficsplit" => fixture
            .get("trafficsplits.split.smi-spec.io", "frontend")
            .and_then(|split| split["spec"]["backends"][1]["weight"].as_u64()),
        _ => fixture
            .get("httproutes.gateway.networking.k8s.io", "frontend")
            .and_then(|route| route["spec"]["rules"][0]["backendRefs"][1]["weight"].as_u64()),
    }
}

fn image_of(deployment: &Value) -> String {
    deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn replicas_of(deployment: &Value) -> u64 {
    deployment["spec"]["replicas"].as_u64().unwrap_or(1)
}

/// Wait for the run to end, recording every distinct route weight seen.
async fn weights_until(fixture: &Fixture, provider: &str, phase: &str) -> Vec<u64> {
    let mut seen: Vec<u64> = Vec::new();
    fixture
        .wait_for(&format!("phase {phase}"), RUN, |status| {
            if let Some(weight) = route_weight(fixture, provider)
                && seen.last() != Some(&weight)
            {
                seen.push(weight);
            }
            status["phase"] == phase
        })
        .await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a cluster"]
async fn the_seed_canary_is_promoted_step_by_step_then_a_bad_revision_rolled_back() {
    let mut fixture = Fixture::new("podinfo").await;
    fixture.use_chart_rbac();
    fixture.apply(&fixture.seed_canary());
    let telemetry = fixture
        .start_controller(&["--mesh-provider", "linkerd", "--log-format", "json"])
        .telemetry
        .clone();

    let status = fixture.wait_for_phase("Initialized", INIT).await;
    let primary = fixture
        .get("deployment", "frontend-primary")
        .expect("primary created");
    assert_eq!(image_of(&primary), "ghcr.io/stefanprodan/podinfo:6.0.0");
    assert_eq!(
        primary["spec"]["selector"]["matchLabels"]["app"],
        "frontend-primary"
    );
    for service in ["frontend", "frontend-primary", "frontend-canary"] {
        assert!(
            fixture.get("service", service).is_some(),
            "Service {service}"
        );
    }
    let apex = fixture.get("service", "frontend").unwrap();
    assert_eq!(apex["spec"]["selector"]["app"], "frontend-primary");
    assert_eq!(route_weight(&fixture, "trafficsplit"), Some(0));
    assert_eq!(
        replicas_of(&fixture.get("deployment", "frontend").unwrap()),
        0
    );
    assert_eq!(status["policy"], "builtin:threshold");

    fixture.apply(&fixture.deployment("ghcr.io/stefanprodan/podinfo:6.0.1"));
    let weights = weights_until(&fixture, "trafficsplit", "Succeeded").await;
    // The first step can come before the first look at the route.
    let steps = weights.strip_prefix(&[0]).unwrap_or(&weights);
    assert_eq!(steps, [10, 20, 30, 40, 50, 0], "{}", fixture.logs());
    let primary = fixture.get("deployment", "frontend-primary").unwrap();
    assert_eq!(image_of(&primary), "ghcr.io/stefanprodan/podinfo:6.0.1");
    assert_eq!(
        replicas_of(&fixture.get("deployment", "frontend").unwrap()),
        0
    );
    let messages = fixture.event_messages();
    for expected in [
        "New revision detected",
        "Advance frontend",
        "Promotion completed",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(expected)),
            "no event webhook call with `{expected}` in {messages:?}"
        );
    }

    fixture.exporter.set_canary(Health::BAD);
    fixture.apply(&fixture.deployment("ghcr.io/stefanprodan/podinfo:6.0.2"));
    let status = fixture.wait_for_phase("Failed", RUN).await;
    assert_eq!(status["canaryWeight"], 0);
    assert_eq!(status["failedChecks"], 3);
    assert_eq!(route_weight(&fixture, "trafficsplit"), Some(0));
    let primary = fixture.get("deployment", "frontend-primary").unwrap();
    assert_eq!(image_of(&primary), "ghcr.io/stefanprodan/podinfo:6.0.1");
    assert_eq!(
        replicas_of(&fixture.get("deployment", "frontend").unwrap()),
        0
    );
    let promoted = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Promoted")
        .unwrap();
    assert_eq!(promoted["status"], "False");

    let get = |path: &str| {
        let url = format!("{telemetry}{path}");
        async move {
            let response = reqwest::get(&url).await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz").await.0, 200);
    assert_eq!(get("/readyz").await.0, 200);
    let (code, metrics) = get("/metrics").await;
    assert_eq!(code, 200);
    for series in [
        r#"warbler_canary_runs_total{namespace="podinfo",name="frontend",outcome="promoted"} 1"#,
        r#"warbler_canary_runs_total{namespace="podinfo",name="frontend",outcome="rolled_back"} 1"#,
        r#"warbler_canary_status{namespace="podinfo",name="frontend"} 2"#,
        r#"warbler_canary_weight{namespace="podinfo",name="frontend"} 0"#,
        "warbler_policy_evaluation_duration_seconds_count",
    ] {
        assert!(metrics.contains(series), "no `{series}` in\n{metrics}");
    }
    let log = std::fs::read_to_string(fixture.log_of(0)).unwrap();
    let line = log
        .lines()
        .find(|line| line.contains("Promotion completed"))
        .unwrap();
    let entry: Value = serde_json::from_str(line).expect("--log-format json writes JSON lines");
    assert_eq!(entry["fields"]["canary"], "podinfo/frontend");

    let table = kubectl(&["get", "canaries", "-n", "podinfo"], None);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "STATUS",
            "WEIGHT",
            "FAILEDCHECKS",
            "POLICY",
            "LASTTRANSITIONTIME"
        ]
    );
    assert!(
        table.contains("Failed") && table.contains("builtin:threshold"),
        "{table}"
    );
    let events = kubectl(
        &[
            "get",
            "events",
            "-n",
            "podinfo",
            "--field-selector",
            "involvedObject.kind=Canary,involvedObject.name=frontend",
            "-o",
            "json",
        ],
        None,
    );
    for expected in [
        "Initialization done!",
        "Promotion completed!",
        "Canary failed!",
    ] {
        assert!(
            events.contains(expected),
            "no Kubernetes Event `{expected}` in {events}"
        );
    }
}

/// Every step in the journal once, numbered 1, 2, … within each run.
fn assert_no_step_twice(journal: &[Value]) {
    let mut runs: std::collections::BTreeMap<i64, Vec<u64>> = Default::default();
    for entry in journal {
        runs.entry(entry["runStartedMs"].as_i64().unwrap())
            .or_default()
            .push(entry["step"].as_u64().unwrap());
    }
    for (run, steps) in runs {
        let expected: Vec<u64> = (1..=steps.len() as u64).collect();
        assert_eq!(
            steps, expected,
            "run {run} journaled a step twice or skipped one"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a cluster"]
async fn a_controller_killed_mid_rollout_resumes_without_doubling_or_skipping_a_step() {
    let mut fixture = Fixture::new("resume").await;
    let canary = fixture
        .seed_canary()
        .replace("  service:\n", "  provider: gatewayapi:v1\n  service:\n");
    fixture.apply(&canary);
    let first = fixture.start_controller(&[]).identity.clone();
    fixture.wait_for_phase("Initialized", INIT).await;
    fixture.apply(&fixture.deployment("ghcr.io/stefanprodan/podinfo:6.0.1"));

    // Stopped as Kubernetes stops a pod, then killed outright.
    fixture.wait_for_weight(20).await;
    let stopped = fixture.terminate_controller(&first, Duration::from_secs(15));
    assert!(stopped.success(), "SIGTERM: {stopped}");
    let second = fixture.start_controller(&[]).identity.clone();
    fixture.wait_for_weight(40).await;
    fixture.kill_controller(&second);
    fixture.start_controller(&[]);
    let weights = weights_until(&fixture, "httproute", "Succeeded").await;
    assert_eq!(weights.last(), Some(&0));
    let primary = fixture.get("deployment", "frontend-primary").unwrap();
    assert_eq!(image_of(&primary), "ghcr.io/stefanprodan/podinfo:6.0.1");

    let journal = fixture.journal();
    assert_no_step_twice(&journal);
    let journaled: Vec<u64> = journal
        .iter()
        .map(|entry| entry["input"]["state"]["canaryWeight"].as_u64().unwrap())
        .collect();
    assert_eq!(journaled, [0, 10, 20, 30, 40, 50], "{}", fixture.logs());
    let promotions = fixture
        .event_messages()
        .iter()
        .filter(|m| m.contains("Promotion completed"))
        .count();
    assert_eq!(promotions, 1, "promoted twice or not at all");
}

/// Who holds the leader Lease in the controller's namespace.
fn lease_holder() -> String {
    let lease = kubectl(
        &[
            "get",
            "lease",
            "-n",
            "warbler",
            "warbler-leader",
            "-o",
            "json",
        ],
        None,
    );
    let lease: Value = serde_json::from_str(&lease).unwrap();
    lease["spec"]["holderIdentity"]
        .as_str()
        .unwrap_or_else(|| panic!("no holder: {lease:#}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a cluster"]
async fn when_the_leader_dies_the_standby_finishes_the_rollout() {
    let mut fixture = Fixture::new("standby").await;
    fixture.use_chart_rbac();
    let _ = try_kubectl(
        &["delete", "lease", "-n", "warbler", "warbler-leader"],
        None,
    );
    fixture.apply(&fixture.seed_canary());
    // The Lease in the controller's own namespace, where the chart's Role
    // allows it. Long enough that the leader keeps it while the other
    // cluster tests load the API server: a replica that loses its lease
    // exits (a pod is restarted), and the test would then kill the one left.
    let election = [
        "--leader-elect",
        "--leader-election-namespace",
        "warbler",
        "--lease-seconds",
        "12",
    ];
    let a = fixture.start_controller(&election).identity.clone();
    let b = fixture.start_controller(&election).identity.clone();
    fixture.wait_for_phase("Initialized", INIT).await;
    fixture.apply(&fixture.deployment("ghcr.io/stefanprodan/podinfo:6.0.1"));
    fixture.wait_for_weight(20).await;
    let leader = lease_holder();
    assert!(leader == a || leader == b, "holder {leader}");
    fixture.kill_controller(&leader);

    fixture.wait_for_phase("Succeeded", RUN).await;
    let standby = if leader == a { &b } else { &a };
    assert_eq!(&lease_holder(), standby);
    assert_no_step_twice(&fixture.journal());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a cluster"]
async fn the_schema_refuses_what_it_can_and_a_condition_names_the_rest() {
    let mut fixture = Fixture::new("refused").await;
    let seed = fixture.seed_canary();

    let short = seed.replace("interval: 10s", "interval: 5s");
    let err = try_kubectl(&["apply", "-n", "refused", "-f", "-"], Some(&short)).unwrap_err();
    assert!(err.contains("interval must be at least 10s"), "{err}");

    let typo = seed.replace("    threshold: 3", "    treshold: 3");
    let err = try_kubectl(&["apply", "-n", "refused", "-f", "-"], Some(&typo)).unwrap_err();
    assert!(err.contains("treshold"), "{err}");

    let unanswerable = seed.replace("- name: request-duration", "- name: p999-latency");
    let err = try_kubectl(&["apply", "-n", "refused", "-f", "-"], Some(&unanswerable)).unwrap_err();
    assert!(err.contains("needs a query or a templateRef"), "{err}");

    let named_twice = seed.replacen(
        "    interval: 10s\n",
        "    interval: 10s\n    policy: {ref: builtin:threshold, policyRef: {name: shared}}\n",
        1,
    );
    let err = try_kubectl(&["apply", "-n", "refused", "-f", "-"], Some(&named_twice)).unwrap_err();
    assert!(err.contains("name the policy once"), "{err}");

    let retries = seed.replace(
        "    port: 9898",
        "    port: 9898\n    retries: {attempts: 3}",
    );
    fixture.apply(&retries);
    fixture.start_controller(&[]);
    let status = fixture
        .wait_for("a Ready condition", INIT, |status| {
            status["conditions"].as_array().is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "False")
            })
        })
        .await;
    let ready = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["reason"], "InvalidSpec");
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("spec.service.retries"),
        "{ready}"
    );
    assert!(fixture.get("deployment", "frontend-primary").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a cluster"]
async fn deleting_a_canary_with_revert_on_deletion_gives_the_target_back_its_traffic() {
    let mut fixture = Fixture::new("revert").await;
    let canary = fixture
        .seed_canary()
        .replace("spec:\n", "spec:\n  revertOnDeletion: true\n");
    fixture.apply(&canary);
    fixture.start_controller(&[]);
    fixture.wait_for_phase("Initialized", INIT).await;
    let finalizers =
        fixture.get("canaries.warbler.dev", "frontend").unwrap()["metadata"]["finalizers"].clone();
    assert_eq!(
        finalizers,
        serde_json::json!(["warbler.dev/revert-on-deletion"])
    );

    kubectl(
        &[
            "delete",
            "canary",
            "frontend",
            "-n",
            "revert",
            "--wait=false",
        ],
        None,
    );
    let deadline = std::time::Instant::now() + INIT;
    while fixture.get("canaries.warbler.dev", "frontend").is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the Canary was never released\n{}",
            fixture.logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let target = fixture.get("deployment", "frontend").unwrap();
    assert_eq!(replicas_of(&target), 2);
    let apex = fixture
        .get("service", "frontend")
        .expect("the apex Service outlives the Canary");
    assert_eq!(apex["spec"]["selector"]["app"], "frontend");
    assert!(apex["metadata"]["ownerReferences"].is_null(), "{apex:#}");
    let deadline = std::time::Instant::now() + INIT;
    while fixture.get("deployment", "frontend-primary").is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the primary was not garbage-collected"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A Prometheus address that accepts connections and never answers: every
/// query waits for the client's timeout.
struct Unanswering {
    port: u16,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Unanswering {
    fn start() -> Unanswering {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                held.push(stream);
            }
        });
        Unanswering { port, accepted }
    }
}

/// The `backend` Deployment at `image` and a Canary of it whose two
/// metrics come from a Prometheus that never answers and whose policy loops
/// until its budget.
fn stalled_backend(fixture: &Fixture, image: &str, prometheus_port: u16) -> String {
    let deployment = fixture.deployment(image).replace("frontend", "backend");
    let namespace = &fixture.namespace;
    format!(
        r#"{deployment}
---
apiVersion: warbler.dev/v1alpha1
kind: MetricTemplate
metadata: {{ name: unanswered, namespace: {namespace} }}
spec:
  provider: {{ type: prometheus, address: "http://127.0.0.1:{prometheus_port}" }}
  query: sum(rate(response_total[1m]))
---
apiVersion: warbler.dev/v1alpha1
kind: Canary
metadata: {{ name: backend, namespace: {namespace} }}
spec:
  targetRef: {{ apiVersion: apps/v1, kind: Deployment, name: backend }}
  service: {{ port: 9898 }}
  analysis:
    interval: 10s
    threshold: 100
    maxWeight: 50
    stepWeight: 10
    policy:
      ref: {hostile}
      config: {{ attack: infinite-loop }}
    metrics:
    - {{ name: stalled-a, templateRef: {{ name: unanswered }}, thresholdRange: {{ min: 1 }}, interval: 1m }}
    - {{ name: stalled-b, templateRef: {{ name: unanswered }}, thresholdRange: {{ min: 1 }}, interval: 1m }}
"#,
        hostile = warbler_test_guests::HOSTILE,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a cluster"]
async fn a_canary_with_hanging_metrics_and_a_runaway_policy_does_not_delay_another() {
    let mut fixture = Fixture::new("isolation").await;
    let unanswering = Unanswering::start();
    fixture.apply(&fixture.seed_canary());
    fixture.apply(&stalled_backend(
        &fixture,
        "ghcr.io/stefanprodan/podinfo:6.0.0",
        unanswering.port,
    ));
    fixture.start_controller(&[]);
    fixture.wait_for_phase("Initialized", INIT).await;
    fixture
        .wait_for("backend Initialized", INIT, |_| {
            fixture.status_of("backend")["phase"] == "Initialized"
        })
        .await;

    fixture.apply(&fixture.deployment("ghcr.io/stefanprodan/podinfo:6.0.1"));
    fixture.apply(&stalled_backend(
        &fixture,
        "ghcr.io/stefanprodan/podinfo:6.0.1",
        unanswering.port,
    ));
    fixture.wait_for_phase("Succeeded", RUN).await;

    // Each backend step waits out four 10 s query timeouts; had it held up
    // the frontend's reconciles, the frontend's steps would be that late.
    let interval_ms = 10_000;
    let steps: Vec<i64> = fixture
        .journal()
        .iter()
        .map(|entry| {
            entry["atMs"]
                .as_i64()
                .unwrap_or_else(|| panic!("no atMs in {entry}"))
        })
        .collect();
    assert_eq!(steps.len(), 6, "{}", fixture.logs());
    for pair in steps.windows(2) {
        let late_ms = pair[1] - pair[0] - interval_ms;
        assert!(
            late_ms < 8_000,
            "a frontend step started {late_ms} ms late: {steps:?}\n{}",
            fixture.logs()
        );
    }
    let backend = fixture.journal_of("backend");
    assert!(!backend.is_empty(), "the backend was never judged");
    assert!(
        backend
            .iter()
            .all(|entry| entry["outcome"]["error"].is_string()),
        "the runaway policy decided something: {backend:?}"
    );
    assert!(
        unanswering
            .accepted
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    );
    assert_eq!(fixture.status_of("backend")["phase"], "Progressing");
}

/// The seed's Canary with `policy` (a YAML flow mapping) as its
/// `analysis.policy`.
fn seed_with_policy(fixture: &Fixture, policy: &str) -> String {
    let seed = fixture.seed_canary();
    let with = seed.replacen(
        "    interval: 10s\n",
        &format!("    interval: 10s\n    policy: {policy}\n"),
        1,
    );
    assert_ne!(
        with, seed,
        "the seed's analysis has no `interval: 10s` line"
    );
    with
}

/// The `backend` Deployment at `image` and a Canary of it whose
/// `analysis.policy` is `policy` (a YAML flow mapping).
fn backend_with_policy(fixture: &Fixture, image: &str, policy: &str) -> String {
    let deployment = fixture.deployment(image).replace("frontend", "backend");
    let namespace = &fixture.namespace;
    format!(
        r#"{deployment}
---
apiVersion: warbler.dev/v1alpha1
kind: Canary
metadata: {{ name: backend, namespace: {namespace} }}
spec:
  targetRef: {{ apiVersion: apps/v1, kind: Deployment, name: backend }}
  service: {{ port: 9898 }}
  analysis:
    interval: 10s
    threshold: 5
    maxWeight: 50
    stepWeight: 10
    policy: {policy}
"#
    )
}

/// The `backend` Deployment at `image` and a Canary of it whose policy
/// must be signed by `key`.
fn backend_requiring_signature(fixture: &Fixture, image: &str, policy: &str, key: &str) -> String {
    let key = key.replace('\n', "\\n");
    backend_with_policy(
        fixture,
        image,
        &format!(r#"{{ ref: "{policy}", verify: {{ keys: ["{key}"] }} }}"#),
    )
}

/// `warbler policy push FILE TARGET` to the loopback `registry`; the
/// pinned reference.
fn push_policy(fixture: &Fixture, registry: &Registry, file: &str, target: &str) -> String {
    let push = std::process::Command::new(env!("CARGO_BIN_EXE_warbler"))
        .args(["policy", "push", file, target])
        .args(["--insecure-registry", &registry.address()])
        .arg("--cache-dir")
        .arg(fixture.dir.path().join("push-cache"))
        .env("WARBLER_CACHE_KEY", fixture.dir.path().join("push.key"))
        .output()
        .unwrap();
    assert!(
        push.status.success(),
        "{}",
        String::from_utf8_lossy(&push.stderr)
    );
    String::from_utf8(push.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a cluster"]
async fn a_registry_policy_judges_its_run_to_the_end_while_another_canarys_unsigned_one_is_refused()
{
    let mut fixture = Fixture::new("registry").await;
    let registry = Registry::start(fixture.dir.path());
    let insecure = ["--insecure-registry", &registry.address()];
    let target = format!("{}:1.0", registry.reference("policies/threshold"));
    let pinned = push_policy(&fixture, &registry, "builtin:threshold", &target);
    let alice = super::signatures::Signer::new(fixture.dir.path(), "alice");
    fixture.apply(&seed_with_policy(
        &fixture,
        &format!(r#"{{ ref: "{target}" }}"#),
    ));
    fixture.apply(&backend_requiring_signature(
        &fixture,
        "ghcr.io/stefanprodan/podinfo:6.0.0",
        &target,
        &alice.public_pem(),
    ));
    let first = fixture.start_controller(&insecure).identity.clone();
    let status = fixture.wait_for_phase("Initialized", INIT).await;
    assert_eq!(status["policy"], target.as_str());
    assert_eq!(status["resolvedPolicy"], pinned.as_str());

    // The other Canary's policy is unsigned: refused, named, not started.
    fixture
        .wait_for("backend refused for its policy", INIT, |_| {
            ready_condition(&fixture.status_of("backend"))["reason"] == "PolicyRefused"
        })
        .await;
    let ready = ready_condition(&fixture.status_of("backend"));
    let message = ready["message"].as_str().unwrap();
    assert!(
        message.starts_with("spec.analysis.policy.ref: ") && message.contains("is not signed"),
        "{message}"
    );
    let notes = || {
        let events = kubectl(
            &[
                "get",
                "events.events.k8s.io",
                "-n",
                &fixture.namespace,
                "-o",
                "json",
            ],
            None,
        );
        let events: Value = serde_json::from_str(&events).unwrap();
        events["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["regarding"]["name"] == "backend")
            .filter_map(|e| e["note"].as_str().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !notes().iter().any(|n| n.contains("is not signed")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no Event says the backend's policy is not signed: {:?}",
            notes()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        fixture.get("deployment", "backend-primary").is_none(),
        "the refused Canary was initialized"
    );

    // Mid-run the controller dies and the tag moves to another policy: the
    // run goes on with the one it started with.
    fixture.apply(&fixture.deployment("ghcr.io/stefanprodan/podinfo:6.0.1"));
    fixture.wait_for_weight(20).await;
    fixture.kill_controller(&first);
    let moved = push_policy(&fixture, &registry, warbler_test_guests::ZSCORE, &target);
    assert_ne!(moved, pinned);
    fixture.start_controller(&insecure);
    fixture.wait_for_phase("Succeeded", RUN).await;
    let journal = fixture.journal();
    assert_no_step_twice(&journal);
    let policies: Vec<&str> = journal
        .iter()
        .map(|entry| entry["policy"].as_str().unwrap())
        .collect();
    assert_eq!(policies.len(), 6, "{}", fixture.logs());
    assert!(
        policies.iter().all(|p| *p == target || *p == pinned),
        "a step was judged by the moved tag: {policies:?}"
    );
    assert!(
        policies.last() == Some(&pinned.as_str()),
        "after the restart the run was not judged by its pinned policy: {policies:?}"
    );
}

/// The `Ready` condition of a Canary's status (null when there is none).
fn ready_condition(status: &Value) -> Value {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .cloned()
        .unwrap_or(Value::Null)
}
