//! The controller's own metrics (`/metrics`, Prometheus text) and its health
//! endpoints: `/healthz` answers while the process serves, `/readyz` once it
//! is watching Canaries or standing by for the leader's lease.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode, header};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use warbler_guest_sdk::{Input, Phase, Verdict};

use crate::canary::{Canary, ShadowPolicySpec};
use crate::ports::Judge;

/// Which Canary a series is about.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CanaryLabels {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// How a run ended, for the outcome counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// The Canary's namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `promoted` or `rolled_back`.
    pub outcome: String,
}

/// The controller's metrics.
pub struct Telemetry {
    registry: Registry,
    /// Flagger's `canary_status` values: 0 running, 1 succeeded (or
    /// initialized), 2 failed.
    status: Family<CanaryLabels, Gauge>,
    weight: Family<CanaryLabels, Gauge>,
    outcomes: Family<OutcomeLabels, Counter>,
    reconcile_seconds: Histogram,
    policy_seconds: Histogram,
    ready: AtomicBool,
}

impl Telemetry {
    /// Metrics registered under the `warbler_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("warbler");
        let status = Family::<CanaryLabels, Gauge>::default();
        let weight = Family::<CanaryLabels, Gauge>::default();
        let outcomes = Family::<OutcomeLabels, Counter>::default();
        let reconcile_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let policy_seconds = Histogram::new(exponential_buckets(0.000_01, 2.5, 16));
        registry.register(
            "canary_status",
            "Canary state: 0 running, 1 succeeded or initialized, 2 failed",
            status.clone(),
        );
        registry.register(
            "canary_weight",
            "Percentage of traffic on the canary",
            weight.clone(),
        );
        registry.register(
            "canary_runs",
            "Finished runs, by outcome (promoted, rolled_back)",
            outcomes.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile of one Canary took",
            reconcile_seconds.clone(),
        );
        registry.register(
            "policy_evaluation_duration_seconds",
            "Time one policy decision took, on the blocking pool",
            policy_seconds.clone(),
        );
        Telemetry {
            registry,
            status,
            weight,
            outcomes,
            reconcile_seconds,
            policy_seconds,
            ready: AtomicBool::new(false),
        }
    }

    /// Record a Canary's state after a reconcile that moved it from
    /// `before` to its current phase.
    pub fn observe(&self, canary: &Canary, before: Phase, took: Duration) {
        let labels = CanaryLabels {
            namespace: canary.metadata.namespace.clone(),
            name: canary.metadata.name.clone(),
        };
        let phase = canary.status.phase;
        let value = match phase {
            Phase::Succeeded | Phase::Initialized => 1,
            Phase::Failed => 2,
            _ => 0,
        };
        self.status.get_or_create(&labels).set(value);
        self.weight
            .get_or_create(&labels)
            .set(i64::from(canary.status.canary_weight));
        self.reconcile_seconds.observe(took.as_secs_f64());
        if phase != before {
            let outcome = match phase {
                Phase::Succeeded => "promoted",
                Phase::Failed => "rolled_back",
                _ => return,
            };
            self.outcomes
                .get_or_create(&OutcomeLabels {
                    namespace: labels.namespace,
                    name: labels.name,
                    outcome: outcome.to_owned(),
                })
                .inc();
        }
    }

    /// Forget a deleted Canary's series.
    pub fn forget(&self, namespace: &str, name: &str) {
        let labels = CanaryLabels {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        self.status.remove(&labels);
        self.weight.remove(&labels);
    }

    /// From now on `/readyz` answers 200.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    fn exposition(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    /// Serve `/metrics`, `/healthz` and `/readyz` on `address`.
    pub async fn serve(
        self: &Arc<Self>,
        address: SocketAddr,
    ) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = TcpListener::bind(address).await?;
        let bound = listener.local_addr()?;
        let telemetry = self.clone();
        let task = tokio::spawn(crate::serve::serve(listener, move |request| {
            let telemetry = telemetry.clone();
            async move {
                match request.uri().path() {
                    "/metrics" => text(
                        StatusCode::OK,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        telemetry.exposition(),
                    ),
                    "/healthz" => text(StatusCode::OK, "text/plain", "ok\n".to_owned()),
                    "/readyz" if telemetry.ready.load(Ordering::Relaxed) => {
                        text(StatusCode::OK, "text/plain", "ready\n".to_owned())
                    }
                    "/readyz" => text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        "starting\n".to_owned(),
                    ),
                    _ => text(
                        StatusCode::NOT_FOUND,
                        "text/plain",
                        "served here: /metrics, /healthz, /readyz\n".to_owned(),
                    ),
                }
            }
        }));
        Ok((bound, task))
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new()
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

/// A judge whose decisions are timed into the policy histogram.
pub struct TimedJudge<G> {
    /// The judge timed.
    pub inner: G,
    /// Where the times go.
    pub telemetry: Arc<Telemetry>,
}

impl<G: Judge> Judge for TimedJudge<G> {
    async fn judge(&self, canary: &Canary, input: &Input) -> Result<Verdict, String> {
        let started = std::time::Instant::now();
        let verdict = self.inner.judge(canary, input).await;
        self.telemetry
            .policy_seconds
            .observe(started.elapsed().as_secs_f64());
        verdict
    }

    fn policy_digest(&self, canary: &Canary) -> Option<String> {
        self.inner.policy_digest(canary)
    }

    async fn reads_earlier_steps(&self, canary: &Canary) -> bool {
        self.inner.reads_earlier_steps(canary).await
    }

    async fn judge_shadow(
        &self,
        shadow: &ShadowPolicySpec,
        input: &Input,
    ) -> Result<Verdict, String> {
        self.inner.judge_shadow(shadow, input).await
    }
}
