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
use warbler_guest_sdk::{EarlierStep, Phase};

use super::children::ChildRecord;
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
use crate::policy::{PolicyPre, PolicyRuntime};
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
    /// Where `oci://` policies are pulled from; none refuses them.
    pub registry: Option<Arc<crate::oci::PolicyRegistry>>,
}

/// The shortest analysis interval local mode runs: below it a whole
/// analysis would pass before any traffic was measured.
pub const MIN_LOCAL_INTERVAL: Duration = Duration::from_secs(1);

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
    /// Another `warbler run` holds the state directory.
    #[error("{0}")]
    Busy(String),
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
    /// The journal file, where every step of every run is.
    pub journal: Option<&'a Path>,
    /// The policy judging the canary, once it has loaded.
    pub policy: Option<&'a PolicyPre>,
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

/// Attempts at one journal write before the run fails safe.
const JOURNAL_ATTEMPTS: u32 = 3;

impl Journal for StepJournal {
    async fn append(&self, entry: &JournalEntry) -> Result<(), PortError> {
        let mut attempt = 1;
        loop {
            match self.file.append(entry).await {
                Ok(()) => break,
                Err(err) if attempt >= JOURNAL_ATTEMPTS => return Err(err),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(200) * attempt).await;
                    attempt += 1;
                }
            }
        }
        let _ = self.steps.send(entry.clone());
        Ok(())
    }

    async fn earlier_steps(
        &self,
        canary: &str,
        run_started_ms: i64,
        step: u32,
    ) -> Result<Vec<EarlierStep>, PortError> {
        self.file.earlier_steps(canary, run_started_ms, step).await
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
    journal_path: PathBuf,
    steps: mpsc::UnboundedReceiver<JournalEntry>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Held while the run lives: one run per state directory.
    _lock: std::fs::File,
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> LocalError {
    move |err| LocalError::Io(format!("{what}: {err}"))
}

impl LocalRun {
    /// Check the Canary and its policy, start the proxy and its metrics
    /// endpoint, restore a saved run or start the primary, and wait until
    /// traffic can flow. Nothing is rolled out yet.
    pub async fn start(manifest: Manifest, options: LocalOptions) -> Result<LocalRun, LocalError> {
        let notices = check_manifest(&manifest)?;
        for notice in notices {
            tracing::warn!("{notice}");
        }
        let Manifest {
            mut canary,
            templates,
        } = manifest;
        let local = canary.spec.local.clone().ok_or_else(missing_local)?;
        let lock = lock_state_dir(&options.state_dir)?;
        let record = Arc::new(ChildRecord::new(&options.state_dir.join("children")));
        let leftovers = record.stop_leftovers();
        if leftovers > 0 {
            tracing::warn!(
                "stopped {leftovers} release process(es) an earlier run left behind (it was killed)"
            );
        }
        raise_open_files_limit();
        let mut judge = RuntimeJudge::new(options.runtime);
        if let Some(registry) = options.registry {
            judge = judge.with_registry(registry);
        }
        judge.check(&canary).await.map_err(LocalError::Policy)?;

        let stats = Arc::new(TrafficStats::new(
            &canary.metadata.namespace,
            &canary.metadata.name,
        ));
        let proxy = WeightedProxy::new(stats.clone(), local.proxy.clone());
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
        let platform = LocalPlatform::new(
            proxy.clone(),
            options.state_dir.join("logs"),
            record,
            primary_release,
        );
        let supervisor = spawn_supervisor(platform.clone(), local.readiness_path.clone());
        let reconciler = Reconciler {
            platform,
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
            journal_path,
            steps,
            tasks: vec![proxy_task, metrics_task, sampler, supervisor],
            _lock: lock,
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

    /// The journal file of this run's state directory.
    pub fn journal_path(&self) -> &Path {
        &self.journal_path
    }

    /// The Canary as it stands.
    pub fn canary(&self) -> &Canary {
        &self.canary
    }

    /// Take a new version of the Canary's file (its spec only: the status is
    /// the run's). A changed `spec.local.canary` is a new revision: a run in
    /// flight restarts its analysis at weight 0, as Flagger does.
    pub async fn update(&mut self, manifest: Manifest) -> Result<(), LocalError> {
        check_manifest(&manifest)?;
        let mut canary = manifest.canary;
        if canary.key() != self.canary.key() {
            return Err(LocalError::Spec(format!(
                "the file now describes {} instead of {}; start a new `warbler run` for it",
                canary.key(),
                self.canary.key()
            )));
        }
        self.reconciler
            .judge
            .check(&canary)
            .await
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
        self.save_or_fail_safe().await
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
    /// resumed later). `stop` also cancels a reconcile in flight (a hanging
    /// webhook, a slow query): every port call is safe to repeat. A manifest
    /// arriving on `updates` takes effect at once; one that cannot be taken
    /// is reported to `observer` and the run goes on as it was.
    pub async fn run(
        &mut self,
        observer: &mut dyn RunObserver,
        stop: impl Future<Output = ()>,
        updates: &mut mpsc::UnboundedReceiver<Manifest>,
    ) -> Result<RunEnd, LocalError> {
        tokio::pin!(stop);
        if let Some(phase) = self.settled().await {
            return Ok(RunEnd::Unchanged(phase));
        }
        loop {
            let reconciled = tokio::select! {
                reconciled = self.reconciler.reconcile(&self.canary) => reconciled,
                () = &mut stop => return self.interrupted().await,
            };
            let wait = match reconciled {
                Ok(outcome) => {
                    self.canary.status = outcome.status;
                    self.save_or_fail_safe().await?;
                    send_events(&self.reconciler.hooks, &self.canary, &outcome.events).await;
                    self.report(observer, &outcome.events, None);
                    outcome.requeue_after
                }
                Err(err) if err.port == "journal" => {
                    self.report(observer, &[], Some(&err));
                    self.fail_safe().await;
                    return Err(LocalError::Io(format!(
                        "{err}; all traffic is back on the primary; run again to resume once the journal can be written"
                    )));
                }
                Err(err) => {
                    self.report(observer, &[], Some(&err));
                    Duration::from_secs(1)
                }
            };
            if let Some(phase) = self.settled().await {
                return Ok(self.end(phase));
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = &mut stop => return self.interrupted().await,
                Some(manifest) = updates.recv() => {
                    if let Err(err) = self.update(manifest).await {
                        let err = PortError { port: "manifest", message: format!("{err}; keeping the previous version") };
                        self.report(observer, &[], Some(&err));
                    }
                }
            }
        }
    }

    /// The phase the rollout of the canary's current release ended in, once
    /// it has.
    async fn settled(&self) -> Option<Phase> {
        let revision = self.target_revision().await;
        let status = &self.canary.status;
        let ended = matches!(
            status.phase,
            Phase::Initialized | Phase::Succeeded | Phase::Failed
        );
        (ended && status.last_applied_spec == revision).then_some(status.phase)
    }

    /// How a run that reached `phase` ended.
    fn end(&self, phase: Phase) -> RunEnd {
        match phase {
            Phase::Succeeded => RunEnd::Promoted,
            Phase::Failed => RunEnd::RolledBack(
                self.canary
                    .status
                    .message
                    .trim_start_matches("rolled back: ")
                    .to_owned(),
            ),
            phase => RunEnd::Unchanged(phase),
        }
    }

    async fn interrupted(&self) -> Result<RunEnd, LocalError> {
        self.fail_safe().await;
        Ok(RunEnd::Interrupted)
    }

    /// All traffic to the primary.
    async fn fail_safe(&self) {
        let _ = self
            .reconciler
            .router
            .set_canary_weight(&self.canary, 0)
            .await;
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
        let policy = self.reconciler.judge.loaded_policy(&self.canary);
        observer.update(&Progress {
            canary: &self.canary,
            events,
            steps: &steps,
            error,
            journal: Some(&self.journal_path),
            policy: policy.as_deref(),
        });
    }

    /// Save the status, retrying a few times (a full disk or a moment
    /// without file descriptors); if it still fails, traffic goes back to
    /// the primary before the run stops.
    async fn save_or_fail_safe(&self) -> Result<(), LocalError> {
        let mut attempt = 1;
        loop {
            match self.save().await {
                Ok(()) => return Ok(()),
                Err(err) if attempt >= SAVE_ATTEMPTS => {
                    self.fail_safe().await;
                    return Err(LocalError::Io(format!(
                        "{err}; all traffic is back on the primary; free space or file descriptors and run again to resume"
                    )));
                }
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(250) * attempt).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Write the status (atomically: a crash leaves the old or the new, and
    /// a failed write leaves no temporary file behind).
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
        let written = match tokio::fs::write(&temporary, text).await {
            Ok(()) => tokio::fs::rename(&temporary, &self.state_path).await,
            Err(err) => Err(err),
        };
        if written.is_err() {
            let _ = tokio::fs::remove_file(&temporary).await;
        }
        written.map_err(io_error(what))
    }

    /// Send all traffic to the primary, stop every process this run started
    /// (and reap it), and close the proxy.
    pub async fn shutdown(self) {
        let _ = self
            .reconciler
            .router
            .set_canary_weight(&self.canary, 0)
            .await;
        // The supervisor goes first, or it could restart what is stopped.
        for task in &self.tasks {
            task.abort();
        }
        self.reconciler.platform.shutdown().await;
    }
}

/// Attempts at saving the status before the run fails safe.
const SAVE_ATTEMPTS: u32 = 4;

fn missing_local() -> LocalError {
    LocalError::Spec(
        "spec.local is missing: add `local: {primary: {url|command}, canary: {url|command}}` to run this Canary on this machine".to_owned(),
    )
}

/// Everything the file alone can settle, before anything starts.
fn check_manifest(manifest: &Manifest) -> Result<Vec<String>, LocalError> {
    let local = manifest
        .canary
        .spec
        .local
        .as_ref()
        .ok_or_else(missing_local)?;
    local.validate().map_err(LocalError::Spec)?;
    manifest.check(MIN_LOCAL_INTERVAL).map_err(LocalError::Spec)
}

/// Take the state directory's lock (created if missing), or say which
/// process holds it. The lock goes with the process, however it ends.
fn lock_state_dir(dir: &Path) -> Result<std::fs::File, LocalError> {
    use std::io::{Read, Seek, Write};
    std::fs::create_dir_all(dir).map_err(io_error(format!(
        "cannot create the state directory {}",
        dir.display()
    )))?;
    let path = dir.join("lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_error(format!("cannot open {}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(LocalError::Busy(format!(
                "another warbler run (PID {}) is using the state directory {}; stop it first, or give this run its own --state-dir",
                holder.trim(),
                dir.display()
            )));
        }
        Err(std::fs::TryLockError::Error(err)) => {
            return Err(LocalError::Io(format!(
                "cannot lock {}: {err}",
                path.display()
            )));
        }
    }
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| write!(file, "{}", std::process::id()));
    Ok(file)
}

/// Idle keep-alive connections each hold a file descriptor: take every
/// descriptor the hard limit allows rather than the common soft 1,024.
fn raise_open_files_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(err) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!("cannot raise the open-files limit: {err}");
        }
    }
}

/// Restart release processes that exit, every second, whatever the phase.
fn spawn_supervisor(
    platform: LocalPlatform,
    readiness_path: String,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            platform.supervise(&readiness_path).await;
        }
    })
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
