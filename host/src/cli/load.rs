//! `warbler loadtest` and `warbler sample-app`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use super::CliError;
use crate::load::{HeyArgs, run};
use crate::sample_app::SampleApp;

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

/// Where the load tester listens.
#[derive(Debug, Args)]
pub(super) struct LoadtesterArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Runtime::new().map_err(|err| {
        CliError::policy_failed(anyhow::anyhow!("cannot start the async runtime: {err}"))
    })
}

pub(super) fn loadtest(args: HeyArgs) -> Result<(), CliError> {
    let spec = args.into_spec().map_err(|message| {
        CliError::bad_input(
            anyhow::anyhow!(message),
            Some("give a full URL such as http://127.0.0.1:9898/".to_owned()),
        )
    })?;
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
                .map_err(|err| CliError::policy_failed(anyhow::anyhow!("the server stopped: {err}"))),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}

pub(super) fn loadtester(args: LoadtesterArgs) -> Result<(), CliError> {
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|err| {
                CliError::bad_input(
                    anyhow::anyhow!("cannot listen on {}: {err}", args.listen),
                    Some("pick a free address with --listen".to_owned()),
                )
            })?;
        eprintln!("loadtester listening on http://{}/", args.listen);
        tokio::select! {
            () = crate::loadtester::LoadTester::default().serve(listener) => Ok(()),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}
