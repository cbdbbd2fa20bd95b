//! `warbler controller`: the Kubernetes controller, in a pod or beside a
//! cluster; and `warbler crd`, the CRDs it needs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::CliError;
use super::policy::RuntimeArgs;
use super::signals::StopSignal;
use crate::kube::{ControllerOptions, LeaderElection, Provider, run_controller};

/// `warbler controller` arguments; the names of Flagger's flags where
/// Flagger has one.
#[derive(Debug, Args)]
pub(super) struct ControllerArgs {
    /// A kubeconfig to use [default: $KUBECONFIG, ~/.kube/config, else the
    /// pod's service account].
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Watch only this namespace [default: all].
    #[arg(long)]
    namespace: Option<String>,
    /// The provider of Canaries whose spec.provider is unset (Flagger's
    /// flag): linkerd or smi (SMI TrafficSplit), gatewayapi:v1 (HTTPRoute).
    #[arg(long, default_value = "linkerd")]
    mesh_provider: String,
    /// The Prometheus server that answers the built-in metrics and inline
    /// queries, e.g. http://prometheus.linkerd-viz:9090 (Flagger's flag).
    #[arg(long)]
    metrics_server: Option<String>,
    /// Where /metrics, /healthz and /readyz are served.
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Serve the read-only dashboard on this address, e.g. 0.0.0.0:8484
    /// [default: off]. It shows every Canary this controller reconciles,
    /// their steps and journals: expose it only where those may be read.
    #[arg(long, value_name = "ADDRESS")]
    dashboard: Option<SocketAddr>,
    /// Where each Canary's step journal is written (`NAMESPACE/NAME.jsonl`)
    /// [default: /var/lib/warbler/journal in a pod, else
    /// ~/.local/state/warbler/journal].
    #[arg(long)]
    journal_dir: Option<PathBuf>,
    /// Take a Lease before reconciling, so that of two or more replicas one
    /// acts and the others stand by.
    #[arg(long)]
    leader_elect: bool,
    /// The Lease's namespace [default: $POD_NAMESPACE, else `default`].
    #[arg(long, env = "POD_NAMESPACE")]
    leader_election_namespace: Option<String>,
    /// The Lease's name.
    #[arg(long, default_value = "warbler-leader")]
    lease_name: String,
    /// Seconds a lease lasts without renewal: a standby takes over within
    /// this long after the leader dies.
    #[arg(long, default_value_t = 15)]
    lease_seconds: u64,
    /// This replica's name in events and the lease [default: $POD_NAME,
    /// else the host name and PID].
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Log lines as text or as JSON objects (one per line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum LogFormat {
    /// For people.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl ControllerArgs {
    pub(super) fn log_format(&self) -> LogFormat {
        self.log_format
    }
}

pub(super) fn controller(args: ControllerArgs) -> Result<(), CliError> {
    let default_provider = Provider::parse(&args.mesh_provider).map_err(|message| {
        CliError::bad_input(
            anyhow::anyhow!(message.replace("spec.provider", "--mesh-provider")),
            None,
        )
    })?;
    let runtime = Arc::new(args.runtime.runtime()?);
    let identity = args.identity.clone().unwrap_or_else(|| {
        let host = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        format!("{host}-{}", std::process::id())
    });
    let options = ControllerOptions {
        namespace: args.namespace.clone(),
        default_provider,
        metrics_server: args.metrics_server.clone(),
        journal_dir: args.journal_dir.clone().unwrap_or_else(default_journal_dir),
        runtime,
        registry: Some(Arc::new(args.runtime.registry()?)),
        listen: args.listen,
        leader_election: args.leader_elect.then(|| LeaderElection {
            namespace: args
                .leader_election_namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            lease_name: args.lease_name.clone(),
            lease_seconds: args.lease_seconds,
        }),
        identity,
        dashboard: args.dashboard,
    };
    super::load::runtime()?.block_on(async move {
        let stop = StopSignal::install()?;
        let client = client(args.kubeconfig.as_deref()).await?;
        let waiting = stop.clone();
        run_controller(client, options, async move {
            waiting.wait().await;
        })
        .await
        .map_err(CliError::cannot_proceed)
    })
}

/// In a pod, the conventional state folder (an emptyDir or volume in the
/// chart); beside a cluster, the user's state folder.
fn default_journal_dir() -> PathBuf {
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        return PathBuf::from("/var/lib/warbler/journal");
    }
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("warbler/journal")
}

async fn client(kubeconfig: Option<&std::path::Path>) -> Result<kube::Client, CliError> {
    crate::http::install_crypto_provider();
    let config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path).map_err(|err| {
                CliError::bad_input(
                    anyhow::anyhow!("--kubeconfig {}: {err}", path.display()),
                    None,
                )
            })?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|err| {
                    CliError::bad_input(
                        anyhow::anyhow!("--kubeconfig {}: {err}", path.display()),
                        None,
                    )
                })?
        }
        None => kube::Config::infer().await.map_err(|err| {
            CliError::bad_input(
                anyhow::anyhow!("no Kubernetes configuration found: {err}"),
                Some("pass --kubeconfig FILE, set KUBECONFIG, or run in a pod with a service account".to_owned()),
            )
        })?,
    };
    kube::Client::try_from(config).map_err(|err| {
        CliError::cannot_proceed(anyhow::anyhow!("cannot build the Kubernetes client: {err}"))
    })
}

/// `warbler crd`: print the CRDs.
pub(super) fn crd() -> Result<(), CliError> {
    print!("{}", crate::kube::crds_yaml());
    Ok(())
}
