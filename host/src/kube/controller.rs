//! The controller loop: one kube-rs `Controller` reconciles every Canary
//! with the same [`Reconciler`] as local mode, over the cluster's ports.
//!
//! Nothing about a rollout lives in this process: each reconcile reads the
//! Canary afresh from the API server, does at most one transition, and
//! writes the status back (server-side apply on the status subresource) before it
//! records events. A controller killed at any point, or a standby that
//! takes over the lease, resumes every rollout from its status; a
//! transition whose status write was lost is redone, which is safe because
//! every port call can be repeated. Canaries are requeued after the
//! interval the reconciler asks for: no task or timer per Canary.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use super::journal::DirJournal;
use super::metrics::ClusterMetrics;
use super::platform::{FIELD_MANAGER, KubePlatform, apply_params};
use super::router::{KubeRouter, Provider};
use super::shared_policy::SharedPolicies;
use super::spec_check::check_spec;
use super::status::{Runnable, StatusFacts, resource_status};
use super::telemetry::{Telemetry, TimedJudge};
use super::{api_error, describe};
use crate::canary::{
    AnalysisPolicyResource, Canary, CanaryResource, CanaryResourceStatus,
    ClusterAnalysisPolicyResource, PolicyKind,
};
use crate::dashboard::{Board, Dashboard};
use crate::hooks::{HttpHooks, send_events};
use crate::judge::{CheckedPolicy, RuntimeJudge};
use crate::metrics::PrometheusSource;
use crate::policy::PolicyRuntime;
use crate::ports::{Clock, Platform, PortError, Readiness, Router, SystemClock};
use crate::reconciler::{Event, Reconciler, Severity, policy_label};

/// The finalizer that holds a deleted Canary with `revertOnDeletion` until
/// its target is restored.
const FINALIZER: &str = "warbler.dev/revert-on-deletion";

/// How a controller runs.
pub struct ControllerOptions {
    /// Watch only this namespace; all when `None`.
    pub namespace: Option<String>,
    /// The provider of Canaries that name none (`--mesh-provider`).
    pub default_provider: Provider,
    /// The Prometheus server for metrics (`--metrics-server`).
    pub metrics_server: Option<String>,
    /// Where each Canary's step journal is written.
    pub journal_dir: PathBuf,
    /// The policy runtime.
    pub runtime: Arc<PolicyRuntime>,
    /// Where `oci://` policies are pulled from; none refuses them.
    pub registry: Option<Arc<crate::oci::PolicyRegistry>>,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub listen: SocketAddr,
    /// Lease-based leader election, for two or more replicas.
    pub leader_election: Option<LeaderElection>,
    /// This replica's name (the pod's), in events and the lease.
    pub identity: String,
    /// Where the dashboard is served; none when it is off.
    pub dashboard: Option<SocketAddr>,
}

/// Where the leader's Lease lives and how long it lasts.
pub struct LeaderElection {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub lease_name: String,
    /// How long a lease lasts without renewal: a standby takes over within
    /// this long after the leader dies.
    pub lease_seconds: u64,
}

/// Why the controller stopped.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The health and metrics port could not be bound.
    #[error("cannot listen on {address} (--listen): {source}; pick a free address")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The Canary CRD is not installed, or not readable with these
    /// credentials.
    #[error(
        "cannot list Canaries: {0}; install the CRDs (`warbler crd | kubectl apply -f -`) and check the controller's RBAC"
    )]
    NoCrd(String),
    /// Leader election failed.
    #[error("leader election: {0}; check the Lease RBAC in --leader-election-namespace")]
    Lease(String),
    /// The dashboard's port could not be bound.
    #[error("cannot serve the dashboard on {address} (--dashboard): {source}; pick a free address")]
    Dashboard {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Another replica took the lease: this one stops so it never acts
    /// beside the new leader.
    #[error("lost the leader lease to another replica; restart to stand by again")]
    LostLease,
}

/// A reconcile that could not finish; the Canary is retried.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReconcileError(String);

impl From<PortError> for ReconcileError {
    fn from(err: PortError) -> Self {
        ReconcileError(err.to_string())
    }
}

type ClusterReconciler = Reconciler<
    KubePlatform,
    KubeRouter,
    ClusterMetrics,
    HttpHooks,
    TimedJudge<RuntimeJudge>,
    DirJournal,
    SystemClock,
>;

/// What every reconcile shares.
struct Context {
    client: Client,
    reconciler: ClusterReconciler,
    recorder: Recorder,
    telemetry: Arc<Telemetry>,
    shared_policies: SharedPolicies,
    /// The dashboard's board, when it is served.
    board: Option<Arc<Board>>,
}

/// Run the controller until `stop` completes (SIGTERM): serve health and
/// metrics, take the lease if asked to, then reconcile every Canary.
pub async fn run_controller(
    client: Client,
    options: ControllerOptions,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) -> Result<(), ControllerError> {
    let telemetry = Arc::new(Telemetry::new());
    let (bound, _server) =
        telemetry
            .serve(options.listen)
            .await
            .map_err(|source| ControllerError::Listen {
                address: options.listen,
                source,
            })?;
    tracing::info!("serving /metrics, /healthz and /readyz on http://{bound}");
    let dashboard = match options.dashboard {
        Some(address) => {
            let dashboard = Dashboard::start(address, Arc::new(Board::default()))
                .await
                .map_err(|source| ControllerError::Dashboard { address, source })?;
            tracing::info!("serving the dashboard on {}", dashboard.url());
            Some(dashboard)
        }
        None => None,
    };
    let canaries: Api<CanaryResource> = match &options.namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    canaries
        .list(&kube::api::ListParams::default().limit(1))
        .await
        .map_err(|err| ControllerError::NoCrd(describe(&err)))?;

    let stop = futures::future::FutureExt::shared(Box::pin(stop));
    let leadership = match &options.leader_election {
        Some(election) => {
            telemetry.set_ready();
            let lease = take_lease(&client, election, &options.identity, stop.clone()).await?;
            match lease {
                Some(lease) => Some(lease),
                None => return Ok(()),
            }
        }
        None => None,
    };

    let board = dashboard.as_ref().map(|d| d.board().clone());
    let context = Arc::new(context(client.clone(), &options, telemetry.clone(), board));
    let deployments: Api<Deployment> = match &options.namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    let analysis_policies: Api<AnalysisPolicyResource> = match &options.namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    let controller = Controller::new(canaries, watcher::Config::default());
    let store = controller.store();
    let (namespaced_users, cluster_users) = (store.clone(), store.clone());
    let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let shutdown = {
        let stop = stop.clone();
        let lost = lost.clone();
        async move {
            match leadership {
                Some(mut lease) => {
                    tokio::select! {
                        () = stop => {}
                        () = lease.lost() => lost.store(true, std::sync::atomic::Ordering::Relaxed),
                    }
                }
                None => stop.await,
            }
        }
    };
    telemetry.set_ready();
    tracing::info!(identity = %options.identity, "reconciling Canaries");
    controller
        .owns(deployments.clone(), watcher::Config::default())
        // A new revision of a target starts its analysis at once, not at
        // the next interval.
        .watches(deployments, watcher::Config::default(), move |deployment| {
            let namespace = deployment.namespace();
            let name = deployment.name_any();
            store
                .state()
                .into_iter()
                .filter(|canary| {
                    canary.namespace() == namespace && canary.spec.target_ref.name == name
                })
                .map(|canary| ObjectRef::from_obj(&*canary))
                .collect::<Vec<_>>()
        })
        // A Canary waiting for its shared policy starts as soon as the policy
        // is created, and a changed policy applies from the next step.
        .watches(
            analysis_policies,
            watcher::Config::default(),
            move |policy| {
                let namespace = policy.namespace();
                let name = policy.name_any();
                users_of(&namespaced_users, PolicyKind::AnalysisPolicy, &name)
                    .into_iter()
                    .filter(|canary| canary.namespace == namespace)
                    .collect::<Vec<_>>()
            },
        )
        .watches(
            Api::<ClusterAnalysisPolicyResource>::all(client.clone()),
            watcher::Config::default(),
            move |policy| {
                users_of(
                    &cluster_users,
                    PolicyKind::ClusterAnalysisPolicy,
                    &policy.name_any(),
                )
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::warn!("reconcile failed: {err}");
            }
        })
        .await;
    if lost.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(ControllerError::LostLease);
    }
    tracing::info!("stopped");
    Ok(())
}

/// The Canaries that name the shared policy `name` of `kind`.
fn users_of(
    canaries: &kube::runtime::reflector::Store<CanaryResource>,
    kind: PolicyKind,
    name: &str,
) -> Vec<ObjectRef<CanaryResource>> {
    canaries
        .state()
        .into_iter()
        .filter(|canary| {
            canary
                .spec
                .analysis
                .policy
                .as_ref()
                .and_then(|policy| policy.policy_ref.as_ref())
                .is_some_and(|shared| shared.kind == kind && shared.name == name)
        })
        .map(|canary| ObjectRef::from_obj(&*canary))
        .collect()
}

fn context(
    client: Client,
    options: &ControllerOptions,
    telemetry: Arc<Telemetry>,
    board: Option<Arc<Board>>,
) -> Context {
    let reconciler = Reconciler {
        platform: KubePlatform::new(client.clone()),
        router: KubeRouter::new(client.clone(), options.default_provider),
        metrics: ClusterMetrics::new(
            client.clone(),
            options.metrics_server.as_deref().map(PrometheusSource::new),
        ),
        hooks: HttpHooks::default(),
        judge: TimedJudge {
            inner: match &options.registry {
                Some(registry) => {
                    RuntimeJudge::new(options.runtime.clone()).with_registry(registry.clone())
                }
                None => RuntimeJudge::new(options.runtime.clone()),
            },
            telemetry: telemetry.clone(),
        },
        journal: DirJournal::new(options.journal_dir.clone()).with_board(board.clone()),
        clock: SystemClock,
    };
    let reporter = Reporter {
        controller: "warbler".to_owned(),
        instance: Some(options.identity.clone()),
    };
    Context {
        recorder: Recorder::new(client.clone(), reporter),
        shared_policies: SharedPolicies::watch(client.clone(), options.namespace.as_deref()),
        client,
        reconciler,
        telemetry,
        board,
    }
}

/// A held leader lease.
struct Lease {
    state: tokio::sync::watch::Receiver<bool>,
    _task: tokio::task::JoinHandle<kube_lease_manager::Result<kube_lease_manager::LeaseManager>>,
}

impl Lease {
    /// Completes when another replica holds the lease.
    async fn lost(&mut self) {
        let _ = self.state.wait_for(|held| !*held).await;
    }
}

/// Wait until this replica holds the lease; `None` when `stop` came first.
async fn take_lease(
    client: &Client,
    election: &LeaderElection,
    identity: &str,
    stop: impl Future<Output = ()>,
) -> Result<Option<Lease>, ControllerError> {
    let manager =
        kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &election.lease_name)
            .with_namespace(&election.namespace)
            .with_identity(identity)
            .with_duration(election.lease_seconds.max(2))
            .with_grace((election.lease_seconds / 3).max(1))
            .with_field_manager(FIELD_MANAGER)
            .build()
            .await
            .map_err(|err| ControllerError::Lease(err.to_string()))?;
    let (mut state, task) = manager.watch().await;
    tracing::info!(
        lease = %election.lease_name,
        namespace = %election.namespace,
        "standing by for the leader lease"
    );
    tokio::select! {
        held = state.wait_for(|held| *held) => {
            held.map_err(|_| ControllerError::Lease("the lease manager stopped".to_owned()))?;
        }
        () = stop => return Ok(None),
    }
    tracing::info!(identity, "holding the leader lease");
    Ok(Some(Lease { state, _task: task }))
}

async fn reconcile(
    resource: Arc<CanaryResource>,
    context: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let namespace = resource.namespace().unwrap_or_default();
    let name = resource.name_any();
    let api: Api<CanaryResource> = Api::namespaced(context.client.clone(), &namespace);
    // The watch cache can lag behind the last status written: a transition
    // judged on a stale status would be done twice.
    let Some(resource) = api.get_opt(&name).await.map_err(api_error(
        "canary",
        format!("cannot read Canary {namespace}/{name}"),
    ))?
    else {
        context.telemetry.forget(&namespace, &name);
        if let Some(board) = &context.board {
            board.remove(&format!("{namespace}/{name}"));
        }
        return Ok(Action::await_change());
    };
    if resource.metadata.deletion_timestamp.is_some() {
        return revert_on_deletion(&api, &resource, &context).await;
    }
    keep_finalizer(&api, &resource).await?;

    let started = Instant::now();
    let mut canary = Canary::from_resource(&resource);
    let shared = context.shared_policies.adopt(&mut canary).await;
    let written = policy_label(&canary);
    let previous = resource.status.as_ref();
    pin_policy_in_flight(&mut canary, previous);
    let before = canary.status.phase;
    let (runnable, checked) = runnable(&canary, shared, &context).await;
    let status = StatusWrite {
        policy: written,
        checked,
    };
    if let Runnable::No { message, .. } = &runnable {
        let unchanged = previous
            .and_then(|status| status.conditions.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|ready| ready.status == "False" && &ready.message == message);
        write_status(&api, &resource, &canary, runnable.clone(), status).await?;
        let events = if unchanged {
            Vec::new()
        } else {
            vec![warning(message.clone())]
        };
        publish(&context, &resource, &canary, &events).await;
        return Ok(Action::requeue(Duration::from_secs(60)));
    }
    let outcome = context.reconciler.reconcile(&canary).await?;
    canary.status = outcome.status;
    write_status(&api, &resource, &canary, runnable, status).await?;
    publish(&context, &resource, &canary, &outcome.events).await;
    context
        .telemetry
        .observe(&canary, before, started.elapsed());
    Ok(Action::requeue(outcome.requeue_after))
}

/// A run in flight is judged to its end by the policy its reference
/// resolved to (recorded in status), even after a restart and even if the
/// tag has moved since: one run, one policy.
fn pin_policy_in_flight(canary: &mut Canary, previous: Option<&CanaryResourceStatus>) {
    if !canary.status.is_running() {
        return;
    }
    let Some(previous) = previous else {
        return;
    };
    let Some(resolved) = &previous.resolved_policy else {
        return;
    };
    if let Some(policy) = canary.spec.analysis.policy.as_mut()
        && policy.reference.is_some()
        && previous.policy == policy.reference
    {
        policy.reference = Some(resolved.clone());
    }
}

/// What a status write records of the policy: the reference as written in
/// the spec, and what it loaded as.
struct StatusWrite {
    policy: String,
    checked: Option<CheckedPolicy>,
}

/// Whether `canary` can run, and its policy if it loaded. `shared` is what
/// became of the shared policy it names.
async fn runnable(
    canary: &Canary,
    shared: Result<(), String>,
    context: &Context,
) -> (Runnable, Option<CheckedPolicy>) {
    if let Err(message) = shared {
        return policy_failed(canary, message);
    }
    let provider = context.reconciler.router.provider_of(canary);
    let notices = match check_spec(canary, provider) {
        Ok(notices) => notices,
        Err(message) => {
            return (
                Runnable::No {
                    reason: "InvalidSpec",
                    message,
                },
                None,
            );
        }
    };
    match context.reconciler.judge.inner.check(canary).await {
        Ok(checked) => (Runnable::Yes(notices.join("; ")), Some(checked)),
        Err(message) => policy_failed(canary, message),
    }
}

/// A Canary whose policy cannot be had: a run in flight goes on, its steps
/// failing safe (each policy failure is a failed check) instead of leaving
/// traffic where it is; any other Canary does not start.
fn policy_failed(canary: &Canary, message: String) -> (Runnable, Option<CheckedPolicy>) {
    if canary.status.is_running() {
        return (
            Runnable::Yes(format!(
                "policy failing, steps count as failed checks: {message}"
            )),
            None,
        );
    }
    (
        Runnable::No {
            reason: "PolicyRefused",
            message,
        },
        None,
    )
}

async fn write_status(
    api: &Api<CanaryResource>,
    resource: &CanaryResource,
    canary: &Canary,
    runnable: Runnable,
    policy: StatusWrite,
) -> Result<(), ReconcileError> {
    let (policy_digest, resolved_policy) = match policy.checked {
        Some(checked) => (Some(checked.digest), checked.resolved),
        None => (None, None),
    };
    let status = resource_status(StatusFacts {
        run: canary.status.clone(),
        previous: resource.status.as_ref(),
        runnable,
        policy: policy.policy,
        policy_digest,
        resolved_policy,
        generation: resource.metadata.generation,
        now_ms: SystemClock.now_ms(),
    });
    let patch = json!({
        "apiVersion": CanaryResource::api_version(&()),
        "kind": CanaryResource::kind(&()),
        "status": status,
    });
    api.patch_status(&resource.name_any(), &apply_params(), &Patch::Apply(&patch))
        .await
        .map(drop)
        .map_err(|err| {
            ReconcileError(format!(
                "cannot write the status of Canary {}: {}",
                canary.key(),
                describe(&err)
            ))
        })
}

fn warning(message: String) -> Event {
    Event {
        severity: Severity::Warning,
        message,
    }
}

/// Kubernetes Events (reason `Synced`, as Flagger's), event webhooks and
/// the dashboard.
async fn publish(context: &Context, resource: &CanaryResource, canary: &Canary, events: &[Event]) {
    if let Some(board) = &context.board {
        board.update(
            canary,
            events,
            &[],
            Some(context.reconciler.journal.path_of(&canary.key())),
            context.reconciler.clock.now_ms(),
        );
        if let Some(policy) = context.reconciler.judge.inner.loaded_policy(canary) {
            board.show_policy(&canary.key(), policy_label(canary), &policy);
        }
    }
    let reference = resource.object_ref(&());
    for event in events {
        tracing::info!(canary = %canary.key(), "{}", event.message);
        let event_type = match event.severity {
            Severity::Info => EventType::Normal,
            Severity::Warning => EventType::Warning,
        };
        let published = context
            .recorder
            .publish(
                &KubeEvent {
                    type_: event_type,
                    reason: "Synced".to_owned(),
                    note: Some(event.message.chars().take(1024).collect()),
                    // The recorder folds events of one action into a series
                    // that keeps the first note: each message is its own.
                    action: event.message.chars().take(128).collect(),
                    secondary: None,
                },
                &reference,
            )
            .await;
        if let Err(err) = published {
            tracing::warn!(canary = %canary.key(), "cannot record an event: {}", describe(&err));
        }
    }
    send_events(&context.reconciler.hooks, canary, events).await;
}

/// Add the finalizer when `revertOnDeletion` is set, remove it when unset.
async fn keep_finalizer(
    api: &Api<CanaryResource>,
    resource: &CanaryResource,
) -> Result<(), ReconcileError> {
    let has = resource.finalizers().iter().any(|f| f == FINALIZER);
    if has == resource.spec.revert_on_deletion {
        return Ok(());
    }
    let mut finalizers: Vec<String> = resource
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    if resource.spec.revert_on_deletion {
        finalizers.push(FINALIZER.to_owned());
    }
    set_finalizers(api, resource, finalizers).await
}

async fn set_finalizers(
    api: &Api<CanaryResource>,
    resource: &CanaryResource,
    finalizers: Vec<String>,
) -> Result<(), ReconcileError> {
    // A merge patch with the resourceVersion: a concurrent change to the
    // list makes this fail and retry rather than drop someone's finalizer.
    let patch = json!({
        "metadata": {
            "finalizers": finalizers,
            "resourceVersion": resource.resource_version(),
        }
    });
    api.patch(
        &resource.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map(drop)
    .map_err(|err| ReconcileError(format!("cannot update finalizers: {}", describe(&err))))
}

/// A Canary with `revertOnDeletion` is being deleted: give the target back
/// its traffic and replicas before the objects Warbler made go away.
async fn revert_on_deletion(
    api: &Api<CanaryResource>,
    resource: &CanaryResource,
    context: &Context,
) -> Result<Action, ReconcileError> {
    if !resource.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let canary = Canary::from_resource(resource);
    let platform = &context.reconciler.platform;
    platform.scale_canary(&canary, true).await?;
    if let Readiness::NotReady(why) = platform.canary_readiness(&canary).await? {
        tracing::info!(canary = %canary.key(), "reverting on deletion, waiting for the target: {why}");
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    platform.restore_service(&canary).await?;
    if context.reconciler.router.provider_of(&canary).is_ok() {
        context
            .reconciler
            .router
            .set_canary_weight(&canary, 100)
            .await?;
    }
    let finalizers = resource
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    set_finalizers(api, resource, finalizers).await?;
    tracing::info!(canary = %canary.key(), "target restored, Canary deleted");
    Ok(Action::await_change())
}

fn error_policy(
    resource: Arc<CanaryResource>,
    error: &ReconcileError,
    _context: Arc<Context>,
) -> Action {
    tracing::warn!(
        canary = %format!("{}/{}", resource.namespace().unwrap_or_default(), resource.name_any()),
        "{error}; retrying in 5s"
    );
    Action::requeue(Duration::from_secs(5))
}
