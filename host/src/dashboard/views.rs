//! What the pages and the JSON API say about a canary: its row in the
//! list, its runs and their outcomes. One model for both, so the API is
//! exactly what the pages show.

use warbler_guest_sdk::{Decision, Phase};

use super::board::{LoggedEvent, PolicyFacts, Tracked};
use crate::canary::CanaryStatus;
use crate::kube::rfc3339;
use crate::ports::JournalEntry;
use crate::reconciler::policy_label;

/// A canary's row: Flagger's columns, its policy and its last verdict.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanarySummary {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// Flagger's phase.
    pub phase: Phase,
    /// Traffic on the canary, in percent.
    pub weight: u32,
    /// Failed checks in this run.
    pub failed_checks: u32,
    /// Failed checks that roll back (`analysis.threshold`).
    pub threshold: u32,
    /// When the phase last changed (RFC 3339).
    pub last_transition_time: String,
    /// The reason for the current phase.
    pub message: String,
    /// The policy that judges it.
    pub policy: String,
    /// The last step's decision (`advance to 30%`, `rollback: why`) or the
    /// policy's failure; none before the first step.
    pub last_verdict: Option<String>,
    /// Bumped at every change of this canary.
    pub version: u64,
}

/// One run of a canary: the steps of one release.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// When it started (Unix ms): the run's identifier.
    pub started_ms: i64,
    /// When it started (RFC 3339).
    pub started: String,
    /// The canary's revision in that run.
    pub revision: String,
    /// Its analysis steps.
    pub steps: usize,
    /// How it ended: `promoted`, `rolled back: why`, `superseded` by a
    /// newer release, or the phase of the run in progress.
    pub outcome: String,
}

/// A canary in full, as `/api/v1/canaries/NAMESPACE/NAME` gives it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryDetail {
    /// Its row.
    #[serde(flatten)]
    pub summary: CanarySummary,
    /// Its status, as the Canary object has it.
    pub status: CanaryStatus,
    /// Its policy.
    pub policy_facts: PolicyFacts,
    /// Its runs, newest first.
    pub runs: Vec<RunSummary>,
    /// Recent events, oldest first.
    pub events: Vec<LoggedEvent>,
}

/// A step's decision in one line, or the policy's failure.
pub fn verdict_line(entry: &JournalEntry) -> String {
    match &entry.outcome {
        Ok(verdict) => verdict.decision.to_string(),
        Err(error) => format!("policy failed: {error}"),
    }
}

impl CanarySummary {
    /// The row of `tracked`.
    pub fn of(tracked: &Tracked) -> Self {
        let canary = &tracked.canary;
        let status = &canary.status;
        CanarySummary {
            namespace: canary.metadata.namespace.clone(),
            name: canary.metadata.name.clone(),
            phase: status.phase,
            weight: status.canary_weight,
            failed_checks: status.failed_checks,
            threshold: canary.spec.analysis.threshold,
            last_transition_time: rfc3339(status.last_transition_ms),
            message: status.message.clone(),
            policy: policy_label(canary),
            last_verdict: tracked.last_step.as_ref().map(verdict_line),
            version: tracked.version,
        }
    }
}

/// The runs in `steps` (a canary's journal), newest first.
pub fn runs(tracked: &Tracked, steps: &[JournalEntry]) -> Vec<RunSummary> {
    let mut runs: Vec<RunSummary> = Vec::new();
    for (n, entry) in steps.iter().enumerate() {
        let next_is_same_run = steps
            .get(n + 1)
            .is_some_and(|next| next.run_started_ms == entry.run_started_ms);
        if next_is_same_run {
            continue;
        }
        let count = steps[..=n]
            .iter()
            .rev()
            .take_while(|e| e.run_started_ms == entry.run_started_ms)
            .count();
        runs.push(RunSummary {
            started_ms: entry.run_started_ms,
            started: rfc3339(entry.run_started_ms),
            revision: entry.input.canary.revision.clone(),
            steps: count,
            outcome: outcome(tracked, entry),
        });
    }
    runs.reverse();
    runs
}

/// How the run whose last step is `last` ended.
fn outcome(tracked: &Tracked, last: &JournalEntry) -> String {
    let status = &tracked.canary.status;
    if status.run_started_ms == Some(last.run_started_ms) {
        return match status.phase {
            Phase::Succeeded => "promoted".to_owned(),
            Phase::Failed => status.message.clone(),
            phase => format!("{phase:?}"),
        };
    }
    let threshold = tracked.canary.spec.analysis.threshold;
    match last.outcome.as_ref().map(|verdict| &verdict.decision) {
        Ok(Decision::Promote) => "promoted".to_owned(),
        Ok(Decision::Rollback { reason }) => format!("rolled back: {reason}"),
        Ok(Decision::Hold { failed: true, .. }) | Err(_)
            if last.input.state.failed_checks + 1 >= threshold =>
        {
            format!("rolled back: failed checks reached the threshold of {threshold}")
        }
        _ => "superseded".to_owned(),
    }
}

impl CanaryDetail {
    /// `tracked` in full, with the runs in its journal `steps`.
    pub fn of(tracked: &Tracked, steps: &[JournalEntry]) -> Self {
        CanaryDetail {
            summary: CanarySummary::of(tracked),
            status: tracked.canary.status.clone(),
            policy_facts: tracked.policy.clone(),
            runs: runs(tracked, steps),
            events: tracked.events.iter().cloned().collect(),
        }
    }
}

/// The steps of the run started at `run` (the newest when `None`).
pub fn run_steps(steps: Vec<JournalEntry>, run: Option<i64>) -> Vec<JournalEntry> {
    let Some(started) = run.or_else(|| steps.last().map(|s| s.run_started_ms)) else {
        return Vec::new();
    };
    steps
        .into_iter()
        .filter(|step| step.run_started_ms == started)
        .collect()
}
