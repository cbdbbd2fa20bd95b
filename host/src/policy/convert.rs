//! Conversions between the contract's Rust model (shared with guests through
//! `warbler-guest-sdk`) and the wasmtime bindings.

use warbler_guest_sdk as model;

use super::bindings::warbler::policy::types as wit;

impl From<&model::Input> for wit::Input {
    fn from(i: &model::Input) -> Self {
        wit::Input {
            canary: wit::CanaryRef {
                name: i.canary.name.clone(),
                namespace: i.canary.namespace.clone(),
                revision: i.canary.revision.clone(),
            },
            analysis: wit::AnalysisConfig {
                interval_seconds: i.analysis.interval_seconds,
                threshold: i.analysis.threshold,
                step_weight: i.analysis.step_weight,
                step_weights: i.analysis.step_weights.clone(),
                max_weight: i.analysis.max_weight,
                iterations: i.analysis.iterations,
            },
            state: wit::RolloutState {
                phase: phase(i.state.phase),
                canary_weight: i.state.canary_weight,
                failed_checks: i.state.failed_checks,
                iteration: i.state.iteration,
                elapsed_seconds: i.state.elapsed_seconds,
            },
            metrics: i.metrics.iter().map(metric).collect(),
            webhooks: i.webhooks.iter().map(webhook).collect(),
            history: i
                .history
                .iter()
                .map(|s| wit::PastStep {
                    revision: s.revision.clone(),
                    iteration: s.iteration,
                    canary_weight: s.canary_weight,
                    at_ms: s.at_ms,
                    decision: decision(&s.decision),
                    score: s.score,
                })
                .collect(),
            now_ms: i.now_ms,
            config: i.config.clone(),
        }
    }
}

impl From<&model::EarlierStep> for wit::EarlierStep {
    fn from(s: &model::EarlierStep) -> Self {
        wit::EarlierStep {
            iteration: s.iteration,
            canary_weight: s.canary_weight,
            at_ms: s.at_ms,
            metrics: s.metrics.iter().map(metric).collect(),
        }
    }
}

fn phase(p: model::Phase) -> wit::Phase {
    match p {
        model::Phase::Initializing => wit::Phase::Initializing,
        model::Phase::Initialized => wit::Phase::Initialized,
        model::Phase::Waiting => wit::Phase::Waiting,
        model::Phase::Progressing => wit::Phase::Progressing,
        model::Phase::WaitingPromotion => wit::Phase::WaitingPromotion,
        model::Phase::Promoting => wit::Phase::Promoting,
        model::Phase::Finalising => wit::Phase::Finalising,
        model::Phase::Succeeded => wit::Phase::Succeeded,
        model::Phase::Failed => wit::Phase::Failed,
    }
}

fn metric(m: &model::Metric) -> wit::Metric {
    let series = |s: &model::Series| wit::Series {
        start_ms: s.start_ms,
        step_ms: s.step_ms,
        values: s.values.clone(),
    };
    wit::Metric {
        name: m.name.clone(),
        canary: m.canary,
        primary: m.primary,
        canary_series: m.canary_series.as_ref().map(series),
        primary_series: m.primary_series.as_ref().map(series),
        threshold_range: wit::ThresholdRange {
            min: m.threshold_range.min,
            max: m.threshold_range.max,
        },
        interval_seconds: m.interval_seconds,
        note: m.note.clone(),
    }
}

fn webhook(w: &model::WebhookResult) -> wit::WebhookResult {
    wit::WebhookResult {
        name: w.name.clone(),
        kind: match w.kind {
            model::WebhookKind::ConfirmRollout => wit::WebhookKind::ConfirmRollout,
            model::WebhookKind::PreRollout => wit::WebhookKind::PreRollout,
            model::WebhookKind::Rollout => wit::WebhookKind::Rollout,
            model::WebhookKind::ConfirmTrafficIncrease => wit::WebhookKind::ConfirmTrafficIncrease,
            model::WebhookKind::ConfirmPromotion => wit::WebhookKind::ConfirmPromotion,
            model::WebhookKind::PostRollout => wit::WebhookKind::PostRollout,
            model::WebhookKind::Rollback => wit::WebhookKind::Rollback,
            model::WebhookKind::Event => wit::WebhookKind::Event,
        },
        passed: w.passed,
        status_code: w.status_code,
        message: w.message.clone(),
    }
}

fn decision(d: &model::Decision) -> wit::Decision {
    match d {
        model::Decision::Advance { weight } => wit::Decision::Advance(*weight),
        model::Decision::Hold { reason, failed } => wit::Decision::Hold(wit::Hold {
            reason: reason.clone(),
            failed: *failed,
        }),
        model::Decision::Promote => wit::Decision::Promote,
        model::Decision::Rollback { reason } => wit::Decision::Rollback(reason.clone()),
    }
}

impl From<wit::Verdict> for model::Verdict {
    fn from(v: wit::Verdict) -> Self {
        model::Verdict {
            decision: match v.decision {
                wit::Decision::Advance(weight) => model::Decision::Advance { weight },
                wit::Decision::Hold(h) => model::Decision::Hold {
                    reason: h.reason,
                    failed: h.failed,
                },
                wit::Decision::Promote => model::Decision::Promote,
                wit::Decision::Rollback(reason) => model::Decision::Rollback { reason },
            },
            judgements: v
                .judgements
                .into_iter()
                .map(|j| model::Judgement {
                    metric: j.metric,
                    outcome: match j.outcome {
                        wit::Outcome::Pass => model::Outcome::Pass,
                        wit::Outcome::Fail => model::Outcome::Fail,
                        wit::Outcome::NoData => model::Outcome::NoData,
                        wit::Outcome::Inconclusive => model::Outcome::Inconclusive,
                    },
                    detail: j.detail,
                })
                .collect(),
            score: v.score,
        }
    }
}

impl From<wit::PolicyError> for model::PolicyError {
    fn from(e: wit::PolicyError) -> Self {
        match e {
            wit::PolicyError::InvalidConfig(m) => model::PolicyError::InvalidConfig(m),
            wit::PolicyError::InvalidInput(m) => model::PolicyError::InvalidInput(m),
            wit::PolicyError::Internal(m) => model::PolicyError::Internal(m),
        }
    }
}

impl From<wit::PolicyInfo> for model::PolicyInfo {
    fn from(i: wit::PolicyInfo) -> Self {
        model::PolicyInfo {
            name: i.name,
            version: i.version,
            description: i.description,
            required_metrics: i.required_metrics,
            needs_baseline: i.needs_baseline,
            config_schema: i.config_schema,
        }
    }
}
