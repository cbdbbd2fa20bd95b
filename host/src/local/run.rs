//! A local run: the reconciler driven over the local ports (supervised
//! releases, the weighted proxy, its counters or Prometheus, HTTP webhooks,
//! the policy runtime, a journal file) until the rollout ends. Its status is
//! saved after every transition, so an interrupted run resumes where it was.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use warbler_guest_sdk::Phase;

use super::metrics_endpoint::spawn_metrics_endpoint;
use super::platform::LocalPlatform;
use super::proxy::WeightedProxy;
use super::source::{LocalMetrics, spawn_sampler};
use super::traffic::TrafficStats;
use crate::canary::{Canary, CanaryStatus, LocalBackend, Manifest, revision_of};
use crate::hooks::{HttpHooks, send_events};
use crate::journal::FileJournal;
use crate::judge::RuntimeJudge;
use crate::metrics::PrometheusSource;
use crate::policy::PolicyRuntime;
use crate::ports::{
    Clock, Journal, JournalEntry, Platform, PortError, Readiness, Router, SystemClock,
};
use crate::reconciler::{Event, Reconciler};

/// How a local run is set up.
pub struct LocalOptions {
    /// A Prometheus server to query instead of the proxy's own counters.
    pub prometheus: Option<String>,
    /// Where the journal (`journal.jsonl`), the saved status
    /// (`status.json`) and the releases' logs (`logs/`) go.
    pub state_dir: PathBuf,
    /// The policy runtime judging each step.
    pub runtime: Arc<PolicyRuntime>,
}

/// Why a local run could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The Canary cannot run locally as written.
    #[error("{0}")]
    Spec(String),
    /// The policy cannot be loaded or refuses its config.
    #[error("{0}")]
    Policy(String),
    /// A file or a port could not be used.
    #[error("{0}")]
    Io(String),
    /// A release did not become ready in time.
    #[error("{0}")]
    NotReady(String),
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// The canary was promoted.
    Promoted,
    /// The canary was rolled back, and why.
    RolledBack(String),
    /// Nothing to roll out: the canary's release is the one last handled
    /// (its phase says how that ended).
    Unchanged(Phase),
    /// Stopped from outside (Ctrl-C) mid-run; running again resumes.
    Interrupted,
}

/// What a progress display sees after each reconcile.
pub struct Progress<'a> {
    /// The Canary with its new status.
    pub canary: &'a Canary,
    /// What happened in this reconcile.
    pub events: &'a [Event],
    /// The analysis steps judged in this reconcile, with their inputs and
    /// verdicts.
    pub steps: &'a [JournalEntry],
    /// A port failure that will be retried, if any.
    pub error: Option<&'a PortError>,
}

/// Receives [`Progress`] as the run goes.
pub trait RunObserver {
    /// Called after every reconcile.
    fn update(&mut self, progress: &Progress<'_>);
}

/// The saved state of a local run.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SavedState {
    canary: String,
    primary_release: Option<LocalBackend>,
    status: CanaryStatus,
}

/// Writes every step to the journal file and hands it to the display.
struct StepJournal {
    file: FileJournal,
    steps: mpsc::UnboundedSender<JournalEntry>,
}

impl Journal for StepJournal {
    async fn append(&self, entry: &JournalEntry) -> Result<(), PortError> {
        self.file.append(entry).await?;
        let _ = self.steps.send(entry.clone());
        Ok(())
    }
}

type LocalReconciler = Reconciler<
    LocalPlatform,
    WeightedProxy,
    LocalMetrics,
    HttpHooks,
    RuntimeJudge,
    StepJournal,
    SystemClock,
>;

/// One Canary running on this machine.
pub struct LocalRun {
    reconciler: LocalReconciler,
    canary: Canary,
    proxy_address: SocketAddr,
    metrics_address: SocketAddr,
    state_path: PathBuf,
    steps: mpsc::UnboundedReceiver<JournalEntry>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> LocalError {
    move |err| LocalError::Io(format!("{what}: {err}"))
}

impl LocalRun {
    /// Check the Canary and its policy, start the proxy and its metrics
    /// endpoint, restore a saved run or start the primary, and wait until
    /// traffic can flow. Nothing is rolled out yet.
    pub async fn start(manifest: Manifest, options: LocalOptions) -> Result<LocalRun, LocalError> {
        let Manifest {
            mut canary,
            templates,
        } = manifest;
        let local = canary.spec.local.clone().ok_or_else(|| {
            LocalError::Spec(
                "spec.local is missing: add `local: {primary: {url|command}, canary: {url|command}}` to run this Canary on this machine".to_owned(),
            )
        })?;
        local.validate().map_err(LocalError::Spec)?;
        let judge = RuntimeJudge::new(options.runtime);
        judge.check(&canary).map_err(LocalError::Policy)?;

        let stats = Arc::new(TrafficStats::new(
            &canary.metadata.namespace,
            &canary.metadata.name,
        ));
        let proxy = WeightedProxy::new(stats.clone());
        let listen = local.listen.unwrap_or(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            canary.spec.service.port,
        )));
        let (proxy_address, proxy_task) = proxy.spawn(listen).await.map_err(io_error(format!(
            "cannot listen on {listen} (spec.local.listen, else spec.service.port); set spec.local.listen to a free address"
        )))?;
        let metrics_listen = local
            .metrics_listen
            .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let (metrics_address, metrics_task) = spawn_metrics_endpoint(stats.clone(), metrics_listen)
            .await
            .map_err(io_error(format!(
                "cannot listen on {metrics_listen} (spec.local.metricsListen); pick a free address"
            )))?;
        let sampler = spawn_sampler(stats.clone());

        let state_path = options.state_dir.join("status.json");
        let saved = read_state(&state_path)?.filter(|state| state.canary == canary.key());
        let primary_release = saved.as_ref().and_then(|s| s.primary_release.clone());
        let journal_path = options.state_dir.join("journal.jsonl");
        let file = FileJournal::open(&journal_path).map_err(io_error(format!(
            "cannot open the journal {}",
            journal_path.display()
        )))?;
        let (sender, steps) = mpsc::unbounded_channel();
        let reconciler = Reconciler {
            platform: LocalPlatform::new(
                proxy.clone(),
                options.state_dir.join("logs"),
                primary_release,
            ),
            router: proxy,
            metrics: LocalMetrics::new(
                stats,
                options.prometheus.as_deref().map(PrometheusSource::new),
                templates,
            ),
            hooks: HttpHooks::default(),
            judge,
            journal: StepJournal {
                file,
                steps: sender,
            },
            clock: SystemClock,
        };
        if let Some(saved) = saved {
            canary.status = saved.status;
        }
        let mut run = LocalRun {
            reconciler,
            canary,
            proxy_address,
            metrics_address,
            state_path,
            steps,
            tasks: vec![proxy_task, metrics_task, sampler],
        };
        if let Err(err) = run.bring_up().await {
            run.shutdown().await;
            return Err(err);
        }
        Ok(run)
    }

    /// Where clients send the service's traffic.
    pub fn proxy_address(&self) -> SocketAddr {
        self.proxy_address
    }

    /// Where Prometheus scrapes the proxy's `/metrics`.
    pub fn metrics_address(&self) -> SocketAddr {
        self.metrics_address
    }

    /// The Canary as it stands.
    pub fn canary(&self) -> &Canary {
        &self.canary
    }

    /// Take a new version of the Canary's file (its spec only: the status is
    /// the run's). A changed `spec.local.canary` starts a new run.
    pub fn update(&mut self, manifest: Manifest) -> Result<(), LocalError> {
        let mut canary = manifest.canary;
        if canary.key() != self.canary.key() {
            return Err(LocalError::Spec(format!(
                "the file now describes {} instead of {}; start a new `warbler run` for it",
                canary.key(),
                self.canary.key()
            )));
        }
        canary
            .spec
            .local
            .as_ref()
            .ok_or_else(|| LocalError::Spec("spec.local is missing".to_owned()))?
            .validate()
            .map_err(LocalError::Spec)?;
        self.reconciler
            .judge
            .check(&canary)
            .map_err(LocalError::Policy)?;
        canary.status = std::mem::take(&mut self.canary.status);
        self.canary = canary;
        Ok(())
    }

    /// Start the primary (or resume a saved run), within the Canary's
    /// progress deadline.
    async fn bring_up(&mut self) -> Result<(), LocalError> {
        let deadline = Duration::from_secs(u64::from(self.canary.spec.progress_deadline_seconds));
        let platform = &self.reconciler.platform;
        wait_ready(deadline, "primary", || {
            platform.ensure_primary(&self.canary)
        })
        .await?;
        if self.canary.status.is_running() {
            let canary = &self.canary;
            platform
                .scale_canary(canary, true)
                .await
                .map_err(|e| LocalError::NotReady(e.to_string()))?;
            wait_ready(deadline, "canary", || platform.canary_readiness(canary)).await?;
            self.reconciler
                .router
                .set_canary_weight(canary, canary.status.canary_weight)
                .await
                .map_err(|e| LocalError::NotReady(e.to_string()))?;
            // The proxy's counters start empty: give the canary a full
            // interval of traffic before the next step judges it.
            self.canary.status.last_step_ms = Some(self.reconciler.clock.now_ms());
        } else if self.canary.status.phase == Phase::Initializing {
            let primary = platform
                .primary_release()
                .await
                .expect("ensure_primary chose the primary's release");
            let revision = revision_of(&serde_json::to_value(primary).expect("serializes"));
            let status = &mut self.canary.status;
            status.phase = Phase::Initialized;
            status.last_applied_spec = Some(revision.clone());
            status.last_promoted_spec = Some(revision);
            status.message = "primary ready, all traffic on it".to_owned();
        }
        self.save().await
    }

    /// The canary's release revision, as the reconciler computes it.
    async fn target_revision(&self) -> Option<String> {
        self.reconciler
            .platform
            .target_template(&self.canary)
            .await
            .ok()
            .flatten()
            .map(|template| revision_of(&template))
    }

    /// Reconcile until the rollout of the canary's release ends, or `stop`
    /// completes (then traffic goes back to the primary and the run can be
    /// resumed later).
    pub async fn run(
        &mut self,
        observer: &mut dyn RunObserver,
        stop: impl Future<Output = ()>,
    ) -> Result<RunEnd, LocalError> {
        tokio::pin!(stop);
        let revision = self.target_revision().await;
        let settled = |status: &CanaryStatus| {
            status.last_applied_spec == revision
                && matches!(
                    status.phase,
                    Phase::Initialized | Phase::Succeeded | Phase::Failed
                )
        };
        if settled(&self.canary.status) {
            return Ok(RunEnd::Unchanged(self.canary.status.phase));
        }
        loop {
            let wait = match self.reconciler.reconcile(&self.canary).await {
                Ok(outcome) => {
                    self.canary.status = outcome.status;
                    self.save().await?;
                    send_events(&self.reconciler.hooks, &self.canary, &outcome.events).await;
                    self.report(observer, &outcome.events, None);
                    outcome.requeue_after
                }
                Err(err) => {
                    self.report(observer, &[], Some(&err));
                    Duration::from_secs(1)
                }
            };
            if settled(&self.canary.status) {
                return Ok(match self.canary.status.phase {
                    Phase::Succeeded => RunEnd::Promoted,
                    _ => RunEnd::RolledBack(
                        self.canary
                            .status
                            .message
                            .trim_start_matches("rolled back: ")
                            .to_owned(),
                    ),
                });
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = &mut stop => {
                    let _ = self.reconciler.router.set_canary_weight(&self.canary, 0).await;
                    return Ok(RunEnd::Interrupted);
                }
            }
        }
    }

    fn report(
        &mut self,
        observer: &mut dyn RunObserver,
        events: &[Event],
        error: Option<&PortError>,
    ) {
        let mut steps = Vec::new();
        while let Ok(step) = self.steps.try_recv() {
            steps.push(step);
        }
        observer.update(&Progress {
            canary: &self.canary,
            events,
            steps: &steps,
            error,
        });
    }

    /// Write the status (atomically: a crash leaves the old or the new).
    async fn save(&self) -> Result<(), LocalError> {
        let state = SavedState {
            canary: self.canary.key(),
            primary_release: self.reconciler.platform.primary_release().await,
            status: self.canary.status.clone(),
        };
        let text = serde_json::to_vec_pretty(&state).expect("the state serializes");
        let temporary = self.state_path.with_extension("json.tmp");
        let what = format!(
            "cannot save the run's status to {}",
            self.state_path.display()
        );
        tokio::fs::write(&temporary, text)
            .await
            .map_err(io_error(what.clone()))?;
        tokio::fs::rename(&temporary, &self.state_path)
            .await
            .map_err(io_error(what))
    }

    /// Send all traffic to the primary, stop every process this run started
    /// (and reap it), and close the proxy.
    pub async fn shutdown(self) {
        let _ = self
            .reconciler
            .router
            .set_canary_weight(&self.canary, 0)
            .await;
        self.reconciler.platform.shutdown().await;
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn read_state(path: &Path) -> Result<Option<SavedState>, LocalError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|err| {
            LocalError::Io(format!(
                "{} is not a saved run ({err}); delete it to start afresh",
                path.display()
            ))
        }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io_error(format!(
                    "cannot create the state directory {}",
                    dir.display()
                )))?;
            }
            Ok(None)
        }
        Err(err) => Err(LocalError::Io(format!(
            "cannot read {}: {err}",
            path.display()
        ))),
    }
}

/// Poll `readiness` until ready or `deadline` passes.
async fn wait_ready<F, Fut>(
    deadline: Duration,
    what: &str,
    mut readiness: F,
) -> Result<(), LocalError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Readiness, PortError>>,
{
    let started = Instant::now();
    loop {
        let why = match readiness().await {
            Ok(Readiness::Ready) => return Ok(()),
            Ok(Readiness::NotReady(why)) => why,
            Err(err) => err.to_string(),
        };
        if started.elapsed() >= deadline {
            return Err(LocalError::NotReady(format!(
                "the {what} was not ready within spec.progressDeadlineSeconds ({}s): {why}",
                deadline.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
