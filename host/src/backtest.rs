//! `warbler policy backtest`: policies against many recorded rollouts whose
//! right outcome is known. Each rollout is simulated, not replayed: the
//! metrics of step i come from the journal's step i, while the weight, the
//! failed checks and the history follow the candidate's own decisions, as
//! the host would apply them.

pub mod dataset;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use warbler_guest_sdk::{Decision, PastStep, Phase};

use crate::canary::DEFAULT_MAX_HOLDS;
use crate::earlier_steps::RunSteps;
use crate::journal::FileJournal;
use crate::ports::JournalEntry;
use crate::replay::Candidate;

/// What a rollout is known to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    /// Its kind: `healthy`, or the regression it carries.
    pub kind: String,
    /// True when the canary must not be promoted.
    pub regression: bool,
}

/// One labelled rollout: its steps' inputs, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Its journal's file name.
    pub name: String,
    /// What it is known to be.
    pub label: Label,
    /// Its steps.
    pub steps: Vec<JournalEntry>,
}

/// The labels file of a dataset: journal file name → label.
pub const LABELS: &str = "labels.json";

/// Read a dataset: `labels.json` and the journals it names.
pub fn load(dir: &Path) -> Result<Vec<Scenario>, String> {
    let path = dir.join(LABELS);
    let text = std::fs::read_to_string(&path).map_err(|err| {
        format!(
            "cannot read {}: {err}; a dataset is a folder of journals and a {LABELS} naming each one's kind",
            path.display()
        )
    })?;
    let labels: BTreeMap<String, Label> =
        serde_json::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))?;
    labels
        .into_iter()
        .map(|(name, label)| {
            let steps = FileJournal::read(&dir.join(&name))?;
            Ok(Scenario { name, label, steps })
        })
        .collect()
}

/// How a simulated rollout ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Ending {
    /// Promoted after this many steps.
    Promoted(usize),
    /// Rolled back after this many steps.
    RolledBack(usize),
    /// Still undecided when the recorded steps ran out.
    Undecided,
}

/// The rollout's state as the host keeps it between steps.
#[derive(Debug, Default)]
struct State {
    weight: u32,
    iteration: u32,
    failed_checks: u32,
    holds: u32,
    history: Vec<PastStep>,
}

/// Simulate `scenario` decided by `candidate`.
pub fn simulate(scenario: &Scenario, candidate: &Candidate<'_>) -> Ending {
    let mut state = State::default();
    let mut run = RunSteps::new(0);
    for (i, entry) in scenario.steps.iter().enumerate() {
        let taken = i + 1;
        let step = taken as u32;
        let mut input = entry.input.clone();
        if state.failed_checks >= input.analysis.threshold.max(1) {
            return Ending::RolledBack(taken);
        }
        input.state.phase = Phase::Progressing;
        input.state.canary_weight = state.weight;
        input.state.iteration = state.iteration;
        input.state.failed_checks = state.failed_checks;
        input.history = state.history.clone();
        input.earlier_steps = run.before(step);
        if let Some(config) = &candidate.config {
            input.config = config.clone();
        }
        let (decision, score) = match (candidate.evaluate)(&input) {
            Ok(verdict) => (verdict.decision, verdict.score),
            Err(failure) => (
                Decision::Hold {
                    reason: failure,
                    failed: true,
                },
                None,
            ),
        };
        run.record(step, &input);
        state.history.push(PastStep {
            revision: input.canary.revision.clone(),
            iteration: state.iteration,
            canary_weight: state.weight,
            at_ms: input.now_ms,
            decision: decision.clone(),
            score,
        });
        match decision {
            Decision::Promote => return Ending::Promoted(taken),
            Decision::Rollback { .. } => return Ending::RolledBack(taken),
            Decision::Advance { weight } => {
                if weight >= state.weight {
                    state.iteration += 1;
                }
                state.weight = weight;
                state.holds = 0;
            }
            Decision::Hold { failed: true, .. } => {
                state.failed_checks += 1;
                state.holds = 0;
            }
            Decision::Hold { .. } => {
                state.holds += 1;
                if state.holds > DEFAULT_MAX_HOLDS {
                    state.failed_checks += 1;
                }
            }
        }
    }
    Ending::Undecided
}

/// How one policy fared on one kind of rollout.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KindResult {
    /// Rollouts of this kind.
    pub rollouts: usize,
    /// Promoted.
    pub promoted: usize,
    /// Rolled back.
    pub rolled_back: usize,
    /// Neither when the steps ran out.
    pub undecided: usize,
    /// Steps taken by the rollouts that were decided, summed.
    pub decided_steps: usize,
    /// Whether this kind must not be promoted.
    pub regression: bool,
}

impl KindResult {
    /// The share of rollouts the policy got wrong: a healthy one rolled
    /// back, or a regression promoted.
    pub fn error_rate(&self) -> f64 {
        let wrong = if self.regression {
            self.promoted
        } else {
            self.rolled_back
        };
        wrong as f64 / self.rollouts.max(1) as f64
    }

    /// Mean steps to a decision, over the rollouts that were decided.
    pub fn mean_steps(&self) -> f64 {
        self.decided_steps as f64 / (self.promoted + self.rolled_back).max(1) as f64
    }
}

/// One policy's results, by kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReport {
    /// The candidate's label.
    pub policy: String,
    /// Its configuration, if given.
    pub config: Option<String>,
    /// Results by kind.
    pub kinds: BTreeMap<String, KindResult>,
}

/// Simulate every scenario with each candidate.
pub fn backtest(scenarios: &[Scenario], candidates: &[Candidate<'_>]) -> Vec<PolicyReport> {
    candidates
        .iter()
        .map(|candidate| {
            let mut kinds: BTreeMap<String, KindResult> = BTreeMap::new();
            for scenario in scenarios {
                let result = kinds.entry(scenario.label.kind.clone()).or_default();
                result.rollouts += 1;
                result.regression = scenario.label.regression;
                match simulate(scenario, candidate) {
                    Ending::Promoted(steps) => {
                        result.promoted += 1;
                        result.decided_steps += steps;
                    }
                    Ending::RolledBack(steps) => {
                        result.rolled_back += 1;
                        result.decided_steps += steps;
                    }
                    Ending::Undecided => result.undecided += 1,
                }
            }
            PolicyReport {
                policy: candidate.label.clone(),
                config: candidate.config.clone(),
                kinds,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use warbler_guest_sdk::{Input, Verdict};

    use super::*;

    fn healthy() -> Scenario {
        dataset::generate(1).remove(0)
    }

    fn always(verdict: Verdict) -> Candidate<'static> {
        Candidate {
            label: "test".to_owned(),
            config: None,
            evaluate: Box::new(move |_: &Input| Ok(verdict.clone())),
        }
    }

    #[test]
    fn a_policy_that_passes_every_step_promotes_once_it_reaches_the_max_weight() {
        let passing = Candidate {
            label: "passing".to_owned(),
            config: None,
            evaluate: Box::new(|input: &Input| Ok(Verdict::passed(input))),
        };
        // 0 → 20 → 40 → 60, then promote: four steps.
        assert_eq!(simulate(&healthy(), &passing), Ending::Promoted(4));
    }

    #[test]
    fn each_step_sees_the_earlier_verdicts_scores_in_its_history() {
        let scored = Candidate {
            label: "scored".to_owned(),
            config: None,
            evaluate: Box::new(|input: &Input| {
                if input.history.len() == 2 {
                    let scores: Vec<_> = input.history.iter().map(|step| step.score).collect();
                    assert_eq!(scores, [Some(0.0), Some(1.0)]);
                    return Ok(Verdict::rollback("seen"));
                }
                Ok(Verdict::wait("scoring").with_score(input.history.len() as f64))
            }),
        };
        assert_eq!(simulate(&healthy(), &scored), Ending::RolledBack(3));
    }

    #[test]
    fn the_host_rolls_back_once_failed_checks_reach_the_threshold() {
        // Threshold 2: two failed checks, then the third step rolls back.
        assert_eq!(
            simulate(&healthy(), &always(Verdict::fail("no"))),
            Ending::RolledBack(3)
        );
    }

    #[test]
    fn a_policy_that_waits_is_undecided_when_the_steps_run_out() {
        assert_eq!(
            simulate(&healthy(), &always(Verdict::wait("more data"))),
            Ending::Undecided
        );
    }

    #[test]
    fn a_failing_policy_counts_failed_checks_as_the_host_does() {
        let failing = Candidate {
            label: "trap".to_owned(),
            config: None,
            evaluate: Box::new(|_: &Input| Err("crashed".to_owned())),
        };
        assert_eq!(simulate(&healthy(), &failing), Ending::RolledBack(3));
    }

    #[test]
    fn the_policy_sees_its_own_weight_not_the_recorded_one() {
        let seen = std::sync::Mutex::new(Vec::new());
        let holding = Candidate {
            label: "holds".to_owned(),
            config: None,
            evaluate: Box::new(|input: &Input| {
                seen.lock().unwrap().push(input.state.canary_weight);
                Ok(Verdict::wait("x"))
            }),
        };
        simulate(&healthy(), &holding);
        assert!(seen.lock().unwrap().iter().all(|w| *w == 0));
    }

    #[test]
    fn each_kind_is_counted_with_whether_it_is_a_regression() {
        let scenarios = dataset::generate(1);
        let reports = backtest(&scenarios, &[always(Verdict::promote())]);
        let healthy = &reports[0].kinds["healthy"];
        assert_eq!((healthy.promoted, healthy.regression), (100, false));
        let shifted = &reports[0].kinds["latency-shift-20pct"];
        assert_eq!((shifted.promoted, shifted.regression), (20, true));
        assert_eq!(shifted.error_rate(), 1.0);
    }
}
