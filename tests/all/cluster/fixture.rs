//! One cluster test's world: a namespace of the real API server
//! (`tests/cluster/up.sh`), the seed's frontend Deployment and Canary in it,
//! a real Prometheus scraping the Linkerd-named exporter, the load tester and
//! an event receiver, all on 127.0.0.1, and `warbler controller` processes
//! started and killed at will.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::exporter::Exporter;
use crate::http_server::{self, TestServer};
use crate::prometheus_server::{Prometheus, free_port, start_prometheus};

/// The kubeconfig `tests/run.sh` exports after `tests/cluster/up.sh`.
pub fn kubeconfig() -> PathBuf {
    std::env::var_os("WARBLER_TEST_KUBECONFIG")
        .map(PathBuf::from)
        .expect(
            "WARBLER_TEST_KUBECONFIG is unset: start a cluster with tests/cluster/up.sh and export its last line, or run bash tests/run.sh",
        )
}

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/flagger-frontend-canary.yaml"
);
const DEPLOYMENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/frontend-deployment.yaml"
);
/// How long a rollout of the seed's analysis may take here.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(240);

const ROUTE_CRDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/cluster/crds");
const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");
const SA_KUBECONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/cluster/sa-kubeconfig.sh"
);

/// `kubectl` against the test cluster; panics with its output on failure.
pub fn kubectl(args: &[&str], stdin: Option<&str>) -> String {
    try_kubectl(args, stdin).unwrap_or_else(|err| panic!("kubectl {args:?}: {err}"))
}

/// `kubectl` against the test cluster; stdout, or stderr on failure.
pub fn try_kubectl(args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let output = child.wait_with_output().unwrap();
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// The route CRDs and Warbler's own (from `warbler crd`), applied once per
/// test process.
pub fn install_crds() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let crds = Command::new(env!("CARGO_BIN_EXE_warbler"))
            .arg("crd")
            .output()
            .expect("warbler crd runs");
        assert!(crds.status.success());
        kubectl(
            &["apply", "--server-side", "-f", "-"],
            Some(&String::from_utf8_lossy(&crds.stdout)),
        );
        kubectl(&["apply", "--server-side", "-f", ROUTE_CRDS], None);
        kubectl(
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "crd/canaries.warbler.dev",
                "crd/metrictemplates.warbler.dev",
                "crd/analysispolicies.warbler.dev",
                "crd/clusteranalysispolicies.warbler.dev",
                "crd/trafficsplits.split.smi-spec.io",
                "crd/httproutes.gateway.networking.k8s.io",
            ],
            None,
        );
    });
}

/// The controller's namespace, ServiceAccount and RBAC from `deploy/`,
/// applied once per test process.
fn install_chart_rbac() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        for file in ["namespace.yaml", "serviceaccount.yaml", "rbac.yaml"] {
            kubectl(&["apply", "-f", &format!("{DEPLOY}/{file}")], None);
        }
    });
}

/// A namespace with the seed's workload, its metrics and webhooks.
pub struct Fixture {
    pub namespace: String,
    pub dir: tempfile::TempDir,
    pub exporter: Exporter,
    pub prometheus: Prometheus,
    pub events: TestServer,
    loadtester: String,
    controllers: Vec<Controller>,
    controller_kubeconfig: PathBuf,
}

/// A `warbler controller` process, killed when dropped.
pub struct Controller {
    pub child: Child,
    pub identity: String,
    pub log: PathBuf,
    /// Where it serves `/metrics`, `/healthz` and `/readyz`.
    pub telemetry: String,
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Fixture {
    /// A fresh namespace with the frontend Deployment applied; metrics
    /// scraped and the webhooks' receivers listening.
    pub async fn new(namespace: &str) -> Fixture {
        install_crds();
        let _ = try_kubectl(&["delete", "namespace", namespace, "--wait=true"], None);
        kubectl(&["create", "namespace", namespace], None);
        let dir = tempfile::tempdir().unwrap();
        let exporter = Exporter::start(namespace);
        let prometheus = start_prometheus(dir.path(), exporter.port());
        let events = http_server::serve(|_| (200, "ok".to_owned()));
        let loadtester = start_loadtester().await;
        let fixture = Fixture {
            namespace: namespace.to_owned(),
            dir,
            exporter,
            prometheus,
            events,
            loadtester,
            controllers: Vec::new(),
            controller_kubeconfig: kubeconfig(),
        };
        fixture.apply(&fixture.deployment("ghcr.io/stefanprodan/podinfo:6.0.0"));
        fixture.prometheus.wait_until_scraped().await;
        fixture
    }

    /// From now on, controllers act as the ServiceAccount `warbler/warbler`
    /// with exactly the RBAC that `deploy/` and the chart grant it.
    pub fn use_chart_rbac(&mut self) {
        install_chart_rbac();
        let out = self.dir.path().join("warbler-sa.kubeconfig");
        let status = Command::new("bash")
            .arg(SA_KUBECONFIG)
            .arg(kubeconfig())
            .args(["warbler", "warbler"])
            .arg(&out)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "sa-kubeconfig.sh failed");
        self.controller_kubeconfig = out;
    }

    /// The seed's Deployment in this namespace with `image`.
    pub fn deployment(&self, image: &str) -> String {
        std::fs::read_to_string(DEPLOYMENT)
            .unwrap()
            .replace(
                "namespace: podinfo",
                &format!("namespace: {}", self.namespace),
            )
            .replace("ghcr.io/stefanprodan/podinfo:6.0.0", image)
    }

    /// The seed Canary with a shadow policy, `strict-compare`, that holds
    /// for too few samples at every step.
    pub fn seed_with_strict_shadow(&self) -> String {
        let seed = self.seed_canary();
        let with_shadow = seed.replacen(
            "    interval: 10s\n",
            "    interval: 10s\n    shadowPolicies:\n    - { ref: builtin:compare, name: strict-compare, config: { minSamples: 1000 } }\n",
            1,
        );
        assert_ne!(
            with_shadow, seed,
            "the seed's analysis has no `interval: 10s` line"
        );
        with_shadow
    }

    /// The seed's Canary as a user takes it from Flagger: only the
    /// apiVersion changed, plus what a test cluster needs: its namespace,
    /// a 10 s interval, and the webhooks and load aimed at loopback.
    pub fn seed_canary(&self) -> String {
        std::fs::read_to_string(SEED)
            .unwrap()
            .replace("flagger.app/v1beta1", "warbler.dev/v1alpha1")
            .replace(
                "namespace: podinfo",
                &format!("namespace: {}", self.namespace),
            )
            .replace(
                "    interval: 1m\n    threshold",
                "    interval: 10s\n    threshold",
            )
            .replace(
                "http://flagger-loadtest-loadtester.loadtest/",
                &self.loadtester,
            )
            .replace(
                "hey -z 1m -q 10 -c 2 http://frontend-canary.podinfo:9898/",
                &format!("hey -z 5s -q 5 -c 1 {}", self.exporter.url()),
            )
            .replace(
                "http://webhook.default/webhook",
                &self.events.url("/webhook"),
            )
    }

    /// `kubectl apply` a manifest in this namespace.
    pub fn apply(&self, manifest: &str) {
        kubectl(&["apply", "-n", &self.namespace, "-f", "-"], Some(manifest));
    }

    /// An object of this namespace as JSON, if it exists.
    pub fn get(&self, kind: &str, name: &str) -> Option<Value> {
        let text = try_kubectl(
            &["get", "-n", &self.namespace, kind, name, "-o", "json"],
            None,
        )
        .ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The frontend Canary's status.
    pub fn status(&self) -> Value {
        self.status_of("frontend")
    }

    /// The status of the Canary `name`.
    pub fn status_of(&self, name: &str) -> Value {
        self.get("canaries.warbler.dev", name)
            .map(|canary| canary["status"].clone())
            .unwrap_or(Value::Null)
    }

    /// Start a controller for this namespace with `extra` flags.
    pub fn start_controller(&mut self, extra: &[&str]) -> &mut Controller {
        let identity = format!("{}-{}", self.namespace, self.controllers.len());
        let log = self.dir.path().join(format!("{identity}.log"));
        let listen = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_warbler"))
            .args(["controller", "--kubeconfig"])
            .arg(&self.controller_kubeconfig)
            .args(["--namespace", &self.namespace])
            .args(["--metrics-server", &self.prometheus.address])
            .args(["--listen", &listen])
            .arg("--journal-dir")
            .arg(self.journal_dir())
            .args(["--identity", &identity])
            .args(extra)
            .env("WARBLER_LOG", "warbler=info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("warbler controller starts");
        self.controllers.push(Controller {
            child,
            identity,
            log,
            telemetry: format!("http://{listen}"),
        });
        self.controllers.last_mut().unwrap()
    }

    /// Kill -9 the controller whose identity is `identity`.
    pub fn kill_controller(&mut self, identity: &str) {
        self.controllers.retain(|c| c.identity != identity);
    }

    /// SIGTERM the controller whose identity is `identity`, as Kubernetes
    /// stops a pod; its exit status, within `grace`.
    pub fn terminate_controller(
        &mut self,
        identity: &str,
        grace: Duration,
    ) -> std::process::ExitStatus {
        let index = self
            .controllers
            .iter()
            .position(|c| c.identity == identity)
            .expect("a controller of that identity");
        let mut controller = self.controllers.remove(index);
        let pid = controller.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + grace;
        loop {
            if let Some(status) = controller.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the controller did not stop within {grace:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The log file of the `index`th controller still running.
    pub fn log_of(&self, index: usize) -> PathBuf {
        self.controllers[index].log.clone()
    }

    /// Every controller's log, for failure messages.
    pub fn logs(&self) -> String {
        self.controllers
            .iter()
            .map(|c| {
                format!(
                    "--- {} ---\n{}",
                    c.identity,
                    std::fs::read_to_string(&c.log).unwrap_or_default()
                )
            })
            .collect()
    }

    /// Where the controllers write the journals.
    pub fn journal_dir(&self) -> PathBuf {
        self.dir.path().join("journal")
    }

    /// The journal of the frontend Canary.
    pub fn journal(&self) -> Vec<Value> {
        self.journal_of("frontend")
    }

    /// The journal of the Canary `name`.
    pub fn journal_of(&self, name: &str) -> Vec<Value> {
        let path = self
            .journal_dir()
            .join(&self.namespace)
            .join(format!("{name}.jsonl"));
        read_lines(&path)
    }

    /// Wait up to `timeout` for `ready` to hold of the Canary's status,
    /// calling `each` on every status seen.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.status();
            if ready(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for {what}; status now: {status:#}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Wait for the canary's weight to reach `weight`.
    pub async fn wait_for_weight(&self, weight: u64) -> Value {
        self.wait_for(&format!("weight {weight}"), RUN_TIMEOUT, |status| {
            status["canaryWeight"].as_u64() >= Some(weight)
        })
        .await
    }

    /// Wait for the Canary to reach `phase`.
    pub async fn wait_for_phase(&self, phase: &str, timeout: Duration) -> Value {
        self.wait_for(&format!("phase {phase}"), timeout, |status| {
            status["phase"] == phase
        })
        .await
    }

    /// The bodies the event webhook received.
    pub fn event_messages(&self) -> Vec<String> {
        self.events
            .requests()
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .filter_map(|body| body["metadata"]["eventMessage"].as_str().map(str::to_owned))
            .collect()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.controllers.clear();
        let _ = try_kubectl(
            &["delete", "namespace", &self.namespace, "--wait=false"],
            None,
        );
    }
}

fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

async fn start_loadtester() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(warbler::loadtester::LoadTester::default().serve(listener));
    format!("http://{address}/")
}
