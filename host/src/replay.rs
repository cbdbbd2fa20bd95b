//! `warbler policy replay`: every step a journal recorded, through other
//! policies. Policies are deterministic and a journal keeps each step's full
//! input, so the recorded policy must give the recorded verdict again, and
//! another policy shows where it would have decided otherwise. A policy that
//! reads the run's earlier steps gets them from the journal's earlier
//! entries, as it did live.

use std::collections::HashMap;

use warbler_guest_sdk::{Decision, Input, Verdict};

use crate::earlier_steps::RunSteps;
use crate::ports::{JournalEntry, StepOutcome};

/// What a candidate answers for one input.
pub type Evaluate<'a> = Box<dyn Fn(&Input) -> Result<Verdict, String> + 'a>;

/// A policy to replay steps through: its label and what it answers.
pub struct Candidate<'a> {
    /// How reports name it, e.g. `builtin:compare`.
    pub label: String,
    /// The configuration to give it (JSON text); `None` keeps each step's
    /// recorded configuration when the step was judged by this same policy
    /// (by label), and gives `null` otherwise.
    pub config: Option<String>,
    /// Evaluates one input.
    pub evaluate: Evaluate<'a>,
}

/// One recorded step and what each candidate answered.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayedStep {
    /// The step's number in its run.
    pub step: u32,
    /// The canary's weight when it was judged.
    pub weight: u32,
    /// What the journal recorded.
    pub recorded: StepOutcome,
    /// Each candidate's answer, in the order given.
    pub replayed: Vec<StepOutcome>,
}

/// Where a candidate first decided otherwise than the run did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Divergence {
    /// The step's number in its run.
    pub step: u32,
    /// The canary's weight then.
    pub weight: u32,
    /// What the rollout would have done there, in words.
    pub consequence: String,
}

/// How one candidate fared over one run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidateSummary {
    /// The candidate's label.
    pub policy: String,
    /// Steps whose verdict equals the recorded one exactly (decision,
    /// judgements and score).
    pub identical_steps: usize,
    /// The first step whose decision differs, if any.
    pub first_divergence: Option<Divergence>,
}

/// One run of one canary, replayed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayedRun {
    /// `namespace/name`.
    pub canary: String,
    /// When the run started (Unix ms).
    pub run_started_ms: i64,
    /// The policy that judged it, as the journal names it.
    pub recorded_policy: String,
    /// Its steps in order.
    pub steps: Vec<ReplayedStep>,
    /// Each candidate's summary, in the order given.
    pub candidates: Vec<CandidateSummary>,
}

/// Replay every step of `entries` (a journal, in its order) through each
/// candidate; one report per run.
pub fn replay(entries: &[JournalEntry], candidates: &[Candidate<'_>]) -> Vec<ReplayedRun> {
    let mut runs: Vec<ReplayedRun> = Vec::new();
    let mut recorded: HashMap<&str, RunSteps> = HashMap::new();
    for entry in entries {
        let run_steps = recorded
            .entry(&entry.canary)
            .and_modify(|run| {
                if run.run_started_ms() != entry.run_started_ms {
                    *run = RunSteps::new(entry.run_started_ms);
                }
            })
            .or_insert_with(|| RunSteps::new(entry.run_started_ms));
        let earlier_steps = run_steps.before(entry.step);
        run_steps.record(entry.step, &entry.input);
        let same_run = runs.last().is_some_and(|run| {
            run.canary == entry.canary && run.run_started_ms == entry.run_started_ms
        });
        if !same_run {
            runs.push(ReplayedRun {
                canary: entry.canary.clone(),
                run_started_ms: entry.run_started_ms,
                recorded_policy: entry.policy.clone(),
                steps: Vec::new(),
                candidates: Vec::new(),
            });
        }
        let replayed = candidates
            .iter()
            .map(|candidate| {
                let input = Input {
                    earlier_steps: earlier_steps.clone(),
                    ..input_for(entry, candidate)
                };
                (candidate.evaluate)(&input).into()
            })
            .collect();
        let run = runs.last_mut().expect("a run was just pushed");
        run.steps.push(ReplayedStep {
            step: entry.step,
            weight: entry.input.state.canary_weight,
            recorded: entry.outcome.clone().into(),
            replayed,
        });
    }
    for run in &mut runs {
        run.candidates = candidates
            .iter()
            .enumerate()
            .map(|(i, candidate)| summarize(&candidate.label, &run.steps, i))
            .collect();
    }
    runs
}

/// The recorded input with the configuration the candidate gets.
fn input_for(entry: &JournalEntry, candidate: &Candidate<'_>) -> Input {
    let mut input = entry.input.clone();
    input.config = match &candidate.config {
        Some(config) => config.clone(),
        None if candidate.label == entry.policy => input.config,
        None => "null".to_owned(),
    };
    input
}

fn summarize(label: &str, steps: &[ReplayedStep], candidate: usize) -> CandidateSummary {
    let identical_steps = steps
        .iter()
        .filter(|s| s.replayed[candidate] == s.recorded)
        .count();
    let first_divergence = steps.iter().find_map(|s| {
        let replayed = &s.replayed[candidate];
        (replayed.decision() != s.recorded.decision()).then(|| Divergence {
            step: s.step,
            weight: s.weight,
            consequence: consequence(s, replayed),
        })
    });
    CandidateSummary {
        policy: label.to_owned(),
        identical_steps,
        first_divergence,
    }
}

/// What the rollout would have done at a step where `replayed` differs.
fn consequence(step: &ReplayedStep, replayed: &StepOutcome) -> String {
    let recorded = match &step.recorded {
        StepOutcome::Verdict(verdict) => describe(&verdict.decision, step.weight),
        StepOutcome::Error(_) => "failed to decide (a failed check)".to_owned(),
    };
    let instead = match replayed {
        StepOutcome::Verdict(verdict) => describe(&verdict.decision, step.weight),
        StepOutcome::Error(err) => format!("failed to decide (a failed check: {err})"),
    };
    format!(
        "at step {} ({}%) it would have {instead} where the run {recorded}; later steps would have seen other inputs",
        step.step, step.weight
    )
}

fn describe(decision: &Decision, weight: u32) -> String {
    match decision {
        Decision::Advance { weight: to } if *to > weight => format!("advanced to {to}%"),
        Decision::Advance { weight: to } if *to < weight => format!("backed off to {to}%"),
        Decision::Advance { .. } => "passed the step at the same weight".to_owned(),
        Decision::Hold {
            reason,
            failed: true,
        } => format!("held with a failed check ({reason})"),
        Decision::Hold { reason, .. } => format!("held ({reason})"),
        Decision::Promote => "promoted".to_owned(),
        Decision::Rollback { reason } => format!("rolled back ({reason})"),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// Step `step` of the run started at `run`, judged at `weight` by
    /// `builtin:threshold` with config `{"missingMetric":"skip"}`, decided
    /// `decision`.
    fn entry(run: i64, step: u32, weight: u32, decision: Decision) -> JournalEntry {
        let mut input: Input =
            serde_json::from_str(include_str!("../../examples/inputs/frontend-step.json")).unwrap();
        input.state.canary_weight = weight;
        input.config = r#"{"missingMetric":"skip"}"#.to_owned();
        JournalEntry {
            shadows: Vec::new(),
            canary: "podinfo/frontend".to_owned(),
            policy: "builtin:threshold".to_owned(),
            policy_digest: None,
            run_started_ms: run,
            step,
            at_ms: run + i64::from(step) * 10_000,
            input,
            outcome: Ok(decision.into()),
        }
    }

    fn journal() -> Vec<JournalEntry> {
        vec![
            entry(1, 1, 0, Decision::Advance { weight: 10 }),
            entry(1, 2, 10, Decision::Advance { weight: 20 }),
            entry(1, 3, 20, Decision::Promote),
        ]
    }

    /// A candidate that advances by 10 up to 20, then promotes: the
    /// recorded run's policy.
    fn like_the_run(label: &str) -> Candidate<'static> {
        Candidate {
            label: label.to_owned(),
            config: None,
            evaluate: Box::new(|input: &Input| {
                Ok(match input.state.canary_weight {
                    w if w >= 20 => Verdict::promote(),
                    w => Verdict::advance(w + 10),
                })
            }),
        }
    }

    #[test]
    fn a_policy_that_decides_as_recorded_reproduces_every_step() {
        let runs = replay(&journal(), &[like_the_run("builtin:threshold")]);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].candidates[0].identical_steps, 3);
        assert_eq!(runs[0].candidates[0].first_divergence, None);
    }

    #[test]
    fn the_first_step_decided_otherwise_is_the_divergence_with_what_it_would_have_done() {
        let stricter = Candidate {
            label: "strict".to_owned(),
            config: None,
            evaluate: Box::new(|input: &Input| {
                Ok(if input.state.canary_weight == 0 {
                    Verdict::advance(10)
                } else {
                    Verdict::rollback("too slow")
                })
            }),
        };
        let runs = replay(&journal(), &[stricter]);
        let divergence = runs[0].candidates[0].first_divergence.clone().unwrap();
        assert_eq!((divergence.step, divergence.weight), (2, 10));
        assert_eq!(
            divergence.consequence,
            "at step 2 (10%) it would have rolled back (too slow) where the run advanced to 20%; later steps would have seen other inputs"
        );
        assert_eq!(runs[0].candidates[0].identical_steps, 1);
    }

    #[test]
    fn a_failure_where_the_run_had_a_verdict_is_a_divergence() {
        let failing = Candidate {
            label: "trap".to_owned(),
            config: None,
            evaluate: Box::new(|_: &Input| Err("policy `trap` crashed".to_owned())),
        };
        let runs = replay(&journal(), &[failing]);
        let divergence = runs[0].candidates[0].first_divergence.clone().unwrap();
        assert_eq!(divergence.step, 1);
        assert!(
            divergence.consequence.contains("failed to decide"),
            "{divergence:?}"
        );
    }

    #[test]
    fn each_run_of_a_journal_is_replayed_on_its_own() {
        let mut entries = journal();
        entries.extend([
            entry(2, 1, 0, Decision::Advance { weight: 10 }),
            entry(
                2,
                2,
                10,
                Decision::Rollback {
                    reason: "x".to_owned(),
                },
            ),
        ]);
        let runs = replay(&entries, &[like_the_run("builtin:threshold")]);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[1].steps.len(), 2);
        assert_eq!(runs[0].candidates[0].first_divergence, None);
        assert_eq!(
            runs[1].candidates[0]
                .first_divergence
                .as_ref()
                .unwrap()
                .step,
            2
        );
    }

    #[test]
    fn the_recorded_config_goes_only_to_the_policy_that_recorded_it() {
        let seen = RefCell::new(Vec::new());
        let recording = |label: &str, config: Option<&str>| Candidate {
            label: label.to_owned(),
            config: config.map(str::to_owned),
            evaluate: Box::new(|input: &Input| {
                seen.borrow_mut().push(input.config.clone());
                Ok(Verdict::promote())
            }),
        };
        let entries = &journal()[..1];
        replay(entries, &[recording("builtin:threshold", None)]);
        replay(entries, &[recording("builtin:compare", None)]);
        replay(
            entries,
            &[recording("builtin:compare", Some(r#"{"alpha":0.01}"#))],
        );
        assert_eq!(
            *seen.borrow(),
            [r#"{"missingMetric":"skip"}"#, "null", r#"{"alpha":0.01}"#]
        );
    }
}
