//! Many canaries on a real API server: `warbler controller` (the release
//! binary) reconciling 1,000 Canaries at Flagger's 10 s interval against
//! the control plane of `tests/cluster/up.sh` (kube-apiserver, etcd,
//! kube-controller-manager, kube-scheduler, kwok's fake kubelets), with the
//! built-in metrics from a real Prometheus on loopback that scrapes
//! Linkerd-named series for every deployment.
//!
//! Every Canary is initialized, then every target gets a new revision at
//! once and is rolled out 10, 20 … 50 and promoted. Prints the controller's
//! CPU time and peak RSS, and how late analysis steps start: each step's
//! start (`atMs` in its journal) against the previous step's plus the
//! interval, p50/p99/max over all steps.
//!
//! `cargo bench -p warbler --bench cluster`; `WARBLER_BENCH_CANARIES=200`
//! for another count. Starts its own cluster (in
//! `/tmp/warbler-bench-cluster`, stopped at the end) unless
//! `WARBLER_TEST_KUBECONFIG` names a running one; needs Debian's
//! `prometheus` and kubectl.

#[path = "../../tests/all/prometheus_server.rs"]
mod prometheus_server;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::Full;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};
use warbler::canary::CanaryResource;
use warbler::ports::JournalEntry;
use warbler_guest_sdk::Phase;

const NAMESPACE: &str = "bench-scale";
const INTERVAL_MS: i64 = 10_000;
/// Creates, patches and lists in flight at once from the bench itself.
const IN_FLIGHT: usize = 16;
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const BENCH_CLUSTER_DIR: &str = "/tmp/warbler-bench-cluster";

/// The control plane the bench runs against; stopped when dropped if the
/// bench started it.
struct Cluster {
    kubeconfig: PathBuf,
    /// Where up.sh keeps its state (`pids/NAME.pid`), when known.
    state: Option<PathBuf>,
    started_here: bool,
}

impl Cluster {
    fn start() -> Cluster {
        if let Some(path) = std::env::var_os("WARBLER_TEST_KUBECONFIG") {
            return Cluster {
                kubeconfig: path.into(),
                state: std::env::var_os("WARBLER_CLUSTER_DIR").map(PathBuf::from),
                started_here: false,
            };
        }
        let output = Command::new("bash")
            .arg(format!("{REPO}/tests/cluster/up.sh"))
            .env("WARBLER_CLUSTER_DIR", BENCH_CLUSTER_DIR)
            .stderr(Stdio::inherit())
            .output()
            .expect("bash runs tests/cluster/up.sh");
        assert!(output.status.success(), "tests/cluster/up.sh failed");
        let stdout = String::from_utf8_lossy(&output.stdout);
        Cluster {
            kubeconfig: stdout.lines().last().expect("a kubeconfig path").into(),
            state: Some(BENCH_CLUSTER_DIR.into()),
            started_here: true,
        }
    }

    /// CPU seconds so far of the API server and etcd, whose load the
    /// controller's requests make; empty when their PIDs are unknown.
    fn control_plane_cpu(&self, ticks_per_second: f64) -> Vec<(&'static str, f64)> {
        let Some(state) = &self.state else {
            return Vec::new();
        };
        ["kube-apiserver", "etcd"]
            .into_iter()
            .filter_map(|name| {
                let pid = std::fs::read_to_string(state.join(format!("pids/{name}.pid"))).ok()?;
                Some((
                    name,
                    cpu_seconds(pid.trim().parse().ok()?, ticks_per_second),
                ))
            })
            .collect()
    }

    fn kubectl(&self, args: &[&str], stdin: &str) {
        use std::io::Write;
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("kubectl runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "kubectl {args:?} failed");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.started_here {
            let _ = Command::new("bash")
                .arg(format!("{REPO}/tests/cluster/down.sh"))
                .env("WARBLER_CLUSTER_DIR", BENCH_CLUSTER_DIR)
                .status();
        }
    }
}

/// A process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// User plus system CPU seconds of `pid` so far.
fn cpu_seconds(pid: u32, ticks_per_second: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold
    // spaces: utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<f64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    fields.iter().sum::<f64>() / ticks_per_second
}

/// Peak resident memory of `pid`, MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn clock_ticks() -> f64 {
    let output = Command::new("getconf").arg("CLK_TCK").output();
    output
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn name(i: usize) -> String {
    format!("app-{i:04}")
}

fn deployment(i: usize, image: &str) -> Value {
    let name = name(i);
    // No replicas: the controller owns the target's scale.
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name, "namespace": NAMESPACE, "labels": { "app": name } },
        "spec": {
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{
                    "name": "app",
                    "image": image,
                    "ports": [{ "name": "http", "containerPort": 9898 }],
                }] },
            },
        },
    })
}

/// The seed's analysis at a 10 s interval, without its webhooks.
fn canary(i: usize) -> Value {
    let name = name(i);
    json!({
        "apiVersion": "warbler.dev/v1alpha1",
        "kind": "Canary",
        "metadata": { "name": name, "namespace": NAMESPACE },
        "spec": {
            "targetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": name },
            "service": { "port": 9898 },
            "analysis": {
                "interval": "10s",
                "threshold": 5,
                "maxWeight": 50,
                "stepWeight": 10,
                "metrics": [
                    { "name": "request-success-rate", "thresholdRange": { "min": 99 }, "interval": "1m" },
                    { "name": "request-duration", "thresholdRange": { "max": 500 }, "interval": "1m" },
                ],
            },
        },
    })
}

/// Linkerd's `response_total` and `response_latency_ms` for every target
/// and primary: healthy, 10 requests a second each, counted from `start`.
fn exposition(count: usize, start: Instant) -> String {
    use std::fmt::Write;
    let requests = start.elapsed().as_secs_f64() * 10.0;
    let mut text =
        String::from("# TYPE response_total counter\n# TYPE response_latency_ms histogram\n");
    for i in 0..count {
        for deployment in [name(i), format!("{}-primary", name(i))] {
            let labels =
                format!(r#"namespace="{NAMESPACE}",deployment="{deployment}",direction="inbound""#);
            let _ = writeln!(
                text,
                "response_total{{{labels},classification=\"success\"}} {requests}"
            );
            for le in ["50", "100", "250", "500", "+Inf"] {
                let count = if le == "50" { 0.0 } else { requests };
                let _ = writeln!(
                    text,
                    "response_latency_ms_bucket{{{labels},le=\"{le}\"}} {count}"
                );
            }
            let _ = writeln!(text, "response_latency_ms_count{{{labels}}} {requests}");
        }
    }
    text
}

async fn serve_exposition(count: usize) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let start = Instant::now();
    tokio::spawn(warbler::serve::serve(
        listener,
        move |_request| async move {
            hyper::Response::builder()
                .header("content-type", "text/plain; version=0.0.4")
                .body(Full::new(Bytes::from(exposition(count, start))))
                .expect("a valid response")
        },
    ));
    port
}

async fn apply_all(api: &Api<DynamicObject>, objects: Vec<Value>) {
    let params = PatchParams::apply("warbler-bench").force();
    futures::stream::iter(objects)
        .for_each_concurrent(IN_FLIGHT, |object| {
            let params = params.clone();
            async move {
                let name = object["metadata"]["name"].as_str().unwrap().to_owned();
                api.patch(&name, &params, &Patch::Apply(&object))
                    .await
                    .unwrap_or_else(|err| panic!("cannot apply {name}: {err}"));
            }
        })
        .await;
}

/// Every target Deployment, with its pod template at `image`.
async fn apply_deployments(api: &Api<DynamicObject>, count: usize, image: &str) {
    apply_all(api, (0..count).map(|i| deployment(i, image)).collect()).await;
}

/// Canaries by phase, listed in pages.
async fn phases(api: &Api<CanaryResource>) -> Vec<Phase> {
    let mut phases = Vec::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await.expect("list Canaries");
        phases.extend(page.items.iter().map(|c| {
            c.status
                .as_ref()
                .map_or(Phase::Initializing, |s| s.run.phase)
        }));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return phases,
        }
    }
}

fn summary(phases: &[Phase]) -> String {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for phase in phases {
        *counts.entry(format!("{phase:?}")).or_default() += 1;
    }
    counts
        .iter()
        .map(|(phase, n)| format!("{n} {phase}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Wait until `count` Canaries are in `phase`; the seconds it took.
async fn wait_for(api: &Api<CanaryResource>, count: usize, phase: Phase, limit: Duration) -> f64 {
    let started = Instant::now();
    loop {
        let now = phases(api).await;
        let done = now.iter().filter(|p| **p == phase).count();
        if done >= count {
            return started.elapsed().as_secs_f64();
        }
        assert!(
            started.elapsed() < limit,
            "after {limit:?}, {done} of {count} {phase:?}: {}",
            summary(&now)
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

/// How late each step after a run's first started: its `atMs` against the
/// previous step's plus the interval (ms).
fn step_lateness(journal_dir: &Path) -> Vec<i64> {
    let mut late = Vec::new();
    let dir = journal_dir.join(NAMESPACE);
    for file in std::fs::read_dir(&dir)
        .expect("the journal directory")
        .flatten()
    {
        let text = std::fs::read_to_string(file.path()).unwrap();
        let entries: Vec<JournalEntry> = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).expect("a journal entry"))
            .collect();
        for pair in entries.windows(2) {
            if pair[0].run_started_ms == pair[1].run_started_ms {
                late.push(pair[1].at_ms - pair[0].at_ms - INTERVAL_MS);
            }
        }
    }
    late.sort_unstable();
    late
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let count: usize = std::env::var("WARBLER_BENCH_CANARIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000);
    let cluster = Cluster::start();
    let crds = Command::new(env!("CARGO_BIN_EXE_warbler"))
        .arg("crd")
        .output()
        .expect("warbler crd runs");
    cluster.kubectl(
        &["apply", "--server-side", "-f", "-"],
        &String::from_utf8_lossy(&crds.stdout),
    );
    cluster.kubectl(
        &[
            "apply",
            "--server-side",
            "-f",
            &format!("{REPO}/tests/cluster/crds"),
        ],
        "",
    );
    cluster.kubectl(
        &[
            "wait",
            "--for=condition=Established",
            "crd/canaries.warbler.dev",
            "crd/trafficsplits.split.smi-spec.io",
        ],
        "",
    );
    let _ = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&cluster.kubeconfig)
        .args(["delete", "namespace", NAMESPACE, "--wait=true"])
        .stderr(Stdio::null())
        .status();
    cluster.kubectl(&["create", "namespace", NAMESPACE], "");

    warbler::http::install_crypto_provider();
    let kubeconfig = Kubeconfig::read_from(&cluster.kubeconfig).expect("the kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a client config");
    let client = kube::Client::try_from(config).expect("a client");
    let deployments = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        NAMESPACE,
        &ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
    );
    let canaries_dynamic = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        NAMESPACE,
        &ApiResource::erase::<CanaryResource>(&()),
    );
    let canaries = Api::<CanaryResource>::namespaced(client.clone(), NAMESPACE);

    let dir = tempfile::tempdir().unwrap();
    let exporter = serve_exposition(count).await;
    let prometheus = prometheus_server::start_prometheus(dir.path(), exporter);
    prometheus.wait_until_scraped().await;

    let began = Instant::now();
    apply_deployments(&deployments, count, "ghcr.io/stefanprodan/podinfo:6.0.0").await;
    apply_all(&canaries_dynamic, (0..count).map(canary).collect()).await;
    println!(
        "{count} Deployments and Canaries created in {:.1} s",
        began.elapsed().as_secs_f64()
    );

    let journal = dir.path().join("journal");
    let log = dir.path().join("controller.log");
    let controller = Process(
        Command::new(env!("CARGO_BIN_EXE_warbler"))
            .args(["controller", "--kubeconfig"])
            .arg(&cluster.kubeconfig)
            .args(["--namespace", NAMESPACE])
            .args(["--metrics-server", &prometheus.address])
            .args(["--listen", "127.0.0.1:0"])
            .arg("--journal-dir")
            .arg(&journal)
            .env("WARBLER_LOG", "warbler=warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("warbler controller starts"),
    );
    let pid = controller.0.id();
    let ticks = clock_ticks();
    let limit = Duration::from_secs(1_800);

    let init = wait_for(&canaries, count, Phase::Initialized, limit).await;
    let init_cpu = cpu_seconds(pid, ticks);
    println!(
        "initialized in {init:.1} s: controller CPU {init_cpu:.1} s, peak RSS {:.0} MiB",
        peak_rss_mib(pid)
    );

    let control_plane_before = cluster.control_plane_cpu(ticks);
    let bumped = Instant::now();
    apply_deployments(&deployments, count, "ghcr.io/stefanprodan/podinfo:6.0.1").await;
    let applied = bumped.elapsed().as_secs_f64();
    wait_for(&canaries, count, Phase::Succeeded, limit).await;
    let wall = bumped.elapsed().as_secs_f64();
    let rollout_cpu = cpu_seconds(pid, ticks) - init_cpu;
    let rss = peak_rss_mib(pid);
    let control_plane = cluster.control_plane_cpu(ticks);
    drop(controller);

    println!(
        "{count} rolled out and promoted in {wall:.1} s from the first new revision ({applied:.1} s to apply them all); \
         controller CPU {rollout_cpu:.1} s ({:.0}% of one core), peak RSS {rss:.0} MiB",
        rollout_cpu / wall * 100.0,
    );
    for ((name, after), (_, before)) in control_plane.iter().zip(&control_plane_before) {
        println!(
            "{name} CPU meanwhile {:.1} s ({:.0}% of one core)",
            after - before,
            (after - before) / wall * 100.0,
        );
    }
    let late = step_lateness(&journal);
    let steps = late.len() + count;
    println!(
        "{steps} analysis steps; a step after its run's first starts late by p50 {} ms, p99 {} ms, max {} ms",
        percentile(&late, 0.5),
        percentile(&late, 0.99),
        late.last().copied().unwrap_or_default(),
    );
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
    println!("controller log: {} warnings", warnings.len());
    // The log goes with the bench's directory: show what a warning was.
    for warning in warnings.iter().take(5) {
        println!("  {warning}");
    }
}
