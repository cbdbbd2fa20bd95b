//! `warbler policy replay`: a journal's steps through other policies, step
//! by step beside what was recorded.

use std::path::PathBuf;

use clap::Args;
use k8s_openapi::jiff::Timestamp;

use super::CliError;
use super::policy::{Output, RuntimeArgs, load};
use crate::journal::FileJournal;
use crate::ports::StepOutcome;
use crate::replay::{Candidate, ReplayedRun, replay};

/// Longest text of a decision in the text table.
const CELL: usize = 28;

#[derive(Debug, Args)]
pub(super) struct ReplayArgs {
    /// The journal: `<state-dir>/journal.jsonl` of `warbler run`, or a
    /// canary's file under the controller's `--journal-dir`.
    #[arg(long)]
    journal: PathBuf,
    /// A policy to replay the steps through (a `.wasm` component,
    /// `oci://…` or `builtin:NAME`); repeat to compare several.
    #[arg(long, short, required = true)]
    policy: Vec<String>,
    /// The configuration (JSON) of the policy given at the same position;
    /// without it a policy gets each step's recorded configuration when it
    /// is the policy that judged the step, `null` otherwise.
    #[arg(long)]
    config: Vec<String>,
    /// How to print the report.
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// Refuse more `--config` values than policies, or one that is not JSON.
fn check_configs(configs: &[String], policies: usize) -> Result<(), CliError> {
    if configs.len() > policies {
        return Err(CliError::bad_input(
            anyhow::anyhow!(
                "{} --config values for {policies} --policy values",
                configs.len()
            ),
            Some("give at most one --config per --policy, in the same order".to_owned()),
        ));
    }
    for (i, config) in configs.iter().enumerate() {
        serde_json::from_str::<serde_json::Value>(config).map_err(|err| {
            CliError::bad_input(
                anyhow::anyhow!("--config #{} is not JSON: {err}", i + 1),
                Some(
                    r#"write the configuration as JSON, e.g. --config '{"alpha": 0.01}'"#
                        .to_owned(),
                ),
            )
        })?;
    }
    Ok(())
}

/// Each policy loaded as a candidate, with the `--config` at its position.
pub(super) fn candidates(
    policies: &[String],
    configs: &[String],
    runtime_args: &RuntimeArgs,
) -> Result<Vec<Candidate<'static>>, CliError> {
    check_configs(configs, policies.len())?;
    let runtime = runtime_args.runtime()?;
    policies
        .iter()
        .enumerate()
        .map(|(i, reference)| {
            let policy = load(reference, runtime_args, &runtime)?.policy;
            Ok(Candidate {
                label: reference.clone(),
                config: configs.get(i).cloned(),
                evaluate: Box::new(move |input| policy.evaluate(input).map_err(|e| e.to_string())),
            })
        })
        .collect()
}

pub(super) fn run(args: ReplayArgs) -> Result<(), CliError> {
    check_configs(&args.config, args.policy.len())?;
    let entries = FileJournal::read(&args.journal).map_err(|err| {
        CliError::bad_input(
            anyhow::anyhow!(err),
            Some("pass a journal written by `warbler run` or `warbler controller`".to_owned()),
        )
    })?;
    let candidates = candidates(&args.policy, &args.config, &args.runtime)?;
    let runs = replay(&entries, &candidates);
    match args.output {
        Output::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "runs": runs }))
                .expect("reports serialize")
        ),
        Output::Text => {
            for run in &runs {
                print!("{}", text_report(run));
            }
        }
    }
    Ok(())
}

/// A run as a table of steps, each candidate's column `=` where it decided
/// as recorded, then each candidate's summary.
fn text_report(run: &ReplayedRun) -> String {
    let started = Timestamp::from_millisecond(run.run_started_ms - run.run_started_ms % 1000)
        .map_or_else(|_| run.run_started_ms.to_string(), |t| t.to_string());
    let mut out = format!(
        "{}: run started {started}, judged by {}, {} steps\n",
        run.canary,
        run.recorded_policy,
        run.steps.len()
    );
    out.push_str(&format!(
        "{:>5} {:>6}  {:<CELL$}",
        "step", "weight", "recorded"
    ));
    for candidate in &run.candidates {
        out.push_str(&format!("  {:<CELL$}", clip(&candidate.policy)));
    }
    out.push('\n');
    for step in &run.steps {
        out.push_str(&format!(
            "{:>5} {:>5}%  {:<CELL$}",
            step.step,
            step.weight,
            clip(&short(&step.recorded))
        ));
        for (replayed, candidate) in step.replayed.iter().zip(&run.candidates) {
            let same = replayed.decision() == step.recorded.decision();
            let first = candidate
                .first_divergence
                .as_ref()
                .is_some_and(|d| d.step == step.step);
            let cell = match (same, first) {
                (true, _) => "=".to_owned(),
                (false, true) => format!("{} ◀", clip_to(&short(replayed), CELL - 2)),
                (false, false) => clip(&short(replayed)),
            };
            out.push_str(&format!("  {cell:<CELL$}"));
        }
        out.push('\n');
    }
    for candidate in &run.candidates {
        let agreement = format!(
            "{} of {} steps exactly as recorded",
            candidate.identical_steps,
            run.steps.len()
        );
        let divergence = candidate.first_divergence.as_ref().map_or_else(
            || "no divergence: the run would have gone the same way".to_owned(),
            |d| format!("first divergence {}", d.consequence),
        );
        out.push_str(&format!(
            "{}: {agreement}; {divergence}\n",
            candidate.policy
        ));
    }
    out.push('\n');
    out
}

fn short(outcome: &StepOutcome) -> String {
    match outcome {
        StepOutcome::Verdict(verdict) => verdict.decision.to_string(),
        StepOutcome::Error(err) => format!("error: {err}"),
    }
}

fn clip(text: &str) -> String {
    clip_to(text, CELL)
}

fn clip_to(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut clipped: String = text.chars().take(width - 1).collect();
        clipped.push('…');
        clipped
    }
}
