//! `warbler run canary.yaml`: roll a Canary out on this machine.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use warbler_guest_sdk::Phase;

use super::CliError;
use super::display::RolloutDisplay;
use super::policy::RuntimeArgs;
use super::signals::StopSignal;
use crate::canary::Manifest;
use crate::dashboard::{Board, BoardFeed, Dashboard};
use crate::local::{LocalError, LocalOptions, LocalRun, RunEnd};
use crate::policy::PolicySource;
use crate::ports::{Clock, SystemClock};

/// `warbler run` arguments.
#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// The Canary (with `spec.local`), optionally followed by the
    /// MetricTemplates it uses, as YAML documents.
    file: PathBuf,
    /// Query this Prometheus (e.g. http://127.0.0.1:9090) instead of the
    /// proxy's own counters; it should scrape the proxy's /metrics.
    #[arg(long)]
    prometheus: Option<String>,
    /// Journal, saved status and release logs [default: .warbler/NAME next
    /// to the file].
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Keep running and take every change of the file: a new
    /// `spec.local.canary` starts a new run, also in the middle of one.
    #[arg(long)]
    watch: bool,
    #[command(flatten)]
    dashboard: DashboardArgs,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// Where the dashboard of a local run is served.
#[derive(Debug, Args)]
pub(super) struct DashboardArgs {
    /// Serve the dashboard on this address; port 0 picks a free one.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:0")]
    dashboard: SocketAddr,
    /// Serve no dashboard.
    #[arg(long, conflicts_with = "dashboard")]
    no_dashboard: bool,
    /// Keep serving the dashboard once the rollouts have ended, until
    /// Ctrl-C.
    #[arg(long, conflicts_with = "no_dashboard")]
    keep_dashboard: bool,
}

impl DashboardArgs {
    /// Start the dashboard, unless turned off, and print its address.
    /// Started once the run's proxy holds its port: a dashboard on a free
    /// port picked earlier could take the very port the Canary names.
    pub(super) async fn start(&self) -> Result<Option<Dashboard>, CliError> {
        if self.no_dashboard {
            return Ok(None);
        }
        let dashboard = Dashboard::start(self.dashboard, Arc::new(Board::default()))
            .await
            .map_err(|err| {
                CliError::cannot_proceed(anyhow::anyhow!(
                    "cannot serve the dashboard on {}: {err}; pick a free address with --dashboard or turn it off with --no-dashboard",
                    self.dashboard
                ))
            })?;
        println!("dashboard: {}", dashboard.url());
        Ok(Some(dashboard))
    }

    /// With `--keep-dashboard`, serve the dashboard until `stop`.
    pub(super) async fn linger(&self, dashboard: Option<&Dashboard>, stop: &StopSignal) {
        if let (true, Some(dashboard)) = (self.keep_dashboard, dashboard) {
            println!(
                "the dashboard stays at {} (Ctrl-C to stop)",
                dashboard.url()
            );
            stop.wait().await;
        }
    }
}

/// Show `run`'s canary on the dashboard as it stands, before any step.
pub(super) fn show(dashboard: Option<&Dashboard>, run: &LocalRun) {
    if let Some(dashboard) = dashboard {
        dashboard.board().update(
            run.canary(),
            &[],
            &[],
            Some(run.journal_path().to_owned()),
            SystemClock.now_ms(),
        );
    }
}

/// Exit code when the rollout was rolled back (now or, for a release
/// already handled, in an earlier run).
const EXIT_ROLLED_BACK: u8 = 1;

/// Read a Canary file; a relative policy path in it is taken relative to
/// the file's folder, as the file's author sees it.
pub(super) fn read_manifest(path: &Path) -> Result<Manifest, CliError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        CliError::bad_input(
            anyhow::anyhow!("cannot read {}: {err}", path.display()),
            None,
        )
    })?;
    let mut manifest = Manifest::from_yaml(&path.display().to_string(), &text)
        .map_err(|err| CliError::bad_input(err, None))?;
    if let Some(policy) = manifest.canary.spec.analysis.policy.as_mut()
        && let Some(Ok(PolicySource::File(file))) = policy.reference.as_deref().map(str::parse)
        && file.is_relative()
    {
        let folder = path.parent().unwrap_or(Path::new("."));
        policy.reference = Some(folder.join(file).display().to_string());
    }
    Ok(manifest)
}

pub(super) fn local_error(err: LocalError) -> CliError {
    match err {
        LocalError::Spec(_) | LocalError::Policy(_) => CliError::bad_input(err, None),
        LocalError::Io(_) | LocalError::NotReady(_) | LocalError::Busy(_) => {
            CliError::cannot_proceed(err)
        }
    }
}

pub(super) fn run(args: RunArgs) -> Result<(), CliError> {
    let manifest = read_manifest(&args.file)?;
    let state_dir = args.state_dir.clone().unwrap_or_else(|| {
        args.file
            .parent()
            .unwrap_or(Path::new("."))
            .join(".warbler")
            .join(&manifest.canary.metadata.name)
    });
    let options = LocalOptions {
        prometheus: args.prometheus.clone(),
        state_dir,
        runtime: Arc::new(args.runtime.runtime()?),
        registry: Some(Arc::new(args.runtime.registry()?)),
    };
    let runtime = super::load::runtime()?;
    runtime.block_on(async move {
        let stop = StopSignal::install()?;
        let (updates, _watcher) = if args.watch {
            let (sender, updates) = mpsc::unbounded_channel();
            (updates, Some(watch_file(&args.file, sender)?))
        } else {
            (mpsc::unbounded_channel().1, None)
        };
        let mut run = tokio::select! {
            started = LocalRun::start(manifest, options) => started.map_err(local_error)?,
            code = stop.wait() => {
                return Err(StopSignal::stopped(code, "stopped while starting; every process started is stopped"));
            }
        };
        println!(
            "proxy on http://{}  ·  metrics on http://{}/metrics",
            run.proxy_address(),
            run.metrics_address()
        );
        let dashboard = match args.dashboard.start().await {
            Ok(dashboard) => dashboard,
            Err(err) => {
                run.shutdown().await;
                return Err(err);
            }
        };
        show(dashboard.as_ref(), &run);
        let outcome = rollouts(&mut run, &args, &stop, updates, dashboard.as_ref()).await;
        run.shutdown().await;
        args.dashboard.linger(dashboard.as_ref(), &stop).await;
        outcome
    })
}

/// One rollout, or with `--watch` one after another as the file changes.
async fn rollouts(
    run: &mut LocalRun,
    args: &RunArgs,
    stop: &StopSignal,
    mut updates: mpsc::UnboundedReceiver<Manifest>,
    dashboard: Option<&Dashboard>,
) -> Result<(), CliError> {
    loop {
        let title = format!("rolling out {}", run.canary().key());
        let mut display = RolloutDisplay::new(&title);
        let end = run
            .run(
                &mut observer(dashboard, &mut display),
                async {
                    stop.wait().await;
                },
                &mut updates,
            )
            .await;
        print!("{}", display.finish());
        let failure = |message: String, code| CliError {
            error: anyhow::anyhow!(message),
            hint: None,
            code,
        };
        match end.map_err(local_error)? {
            RunEnd::Promoted => println!("promoted: the primary now runs the canary's release"),
            RunEnd::Unchanged(Phase::Failed) if !args.watch => {
                return Err(failure(
                    format!(
                        "the canary's release was rolled back in an earlier run ({}); change spec.local.canary to start a new run",
                        run.canary().status.message
                    ),
                    EXIT_ROLLED_BACK,
                ));
            }
            RunEnd::Unchanged(phase) => println!(
                "nothing to roll out: the canary's release is the last one handled ({phase:?}); change spec.local.canary to start a run"
            ),
            RunEnd::RolledBack(why) if !args.watch => {
                return Err(failure(format!("rolled back: {why}"), EXIT_ROLLED_BACK));
            }
            RunEnd::RolledBack(why) => println!("rolled back: {why}"),
            RunEnd::Interrupted => {
                let code = stop.wait().await;
                return Err(StopSignal::stopped(
                    code,
                    "all traffic is back on the primary; run the same command again to resume",
                ));
            }
        }
        if !args.watch {
            return Ok(());
        }
        println!(
            "watching {} for a new canary release (Ctrl-C to stop)",
            args.file.display()
        );
        loop {
            tokio::select! {
                code = stop.wait() => return Err(StopSignal::stopped(code, "stopped while watching")),
                manifest = updates.recv() => {
                    let Some(manifest) = manifest else { return Ok(()) };
                    match run.update(manifest).await {
                        Ok(()) => break,
                        Err(err) => eprintln!("error: {err}; keeping the previous version"),
                    }
                }
            }
        }
    }
}

/// What sees a run's progress: the terminal display, and the dashboard
/// when there is one.
pub(super) fn observer<'a>(
    dashboard: Option<&'a Dashboard>,
    display: &'a mut RolloutDisplay,
) -> BoardFeed<'a> {
    BoardFeed {
        board: dashboard.map(|d| d.board().as_ref()),
        display,
    }
}

/// Watch `file` (through its folder: editors replace a file rather than
/// write it in place) and send its manifest each time its content changes.
/// A version that does not parse is reported and skipped.
fn watch_file(
    file: &Path,
    sender: mpsc::UnboundedSender<Manifest>,
) -> Result<notify::RecommendedWatcher, CliError> {
    let cannot_watch = |err: notify::Error| {
        CliError::cannot_proceed(anyhow::anyhow!(
            "cannot watch {} for changes: {err}",
            file.display()
        ))
    };
    let file = std::path::absolute(file)
        .map_err(|err| CliError::bad_input(anyhow::anyhow!("{}: {err}", file.display()), None))?;
    let folder = file.parent().unwrap_or(Path::new("/")).to_owned();
    let (changed, mut changes) = mpsc::unbounded_channel();
    let name = file.file_name().map(ToOwned::to_owned);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && event.paths.iter().any(|p| p.file_name() == name.as_deref())
        {
            let _ = changed.send(());
        }
    })
    .map_err(cannot_watch)?;
    watcher
        .watch(&folder, RecursiveMode::NonRecursive)
        .map_err(cannot_watch)?;
    let mut last = std::fs::read_to_string(&file).ok();
    tokio::spawn(async move {
        while changes.recv().await.is_some() {
            // An editor's save is several events: read once they settle.
            tokio::time::sleep(Duration::from_millis(100)).await;
            while changes.try_recv().is_ok() {}
            let text = std::fs::read_to_string(&file).ok();
            if text.is_none() || text == last {
                continue;
            }
            last = text;
            match read_manifest(&file) {
                Ok(manifest) => {
                    if sender.send(manifest).is_err() {
                        return;
                    }
                }
                Err(err) => eprintln!("error: {:#}; keeping the previous version", err.error),
            }
        }
    });
    Ok(watcher)
}
