//! `warbler loadtest` and `warbler sample-app`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use super::CliError;
use crate::canary::parse_duration;
use crate::load::{LoadSpec, run};
use crate::sample_app::SampleApp;

/// `hey`'s flags, with its defaults.
#[derive(Debug, Args)]
pub(super) struct LoadtestArgs {
    /// The URL to load (http).
    url: String,
    /// Stop after this long, e.g. `30s` or `1m` (overrides -n).
    #[arg(short = 'z', value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Number of requests to send.
    #[arg(short = 'n', default_value_t = 200)]
    requests: u64,
    /// Number of workers sending at once.
    #[arg(short = 'c', default_value_t = 50)]
    concurrency: usize,
    /// Rate limit per worker, in requests per second.
    #[arg(short = 'q')]
    rate: Option<f64>,
    /// HTTP method.
    #[arg(short = 'm', default_value = "GET")]
    method: String,
    /// Timeout of each request, in seconds.
    #[arg(short = 't', default_value_t = 20)]
    timeout: u64,
}

/// The sample service's behaviour.
#[derive(Debug, Args)]
pub(super) struct SampleAppArgs {
    /// Version reported in every response.
    #[arg(long, default_value = "1.0.0")]
    version: String,
    /// Fraction of requests (0..=1) answered with 500.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Latency added to every response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9898")]
    listen: SocketAddr,
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Runtime::new().map_err(|err| {
        CliError::policy_failed(anyhow::anyhow!("cannot start the async runtime: {err}"))
    })
}

pub(super) fn loadtest(args: LoadtestArgs) -> Result<(), CliError> {
    let url = args.url.parse().map_err(|err| {
        CliError::bad_input(
            anyhow::anyhow!("`{}` is not a URL: {err}", args.url),
            Some("give a full URL such as http://127.0.0.1:9898/".to_owned()),
        )
    })?;
    let method = args.method.parse().map_err(|_| {
        CliError::bad_input(
            anyhow::anyhow!("`{}` is not an HTTP method", args.method),
            None,
        )
    })?;
    if args.url.starts_with("https:") {
        return Err(CliError::bad_input(
            anyhow::anyhow!("the built-in load generator speaks plain HTTP only"),
            Some(
                "load the service's http:// address (inside the cluster or through a port-forward)"
                    .to_owned(),
            ),
        ));
    }
    let spec = LoadSpec {
        url,
        method,
        concurrency: args.concurrency,
        rate_per_worker: args.rate.filter(|q| *q > 0.0),
        duration: args.duration,
        requests: args.requests,
        timeout: Duration::from_secs(args.timeout),
    };
    let report = runtime()?.block_on(run(&spec));
    print!("{report}");
    Ok(())
}

pub(super) fn sample_app(args: SampleAppArgs) -> Result<(), CliError> {
    if !(0.0..=1.0).contains(&args.error_rate) {
        return Err(CliError::bad_input(
            anyhow::anyhow!("--error-rate {} is not a fraction", args.error_rate),
            Some("use a value from 0 to 1, e.g. 0.05 for 5% errors".to_owned()),
        ));
    }
    let app = SampleApp {
        version: args.version,
        error_rate: args.error_rate,
        latency: Duration::from_millis(args.latency_ms),
    };
    runtime()?.block_on(async move {
        let (address, server) = app.spawn(args.listen).await.map_err(|err| {
            CliError::bad_input(
                anyhow::anyhow!("cannot listen on {}: {err}", args.listen),
                Some("pick a free address with --listen".to_owned()),
            )
        })?;
        eprintln!("sample-app listening on http://{address}/");
        tokio::select! {
            result = server => result
                .map_err(|err| CliError::policy_failed(anyhow::anyhow!("the server stopped: {err}")))?
                .map_err(|err| CliError::policy_failed(anyhow::anyhow!("the server stopped: {err}"))),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
