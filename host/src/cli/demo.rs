//! `warbler demo`: two real rollouts on this machine in about a minute. A
//! stable sample app and a canary run as supervised processes behind the
//! embedded proxy, the built-in load generator sends traffic through it,
//! and the built-in threshold policy promotes a good release, then rolls a
//! bad one (errors and latency) back.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use tokio::sync::mpsc;

use super::CliError;
use super::display::RolloutDisplay;
use super::policy::RuntimeArgs;
use super::run::{DashboardArgs, local_error, observer, show};
use super::signals::StopSignal;
use crate::canary::{Manifest, format_duration, parse_duration};
use crate::dashboard::Dashboard;
use crate::load::{LoadSpec, run as send_load};
use crate::local::{LocalOptions, LocalRun, RunEnd};

/// `warbler demo` arguments.
#[derive(Debug, Args)]
pub(super) struct DemoArgs {
    /// Time between analysis steps.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    interval: Duration,
    /// Keep the demo's Canary file, journal, status and logs here
    /// [default: a temporary directory, removed at the end].
    #[arg(long)]
    state_dir: Option<PathBuf>,
    #[command(flatten)]
    dashboard: DashboardArgs,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// A sample-app release: version, error rate, latency.
struct Release {
    version: &'static str,
    error_rate: f64,
    latency_ms: u64,
}

const STABLE: Release = Release {
    version: "1.0.0",
    error_rate: 0.0,
    latency_ms: 2,
};
const GOOD: Release = Release {
    version: "1.1.0",
    error_rate: 0.0,
    latency_ms: 3,
};
const BAD: Release = Release {
    version: "1.2.0",
    error_rate: 0.1,
    latency_ms: 700,
};

fn command(exe: &Path, release: &Release) -> String {
    format!(
        r#"{{command: ["{}", "sample-app", "--version", "{}", "--error-rate", "{}", "--latency-ms", "{}", "--listen", "127.0.0.1:${{PORT}}"]}}"#,
        exe.display(),
        release.version,
        release.error_rate,
        release.latency_ms
    )
}

/// The demo's Canary: Flagger's fields, a local target, Flagger's built-in
/// metrics with their usual thresholds.
fn manifest(exe: &Path, interval: Duration, canary: &Release) -> String {
    let interval = format_duration(interval);
    format!(
        r#"apiVersion: warbler.dev/v1alpha1
kind: Canary
metadata:
  name: podinfo
  namespace: demo
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  service:
    port: 9898
  local:
    listen: 127.0.0.1:0
    readinessPath: /healthz
    primary: {primary}
    canary: {canary}
  analysis:
    interval: {interval}
    threshold: 2
    stepWeight: 10
    maxWeight: 50
    metrics:
      - name: request-success-rate
        thresholdRange:
          min: 99
        interval: {interval}
      - name: request-duration
        thresholdRange:
          max: 500
        interval: {interval}
"#,
        primary = command(exe, &STABLE),
        canary = command(exe, canary),
    )
}

pub(super) fn demo(args: DemoArgs) -> Result<(), CliError> {
    let exe = std::env::current_exe().map_err(|err| {
        CliError::cannot_proceed(anyhow::anyhow!("cannot find the warbler binary: {err}"))
    })?;
    let temporary;
    let dir = match &args.state_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|err| {
                CliError::cannot_proceed(anyhow::anyhow!(
                    "cannot create {} (--state-dir): {err}; pick a folder you can write",
                    dir.display()
                ))
            })?;
            dir.clone()
        }
        None => {
            temporary = tempfile::tempdir().map_err(|err| {
                CliError::cannot_proceed(anyhow::anyhow!(
                    "cannot create a temporary directory: {err}"
                ))
            })?;
            temporary.path().to_owned()
        }
    };
    let options = LocalOptions {
        prometheus: None,
        state_dir: dir.join("state"),
        runtime: Arc::new(args.runtime.runtime()?),
        registry: None,
    };
    let canary_file = dir.join("canary.yaml");
    let write = |release: &Release| -> Result<Manifest, CliError> {
        let text = manifest(&exe, args.interval, release);
        std::fs::write(&canary_file, &text).map_err(|err| {
            CliError::cannot_proceed(anyhow::anyhow!(
                "cannot write {}: {err}",
                canary_file.display()
            ))
        })?;
        Manifest::from_yaml(&canary_file.display().to_string(), &text)
            .map_err(|err| CliError::policy_failed(anyhow::anyhow!("the demo's manifest: {err}")))
    };
    let first = write(&GOOD)?;
    super::load::runtime()?.block_on(async {
        let started = Instant::now();
        let stop = StopSignal::install()?;
        let mut run = tokio::select! {
            started = LocalRun::start(first, options) => started.map_err(local_error)?,
            code = stop.wait() => return Err(StopSignal::stopped(code, "the demo's processes are stopped")),
        };
        println!(
            "warbler demo: stable {} and canary behind the proxy at http://{} (metrics at http://{}/metrics)",
            STABLE.version,
            run.proxy_address(),
            run.metrics_address()
        );
        println!("the Canary: {}\n", canary_file.display());
        let dashboard = match args.dashboard.start().await {
            Ok(dashboard) => dashboard,
            Err(err) => {
                run.shutdown().await;
                return Err(err);
            }
        };
        show(dashboard.as_ref(), &run);
        let load = tokio::spawn({
            let spec = LoadSpec {
                url: format!("http://{}/", run.proxy_address())
                    .parse()
                    .expect("a socket address makes a URL"),
                method: hyper::Method::GET,
                concurrency: 8,
                rate_per_worker: Some(25.0),
                duration: Some(Duration::from_secs(3600)),
                requests: 0,
                timeout: Duration::from_secs(5),
            };
            async move { send_load(&spec).await }
        });
        let outcome = rollouts(&mut run, &write, &stop, dashboard.as_ref()).await;
        load.abort();
        run.shutdown().await;
        args.dashboard.linger(dashboard.as_ref(), &stop).await;
        let (good, bad) = outcome?;
        println!(
            "demo done in {:.0}s: {} promoted ({}), {} rolled back ({})",
            started.elapsed().as_secs_f64(),
            GOOD.version,
            describe(&good),
            BAD.version,
            describe(&bad)
        );
        match (good, bad) {
            (RunEnd::Promoted, RunEnd::RolledBack(_)) => Ok(()),
            (good, bad) => Err(CliError::policy_failed(anyhow::anyhow!(
                "the demo did not go as expected (good release: {good:?}, bad release: {bad:?}); the journal and logs are in {}",
                dir.display()
            ))),
        }
    })
}

fn describe(end: &RunEnd) -> String {
    match end {
        RunEnd::Promoted => "as expected".to_owned(),
        RunEnd::RolledBack(why) => why.clone(),
        other => format!("{other:?}"),
    }
}

async fn rollouts(
    run: &mut LocalRun,
    write: &impl Fn(&Release) -> Result<Manifest, CliError>,
    stop: &StopSignal,
    dashboard: Option<&Dashboard>,
) -> Result<(RunEnd, RunEnd), CliError> {
    let good = rollout(
        run,
        &format!("rollout 1: {} → {} (healthy)", STABLE.version, GOOD.version),
        stop,
        dashboard,
    )
    .await?;
    run.update(write(&BAD)?).await.map_err(local_error)?;
    let bad = rollout(
        run,
        &format!(
            "rollout 2: {} → {} ({}% errors, {} ms latency)",
            GOOD.version,
            BAD.version,
            BAD.error_rate * 100.0,
            BAD.latency_ms
        ),
        stop,
        dashboard,
    )
    .await?;
    Ok((good, bad))
}

async fn rollout(
    run: &mut LocalRun,
    title: &str,
    stop: &StopSignal,
    dashboard: Option<&Dashboard>,
) -> Result<RunEnd, CliError> {
    let mut display = RolloutDisplay::new(title);
    let end = run
        .run(
            &mut observer(dashboard, &mut display),
            async {
                stop.wait().await;
            },
            &mut mpsc::unbounded_channel().1,
        )
        .await;
    println!("{}", display.finish());
    match end.map_err(local_error)? {
        RunEnd::Interrupted => Err(StopSignal::stopped(
            stop.wait().await,
            "the demo's processes are stopped",
        )),
        end => Ok(end),
    }
}
