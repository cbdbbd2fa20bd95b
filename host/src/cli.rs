//! The `warbler` command line.

mod backtest;
mod controller;
mod demo;
mod display;
mod load;
mod policy;
mod registry;
mod replay;
mod run;
mod signals;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Progressive delivery whose analysis is a sandboxed WebAssembly policy.
#[derive(Debug, Parser)]
#[command(name = "warbler", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Log filter, e.g. `info` or `warbler=debug`.
    #[arg(long, global = true, env = "WARBLER_LOG", default_value = "warn")]
    log: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Two real rollouts on this machine in about a minute: a healthy
    /// release is promoted, a faulty one rolled back.
    Demo(demo::DemoArgs),
    /// Roll a Canary out on this machine (`spec.local`): supervised releases
    /// behind an embedded weighted proxy.
    Run(run::RunArgs),
    /// Evaluate and inspect analysis policies (for policy authors).
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Send HTTP load like `hey` (same flags: -z, -n, -c, -q, -m, -t).
    Loadtest(crate::load::HeyArgs),
    /// Accept Flagger load-test webhooks (`metadata.cmd: "hey …"`) and run
    /// the load natively, like flagger-loadtester.
    Loadtester(load::LoadtesterArgs),
    /// Run a small HTTP service with a given version, error rate and latency.
    #[command(disable_version_flag = true)]
    SampleApp(load::SampleAppArgs),
    /// The Kubernetes controller: reconcile every Canary of the cluster
    /// (in a pod, or beside a cluster with --kubeconfig).
    Controller(Box<controller::ControllerArgs>),
    /// Print the CustomResourceDefinitions of Canary and MetricTemplate, to
    /// apply before the controller starts.
    Crd,
}

/// A failure at the command line's edge: one line saying what went wrong, an
/// optional hint saying what to do, and the exit code.
#[derive(Debug)]
pub struct CliError {
    /// What went wrong.
    pub error: anyhow::Error,
    /// What to do about it.
    pub hint: Option<String>,
    /// The process exit code.
    pub code: u8,
}

/// Exit code when the input, the arguments or the policy file are wrong.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code when the policy ran but gave no verdict (trap, budget, refusal).
pub const EXIT_POLICY_FAILED: u8 = 1;
/// Exit code when a run could not go on for reasons outside the Canary
/// (a port taken, the state directory unwritable or locked, a corrupt saved
/// status, a release that never became ready).
pub const EXIT_CANNOT_PROCEED: u8 = 3;

impl CliError {
    fn bad_input(error: impl Into<anyhow::Error>, hint: impl Into<Option<String>>) -> Self {
        CliError {
            error: error.into(),
            hint: hint.into(),
            code: EXIT_BAD_INPUT,
        }
    }

    fn cannot_proceed(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            error: error.into(),
            hint: None,
            code: EXIT_CANNOT_PROCEED,
        }
    }

    fn policy_failed(error: impl Into<anyhow::Error>) -> Self {
        CliError {
            error: error.into(),
            hint: None,
            code: EXIT_POLICY_FAILED,
        }
    }
}

impl Cli {
    /// Run the command and turn its outcome into an exit code.
    pub fn run(self) -> ExitCode {
        let json = matches!(&self.command, Command::Controller(args) if args.log_format() == controller::LogFormat::Json);
        init_tracing(&self.log, json);
        let outcome = match self.command {
            Command::Demo(args) => demo::demo(args),
            Command::Run(args) => run::run(args),
            Command::Policy(command) => command.run(),
            Command::Loadtest(args) => load::loadtest(args),
            Command::SampleApp(args) => load::sample_app(args),
            Command::Loadtester(args) => load::loadtester(args),
            Command::Controller(args) => controller::controller(*args),
            Command::Crd => controller::crd(),
        };
        match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => {
                eprintln!("error: {:#}", failure.error);
                if let Some(hint) = failure.hint {
                    eprintln!("hint: {hint}");
                }
                ExitCode::from(failure.code)
            }
        }
    }
}

fn init_tracing(filter: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        logs.json().init();
    } else {
        logs.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
