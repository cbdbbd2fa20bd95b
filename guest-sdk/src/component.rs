//! The component side: wit-bindgen bindings of `wit/policy.wit` and the
//! conversions between them and this crate's types. Compiled for wasm32 only;
//! policy authors reach it through [`export_policy!`](crate::export_policy).

#![allow(missing_docs)] // Generated bindings and macro plumbing.

pub use wit_bindgen;

/// The generated bindings.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "policy",
        pub_export_macro: true,
        export_macro_name: "__export_component",
        default_bindings_module: "::warbler_guest_sdk::__component::bindings",
        runtime_path: "::warbler_guest_sdk::__component::wit_bindgen::rt",
    });
}

use bindings::exports::warbler::policy::analysis as exported;
use bindings::warbler::policy::types as wit;
pub use exported::Guest;

use crate::log::Level;
use crate::{
    Analysis, CanaryRef, Decision, EarlierStep, Input, Metric, Outcome, PastStep, Phase, Policy,
    PolicyError, PolicyInfo, RolloutState, Series, ThresholdRange, Verdict, WebhookKind,
    WebhookResult,
};

pub(crate) fn log(level: Level, message: &str) {
    let level = match level {
        Level::Debug => wit::Level::Debug,
        Level::Info => wit::Level::Info,
        Level::Warn => wit::Level::Warn,
    };
    bindings::warbler::policy::log::write(level, message);
}

pub fn describe<P: Policy>() -> wit::PolicyInfo {
    let info: PolicyInfo = P::describe();
    wit::PolicyInfo {
        name: info.name,
        version: info.version,
        description: info.description,
        required_metrics: info.required_metrics,
        needs_baseline: info.needs_baseline,
        config_schema: info.config_schema,
    }
}

pub fn validate_config<P: Policy>(config: String) -> Result<(), wit::PolicyError> {
    P::validate_config(&config).map_err(Into::into)
}

pub fn evaluate<P: Policy>(input: wit::Input) -> Result<wit::Verdict, wit::PolicyError> {
    let mut input: Input = input.into();
    if P::READS_EARLIER_STEPS {
        input.earlier_steps = bindings::warbler::policy::run::earlier_steps()
            .into_iter()
            .map(|step| EarlierStep {
                iteration: step.iteration,
                canary_weight: step.canary_weight,
                at_ms: step.at_ms,
                metrics: step.metrics.into_iter().map(metric).collect(),
            })
            .collect();
    }
    P::evaluate(&input).map(Into::into).map_err(Into::into)
}

impl From<PolicyError> for wit::PolicyError {
    fn from(err: PolicyError) -> Self {
        match err {
            PolicyError::InvalidConfig(m) => wit::PolicyError::InvalidConfig(m),
            PolicyError::InvalidInput(m) => wit::PolicyError::InvalidInput(m),
            PolicyError::Internal(m) => wit::PolicyError::Internal(m),
        }
    }
}

impl From<Verdict> for wit::Verdict {
    fn from(v: Verdict) -> Self {
        wit::Verdict {
            decision: v.decision.into(),
            judgements: v
                .judgements
                .into_iter()
                .map(|j| wit::Judgement {
                    metric: j.metric,
                    outcome: match j.outcome {
                        Outcome::Pass => wit::Outcome::Pass,
                        Outcome::Fail => wit::Outcome::Fail,
                        Outcome::NoData => wit::Outcome::NoData,
                        Outcome::Inconclusive => wit::Outcome::Inconclusive,
                    },
                    detail: j.detail,
                })
                .collect(),
            score: v.score,
        }
    }
}

impl From<Decision> for wit::Decision {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Advance { weight } => wit::Decision::Advance(weight),
            Decision::Hold { reason, failed } => wit::Decision::Hold(wit::Hold { reason, failed }),
            Decision::Promote => wit::Decision::Promote,
            Decision::Rollback { reason } => wit::Decision::Rollback(reason),
        }
    }
}

impl From<wit::Decision> for Decision {
    fn from(d: wit::Decision) -> Self {
        match d {
            wit::Decision::Advance(weight) => Decision::Advance { weight },
            wit::Decision::Hold(h) => Decision::Hold {
                reason: h.reason,
                failed: h.failed,
            },
            wit::Decision::Promote => Decision::Promote,
            wit::Decision::Rollback(reason) => Decision::Rollback { reason },
        }
    }
}

impl From<wit::Input> for Input {
    fn from(i: wit::Input) -> Self {
        Input {
            canary: CanaryRef {
                name: i.canary.name,
                namespace: i.canary.namespace,
                revision: i.canary.revision,
            },
            analysis: Analysis {
                interval_seconds: i.analysis.interval_seconds,
                threshold: i.analysis.threshold,
                step_weight: i.analysis.step_weight,
                step_weights: i.analysis.step_weights,
                max_weight: i.analysis.max_weight,
                iterations: i.analysis.iterations,
            },
            state: RolloutState {
                phase: phase(i.state.phase),
                canary_weight: i.state.canary_weight,
                failed_checks: i.state.failed_checks,
                iteration: i.state.iteration,
                elapsed_seconds: i.state.elapsed_seconds,
            },
            metrics: i.metrics.into_iter().map(metric).collect(),
            webhooks: i.webhooks.into_iter().map(webhook).collect(),
            history: i
                .history
                .into_iter()
                .map(|s| PastStep {
                    revision: s.revision,
                    iteration: s.iteration,
                    canary_weight: s.canary_weight,
                    at_ms: s.at_ms,
                    decision: s.decision.into(),
                    score: s.score,
                })
                .collect(),
            now_ms: i.now_ms,
            config: i.config,
            earlier_steps: Vec::new(),
        }
    }
}

fn phase(p: wit::Phase) -> Phase {
    match p {
        wit::Phase::Initializing => Phase::Initializing,
        wit::Phase::Initialized => Phase::Initialized,
        wit::Phase::Waiting => Phase::Waiting,
        wit::Phase::Progressing => Phase::Progressing,
        wit::Phase::WaitingPromotion => Phase::WaitingPromotion,
        wit::Phase::Promoting => Phase::Promoting,
        wit::Phase::Finalising => Phase::Finalising,
        wit::Phase::Succeeded => Phase::Succeeded,
        wit::Phase::Failed => Phase::Failed,
    }
}

fn metric(m: wit::Metric) -> Metric {
    let series = |s: wit::Series| Series {
        start_ms: s.start_ms,
        step_ms: s.step_ms,
        values: s.values,
    };
    Metric {
        name: m.name,
        canary: m.canary,
        primary: m.primary,
        canary_series: m.canary_series.map(series),
        primary_series: m.primary_series.map(series),
        threshold_range: ThresholdRange {
            min: m.threshold_range.min,
            max: m.threshold_range.max,
        },
        interval_seconds: m.interval_seconds,
        note: m.note,
    }
}

fn webhook(w: wit::WebhookResult) -> WebhookResult {
    WebhookResult {
        name: w.name,
        kind: match w.kind {
            wit::WebhookKind::ConfirmRollout => WebhookKind::ConfirmRollout,
            wit::WebhookKind::PreRollout => WebhookKind::PreRollout,
            wit::WebhookKind::Rollout => WebhookKind::Rollout,
            wit::WebhookKind::ConfirmTrafficIncrease => WebhookKind::ConfirmTrafficIncrease,
            wit::WebhookKind::ConfirmPromotion => WebhookKind::ConfirmPromotion,
            wit::WebhookKind::PostRollout => WebhookKind::PostRollout,
            wit::WebhookKind::Rollback => WebhookKind::Rollback,
            wit::WebhookKind::Event => WebhookKind::Event,
        },
        passed: w.passed,
        status_code: w.status_code,
        message: w.message,
    }
}
