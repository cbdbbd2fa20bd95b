//! The ports the reconciler talks through. It never calls Kubernetes, HTTP or
//! wasmtime itself: each mechanism is a trait here, implemented for the
//! cluster, for the embedded local mode, and in memory for tests.

pub mod memory;

use std::future::Future;

use serde_json::Value;
use warbler_guest_sdk::{EarlierStep, Input, Phase, Verdict, WebhookKind, WebhookResult};

use crate::canary::{Canary, MetricSpec, ShadowPolicySpec, WebhookSpec};

/// A port failed; the reconciler retries the whole step later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{port}: {message}")]
pub struct PortError {
    /// Which port (`platform`, `router`, `journal`, ...).
    pub port: &'static str,
    /// What went wrong, with what to do about it.
    pub message: String,
}

/// Whether a workload can take traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// All required replicas are ready.
    Ready,
    /// Not yet, and why (e.g. `1 of 3 replicas ready`).
    NotReady(String),
}

/// Workloads: the target, its primary copy and its canary.
pub trait Platform: Send + Sync {
    /// The target's template (pod template, command line, upstream), or
    /// `None` when the target does not exist.
    fn target_template(
        &self,
        canary: &Canary,
    ) -> impl Future<Output = Result<Option<Value>, PortError>> + Send;

    /// Create the primary from the target if it does not exist yet, and say
    /// whether it is ready.
    fn ensure_primary(
        &self,
        canary: &Canary,
    ) -> impl Future<Output = Result<Readiness, PortError>> + Send;

    /// Scale the canary (the target) up for a run or down after one.
    fn scale_canary(
        &self,
        canary: &Canary,
        up: bool,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Whether the canary can take traffic.
    fn canary_readiness(
        &self,
        canary: &Canary,
    ) -> impl Future<Output = Result<Readiness, PortError>> + Send;

    /// Copy the canary's template to the primary.
    fn promote(&self, canary: &Canary) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Whether the primary, after a promotion, runs the new template and is
    /// ready.
    fn primary_readiness(
        &self,
        canary: &Canary,
    ) -> impl Future<Output = Result<Readiness, PortError>> + Send;
}

/// Traffic: how much goes to the canary.
pub trait Router: Send + Sync {
    /// Route `weight` percent of traffic to the canary, the rest to the
    /// primary.
    fn set_canary_weight(
        &self,
        canary: &Canary,
        weight: u32,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// One metric measured for one step, for the canary and the primary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measurement {
    /// The canary's value; `None` when the source found none.
    pub canary: Option<f64>,
    /// The primary's value, where the source can tell.
    pub primary: Option<f64>,
    /// The canary's samples over the window.
    pub canary_series: Option<warbler_guest_sdk::Series>,
    /// The primary's samples over the window.
    pub primary_series: Option<warbler_guest_sdk::Series>,
    /// Why a value is missing: which query returned nothing, which source
    /// was unreachable.
    pub note: String,
}

impl Measurement {
    /// No value, and why.
    pub fn missing(note: String) -> Self {
        Measurement {
            note,
            ..Measurement::default()
        }
    }
}

/// Metric providers: Prometheus, direct scrapes, the embedded router.
pub trait MetricSource: Send + Sync {
    /// Measure `metric` over its window, ending `now_ms`. A source that
    /// cannot answer returns a measurement with no value and a note, never an
    /// error: a missing metric is a failed check, not a stalled rollout.
    fn measure(
        &self,
        canary: &Canary,
        metric: &MetricSpec,
        now_ms: i64,
    ) -> impl Future<Output = Measurement> + Send;
}

/// Webhooks: Flagger's eight types, with its payload.
pub trait Hooks: Send + Sync {
    /// Call `hook` for `canary` and report the outcome (never an error: a
    /// transport failure is a failed webhook). The payload's phase is
    /// [`payload_phase`].
    fn call(
        &self,
        canary: &Canary,
        hook: &WebhookSpec,
    ) -> impl Future<Output = WebhookResult> + Send;
}

/// The phase a webhook's payload carries, as Flagger sends it: the
/// Canary's own phase for `post-rollout` (the one the run ended in),
/// `rollback` and `event` hooks; `Progressing` for the gates and the
/// load-test hooks, whichever phase the run waits in.
pub fn payload_phase(canary: &Canary, kind: WebhookKind) -> Phase {
    match kind {
        WebhookKind::PostRollout | WebhookKind::Rollback | WebhookKind::Event => {
            canary.status.phase
        }
        _ => Phase::Progressing,
    }
}

/// The policy that decides each step.
pub trait Judge: Send + Sync {
    /// Decide one step. `Err` is a policy failure (trap, budget, refusal,
    /// missing policy) described for the operator; it fails safe. A policy
    /// runs for milliseconds (a Python guest) to its CPU budget: an
    /// implementation must not run it on the async runtime's workers.
    fn judge(
        &self,
        canary: &Canary,
        input: &Input,
    ) -> impl Future<Output = Result<Verdict, String>> + Send;

    /// The sha256 of the component that judges `canary`, once it has
    /// loaded (after a [`Judge::judge`]); `None` while it cannot be had. The
    /// journal records it beside the reference, which a tag leaves open.
    fn policy_digest(&self, canary: &Canary) -> Option<String>;

    /// True when `canary`'s policy or one of its shadows reads the run's
    /// earlier steps (imports `run`): only then are they gathered from the
    /// journal. A policy that cannot be loaded reads nothing; judging it
    /// reports why.
    fn reads_earlier_steps(&self, canary: &Canary) -> impl Future<Output = bool> + Send;

    /// Decide one step with one of `canary`'s shadow policies, on an input
    /// that carries the shadow's own configuration. `Err` is the shadow's
    /// failure; nothing acts on either.
    fn judge_shadow(
        &self,
        shadow: &ShadowPolicySpec,
        input: &Input,
    ) -> impl Future<Output = Result<Verdict, String>> + Send;
}

/// What a shadow policy said at a step.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShadowOutcome {
    /// The shadow's name (its `ref` unless named).
    pub policy: String,
    /// Its verdict, or its failure.
    pub outcome: StepOutcome,
}

/// One analysis step, as recorded for replay.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// `namespace/name` of the canary.
    pub canary: String,
    /// The policy reference that judged.
    pub policy: String,
    /// The sha256 of the component that judged; absent when it could not
    /// be loaded, and in journals written before Warbler recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_digest: Option<String>,
    /// When the run this step belongs to started (Unix ms).
    #[serde(default)]
    pub run_started_ms: i64,
    /// The step's number in its run, from 1. With the run's start it
    /// identifies the step: a step judged again (after a restart that lost
    /// its status) replaces the entry instead of adding a second one.
    #[serde(default)]
    pub step: u32,
    /// When the step started, before its metrics were queried (Unix ms):
    /// how late a step ran is read from consecutive entries.
    #[serde(default)]
    pub at_ms: i64,
    /// The full input the policy saw.
    pub input: Input,
    /// What each shadow policy said, in `spec.analysis.shadowPolicies`
    /// order; never acted upon.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadows: Vec<ShadowOutcome>,
    /// Its verdict, or the policy failure. In JSON `{"verdict": {...}}` or
    /// `{"error": "..."}`; `Ok` and `Err`, which earlier builds wrote, are
    /// still read.
    #[serde(with = "step_outcome")]
    pub outcome: Result<Verdict, String>,
}

/// A step's outcome in JSON: `{"verdict": ...}` or `{"error": "..."}`, the
/// journal's naming (lowercase) instead of serde's `Ok`/`Err`, which earlier
/// builds wrote and which are still read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepOutcome {
    /// The policy's verdict.
    #[serde(alias = "Ok")]
    Verdict(Verdict),
    /// Why the policy gave none.
    #[serde(alias = "Err")]
    Error(String),
}

impl StepOutcome {
    /// The decision, or none for a failure (whose text may name the policy,
    /// so two failures are not compared by it).
    pub fn decision(&self) -> Option<&warbler_guest_sdk::Decision> {
        match self {
            StepOutcome::Verdict(verdict) => Some(&verdict.decision),
            StepOutcome::Error(_) => None,
        }
    }
}

impl From<Result<Verdict, String>> for StepOutcome {
    fn from(outcome: Result<Verdict, String>) -> Self {
        match outcome {
            Ok(verdict) => StepOutcome::Verdict(verdict),
            Err(error) => StepOutcome::Error(error),
        }
    }
}

impl From<StepOutcome> for Result<Verdict, String> {
    fn from(outcome: StepOutcome) -> Self {
        match outcome {
            StepOutcome::Verdict(verdict) => Ok(verdict),
            StepOutcome::Error(error) => Err(error),
        }
    }
}

/// Serde glue: a [`JournalEntry`]'s outcome as a [`StepOutcome`].
mod step_outcome {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use warbler_guest_sdk::Verdict;

    use super::StepOutcome;

    pub fn serialize<S: Serializer>(
        outcome: &Result<Verdict, String>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        StepOutcome::from(outcome.clone()).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Result<Verdict, String>, D::Error> {
        StepOutcome::deserialize(deserializer).map(Into::into)
    }
}

/// Where every step's input and verdict is kept.
pub trait Journal: Send + Sync {
    /// Record one step, replacing the last entry if it is the same step of
    /// the same run. Called before the verdict is applied.
    fn append(&self, entry: &JournalEntry) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The metrics of the steps recorded before step `step` of the run of
    /// `canary` that started at `run_started_ms`, oldest first, at most
    /// [`EARLIER_STEPS_LEN`](crate::earlier_steps::EARLIER_STEPS_LEN): what
    /// a policy's `run.earlier-steps` answers. Asked only for policies that
    /// read them.
    fn earlier_steps(
        &self,
        canary: &str,
        run_started_ms: i64,
        step: u32,
    ) -> impl Future<Output = Result<Vec<EarlierStep>, PortError>> + Send;
}

/// The time, mockable: the state machine is tested without sleeping.
pub trait Clock: Send + Sync {
    /// Unix time in milliseconds.
    fn now_ms(&self) -> i64;
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default()
    }
}
