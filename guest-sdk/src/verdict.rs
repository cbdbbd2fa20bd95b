//! What a policy answers.

use serde::{Deserialize, Serialize};

/// What the host should do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase", deny_unknown_fields)]
pub enum Decision {
    /// The step passed: route `weight` percent of traffic to the canary. A
    /// higher weight is an iteration, the current weight an iteration
    /// without a shift (blue/green), a lower weight backs off and is not an
    /// iteration.
    Advance {
        /// The canary's new weight (0..=100).
        weight: u32,
    },
    /// Keep the current weight and analyse again after the interval.
    Hold {
        /// Shown in events and status.
        reason: String,
        /// True when the step failed and counts as a failed check.
        failed: bool,
    },
    /// Analysis is complete and good: promote the canary.
    Promote,
    /// Abort the run and route all traffic back to the primary.
    Rollback {
        /// Shown in events and status.
        reason: String,
    },
}

impl std::fmt::Display for Decision {
    /// One line: `advance to 30%`, `hold: why`, `hold, failed check: why`,
    /// `promote` or `rollback: why`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::Advance { weight } => write!(f, "advance to {weight}%"),
            Decision::Hold {
                reason,
                failed: true,
            } => write!(f, "hold, failed check: {reason}"),
            Decision::Hold {
                reason,
                failed: false,
            } => write!(f, "hold: {reason}"),
            Decision::Promote => f.write_str("promote"),
            Decision::Rollback { reason } => write!(f, "rollback: {reason}"),
        }
    }
}

/// How one metric fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Within bounds.
    Pass,
    /// Out of bounds or significantly worse than the baseline.
    Fail,
    /// No value to judge.
    NoData,
    /// Too little evidence either way.
    Inconclusive,
}

/// A policy's judgement of one metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Judgement {
    /// The metric's name.
    pub metric: String,
    /// The outcome.
    pub outcome: Outcome,
    /// A short human explanation, e.g. `99.2 >= 99`.
    #[serde(default)]
    pub detail: String,
}

/// A policy's answer for one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// What to do.
    pub decision: Decision,
    /// Per-metric judgements; may be empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub judgements: Vec<Judgement>,
    /// An optional overall score on the policy's own scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

impl Verdict {
    /// Advance the canary to `weight`.
    pub fn advance(weight: u32) -> Self {
        Decision::Advance { weight }.into()
    }

    /// Hold without penalty, e.g. to wait for more samples.
    pub fn wait(reason: impl Into<String>) -> Self {
        Decision::Hold {
            reason: reason.into(),
            failed: false,
        }
        .into()
    }

    /// Hold and count a failed check.
    pub fn fail(reason: impl Into<String>) -> Self {
        Decision::Hold {
            reason: reason.into(),
            failed: true,
        }
        .into()
    }

    /// Promote the canary.
    pub fn promote() -> Self {
        Decision::Promote.into()
    }

    /// Roll the canary back.
    pub fn rollback(reason: impl Into<String>) -> Self {
        Decision::Rollback {
            reason: reason.into(),
        }
        .into()
    }

    /// The verdict of a step whose checks all passed, by Flagger's rule:
    /// with `iterations` set, stay at the current weight until that many
    /// steps have passed, then promote; otherwise promote at the max weight,
    /// else advance to [`crate::Analysis::next_weight`].
    pub fn passed(input: &crate::Input) -> Self {
        let (analysis, state) = (&input.analysis, &input.state);
        if analysis.is_iteration_mode() {
            if state.iteration < analysis.iterations.unwrap_or(0) {
                Verdict::advance(state.canary_weight)
            } else {
                Verdict::promote()
            }
        } else if state.canary_weight >= analysis.max_weight() {
            Verdict::promote()
        } else {
            Verdict::advance(analysis.next_weight(state.canary_weight))
        }
    }

    /// The verdict of a step that needs no metric, by the rules most
    /// policies share with Flagger: once failed checks reached
    /// `analysis.threshold`, roll back; a webhook of this step that failed
    /// is a failed check; at the first step, whose canary has had no traffic
    /// yet, start shifting. `None` when the metrics are to decide.
    pub fn before_judging(input: &crate::Input) -> Option<Self> {
        let (analysis, state) = (&input.analysis, &input.state);
        if state.failed_checks >= analysis.threshold {
            return Some(Verdict::rollback(format!(
                "failed checks threshold reached {}",
                state.failed_checks
            )));
        }
        if let Some(hook) = input.webhooks.iter().find(|hook| !hook.passed) {
            return Some(Verdict::fail(format!(
                "webhook {} failed: {}",
                hook.name, hook.message
            )));
        }
        input.is_first_step().then(|| Verdict::passed(input))
    }

    /// The same verdict with these judgements attached.
    pub fn with_judgements(mut self, judgements: Vec<Judgement>) -> Self {
        self.judgements = judgements;
        self
    }

    /// The same verdict with a score attached.
    pub fn with_score(mut self, score: f64) -> Self {
        self.score = Some(score);
        self
    }
}

impl From<Decision> for Verdict {
    fn from(decision: Decision) -> Self {
        Verdict {
            decision,
            judgements: Vec::new(),
            score: None,
        }
    }
}
