//! `warbler run canary.yaml`: roll a Canary out on this machine.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Args;

use super::CliError;
use super::display::RolloutDisplay;
use super::policy::RuntimeArgs;
use crate::canary::Manifest;
use crate::local::{LocalError, LocalOptions, LocalRun, RunEnd};

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
    /// After the rollout, keep running and start a new one whenever the
    /// file's `spec.local.canary` changes.
    #[arg(long)]
    watch: bool,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// Exit code when the rollout was rolled back.
const EXIT_ROLLED_BACK: u8 = 1;
/// Exit code when interrupted (as shells report SIGINT).
pub(super) const EXIT_INTERRUPTED: u8 = 130;

fn read_manifest(path: &Path) -> Result<Manifest, CliError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        CliError::bad_input(
            anyhow::anyhow!("cannot read {}: {err}", path.display()),
            None,
        )
    })?;
    Manifest::from_yaml(&path.display().to_string(), &text)
        .map_err(|err| CliError::bad_input(err, None))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

pub(super) fn local_error(err: LocalError) -> CliError {
    match err {
        LocalError::Spec(_) | LocalError::Policy(_) => CliError::bad_input(err, None),
        LocalError::Io(_) | LocalError::NotReady(_) => CliError::policy_failed(err),
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
    };
    let runtime = super::load::runtime()?;
    runtime.block_on(async move {
        let mut run = LocalRun::start(manifest, options)
            .await
            .map_err(local_error)?;
        println!(
            "proxy on http://{}  ·  metrics on http://{}/metrics",
            run.proxy_address(),
            run.metrics_address()
        );
        let outcome = watch_loop(&mut run, &args).await;
        run.shutdown().await;
        outcome
    })
}

async fn watch_loop(run: &mut LocalRun, args: &RunArgs) -> Result<(), CliError> {
    let mut seen = modified(&args.file);
    loop {
        let title = format!("rolling out {}", run.canary().key());
        let mut display = RolloutDisplay::new(&title);
        let end = run
            .run(&mut display, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
        print!("{}", display.finish());
        let end = end.map_err(local_error)?;
        let failure = |message: String, code| CliError {
            error: anyhow::anyhow!(message),
            hint: None,
            code,
        };
        match &end {
            RunEnd::Promoted => println!("promoted: the primary now runs the canary's release"),
            RunEnd::Unchanged(phase) => println!(
                "nothing to roll out: the canary's release is the last one handled ({phase:?}); change spec.local.canary to start a run"
            ),
            RunEnd::RolledBack(why) if !args.watch => {
                return Err(failure(format!("rolled back: {why}"), EXIT_ROLLED_BACK));
            }
            RunEnd::RolledBack(why) => println!("rolled back: {why}"),
            RunEnd::Interrupted => {
                return Err(failure(
                    "interrupted: all traffic is back on the primary; run the same command again to resume".to_owned(),
                    EXIT_INTERRUPTED,
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
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
            let now = modified(&args.file);
            if now != seen {
                seen = now;
                match read_manifest(&args.file).and_then(|m| run.update(m).map_err(local_error)) {
                    Ok(()) => break,
                    Err(err) => eprintln!("error: {:#}; keeping the previous version", err.error),
                }
            }
        }
    }
}
