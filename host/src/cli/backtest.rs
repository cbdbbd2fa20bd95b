//! `warbler policy backtest`: policies against a labelled dataset of
//! rollouts, as a confusion table per policy.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use super::policy::{Output, RuntimeArgs};
use crate::backtest::{PolicyReport, backtest, load as load_dataset};

#[derive(Debug, Args)]
pub(super) struct BacktestArgs {
    /// The dataset: a folder of journals and `labels.json` naming each
    /// one's kind (`tests/data/backtest/` is one).
    #[arg(long)]
    dataset: PathBuf,
    /// A policy to test (a `.wasm` component, `oci://…` or
    /// `builtin:NAME`); repeat to compare several, or the same one with
    /// several configurations.
    #[arg(long, short, required = true)]
    policy: Vec<String>,
    /// The configuration (JSON) of the policy given at the same position;
    /// `null` without it.
    #[arg(long)]
    config: Vec<String>,
    /// How to print the report.
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

pub(super) fn run(args: BacktestArgs) -> Result<(), CliError> {
    let scenarios = load_dataset(&args.dataset).map_err(|err| {
        CliError::bad_input(
            anyhow::anyhow!(err),
            Some("pass --dataset a folder made by `cargo run -p warbler --example backtest_dataset`, or of journals with a labels.json".to_owned()),
        )
    })?;
    let mut candidates = super::replay::candidates(&args.policy, &args.config, &args.runtime)?;
    // A dataset's inputs carry no configuration of their own.
    for candidate in &mut candidates {
        candidate.config.get_or_insert_with(|| "null".to_owned());
    }
    let reports = backtest(&scenarios, &candidates);
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "policies": reports }))
                .expect("reports serialize")
        ),
        Output::Text => {
            for report in &reports {
                print!("{}", text_report(report));
            }
        }
    }
    Ok(())
}

/// A policy's results as a table: per kind, the rollouts promoted, rolled
/// back and undecided, the share it got wrong (a healthy canary rolled
/// back, a regression promoted) and the mean steps to a decision.
fn text_report(report: &PolicyReport) -> String {
    let config = report
        .config
        .as_deref()
        .filter(|c| *c != "null")
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    let mut out = format!("{}{config}\n", report.policy);
    out.push_str(&format!(
        "  {:<28} {:>8} {:>8} {:>11} {:>9} {:>7} {:>6}\n",
        "kind", "rollouts", "promoted", "rolled back", "undecided", "wrong", "steps"
    ));
    for (kind, result) in &report.kinds {
        let wrong = if result.regression {
            "missed"
        } else {
            "false rb"
        };
        out.push_str(&format!(
            "  {:<28} {:>8} {:>8} {:>11} {:>9} {:>6.1}% {:>6.1}  ({wrong})\n",
            kind,
            result.rollouts,
            result.promoted,
            result.rolled_back,
            result.undecided,
            100.0 * result.error_rate(),
            result.mean_steps()
        ));
    }
    out.push('\n');
    out
}
