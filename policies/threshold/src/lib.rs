//! Warbler's built-in `threshold` policy: Flagger's canary analysis (where it
//! differs on purpose, `docs/flagger-compatibility.md` says so).
//!
//! - At the first step (weight 0, no step passed yet) Flagger runs only the
//!   pre-rollout webhooks: if one failed the step fails, otherwise traffic
//!   starts shifting. Metrics are not checked before the canary has traffic.
//! - At every later step a failed rollout webhook fails the step; then every
//!   metric must have a value (Flagger's "no values found" fails the step)
//!   within its `thresholdRange`.
//! - A failed step holds and counts one failed check. Failed checks accumulate
//!   over the run; once they reach `analysis.threshold`, the next step rolls
//!   back without analysing, as Flagger checks the count first.
//! - A passing step advances by `stepWeight` or to the next `stepWeights`
//!   entry, capped at the max weight (`maxWeight`, default 100, or the last
//!   `stepWeights` entry); a passing step at the max weight promotes.
//! - With `iterations` set (blue/green, A/B), passing steps are counted
//!   instead: the weight is left alone until `iterations` steps have passed,
//!   then the next passing step promotes.

use serde::Deserialize;
use warbler_guest_sdk::{
    Input, Judgement, Metric, Outcome, Policy, PolicyError, PolicyInfo, Verdict, WebhookKind,
    export_policy,
};

/// The threshold policy.
pub struct Threshold;

/// The policy's optional configuration (`analysis.policy.config`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// What a metric without a value does to the step.
    pub missing_metric: MissingMetric,
}

/// What a metric without a value does to the step.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MissingMetric {
    /// The step fails, as in Flagger.
    #[default]
    Fail,
    /// The metric is left out of the analysis. For metrics that are only
    /// present under load (e.g. error counts that Prometheus omits at zero).
    Skip,
}

const CONFIG_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": ["object", "null"],
  "additionalProperties": false,
  "properties": {
    "missingMetric": {
      "description": "What a metric without a value does to the step: fail it (Flagger's behaviour) or skip the metric.",
      "enum": ["fail", "skip"],
      "default": "fail"
    }
  }
}"#;

impl Policy for Threshold {
    fn describe() -> PolicyInfo {
        PolicyInfo::named(
            "threshold",
            env!("CARGO_PKG_VERSION"),
            "Flagger's analysis: every metric within its thresholdRange, failed checks \
             counted against analysis.threshold, traffic shifted by stepWeight(s) up to \
             maxWeight, or counted by iterations for blue/green.",
        )
        .with_config_schema(CONFIG_SCHEMA)
    }

    fn validate_config(config: &str) -> Result<(), PolicyError> {
        warbler_guest_sdk::parse_config::<Config>(config).map(drop)
    }

    fn evaluate(input: &Input) -> Result<Verdict, PolicyError> {
        let config: Config = input.config()?;
        let analysis = &input.analysis;
        let state = &input.state;
        if !analysis.is_iteration_mode()
            && analysis.step_weight.unwrap_or(0) == 0
            && analysis.step_weights.is_empty()
        {
            return Err(PolicyError::InvalidInput(
                "analysis sets neither stepWeight, stepWeights nor iterations; \
                 set one of them in the Canary's spec.analysis"
                    .to_owned(),
            ));
        }

        // Flagger treats a threshold of 0 as 1.
        let threshold = analysis.threshold.max(1);
        if state.failed_checks >= threshold {
            return Ok(Verdict::rollback(format!(
                "failed checks threshold reached {}",
                state.failed_checks
            )));
        }

        if input.is_first_step() {
            if let Some(reason) = failed_webhook(input, WebhookKind::PreRollout) {
                return Ok(Verdict::fail(reason));
            }
            return Ok(Verdict::passed(input));
        }

        if let Some(reason) = failed_webhook(input, WebhookKind::Rollout) {
            return Ok(Verdict::fail(reason));
        }
        let judgements: Vec<Judgement> = input
            .metrics
            .iter()
            .map(|metric| judge(input, metric, config.missing_metric))
            .collect();
        let first_failure = judgements
            .iter()
            .find(|j| matches!(j.outcome, Outcome::Fail | Outcome::NoData));
        Ok(match first_failure {
            Some(failure) => Verdict::fail(halt(input, failure)).with_judgements(judgements),
            None => Verdict::passed(input).with_judgements(judgements),
        })
    }
}

/// The reason a webhook of `kind` failed in this step, if one did.
fn failed_webhook(input: &Input, kind: WebhookKind) -> Option<String> {
    let hook = input
        .webhooks
        .iter()
        .find(|w| w.kind == kind && !w.passed)?;
    let kind = match kind {
        WebhookKind::PreRollout => "pre-rollout",
        _ => "rollout",
    };
    Some(format!(
        "Halt {}.{} advancement {kind} check {} failed {}",
        input.canary.name, input.canary.namespace, hook.name, hook.message
    ))
}

/// The reason a step halts on `failure`, in Flagger's words: the
/// judgement's detail says what is wrong with the metric, the reason adds
/// that advancement halts.
fn halt(input: &Input, failure: &Judgement) -> String {
    match failure.outcome {
        Outcome::NoData => format!("Halt advancement {}", failure.detail),
        _ => format!(
            "Halt {}.{} advancement {}",
            input.canary.name, input.canary.namespace, failure.detail
        ),
    }
}

/// One metric against its range, with Flagger's wording.
fn judge(input: &Input, metric: &Metric, missing: MissingMetric) -> Judgement {
    let canary = &input.canary;
    let (outcome, detail) = match metric.canary_value() {
        None if missing == MissingMetric::Skip => (
            Outcome::Inconclusive,
            format!("no values found for {}, skipped", metric.name),
        ),
        None => (
            Outcome::NoData,
            format!(
                "no values found for metric {} probably {}.{} is not receiving traffic{}",
                metric.name,
                canary.name,
                canary.namespace,
                if metric.note.is_empty() {
                    String::new()
                } else {
                    format!(": {}", metric.note)
                }
            ),
        ),
        Some(value) => match (metric.threshold_range.min, metric.threshold_range.max) {
            (Some(min), _) if value < min => {
                (Outcome::Fail, format!("{} {value:.2} < {min}", metric.name))
            }
            (_, Some(max)) if value > max => {
                (Outcome::Fail, format!("{} {value:.2} > {max}", metric.name))
            }
            _ => (
                Outcome::Pass,
                format!(
                    "{} {value:.2} within {}",
                    metric.name,
                    metric.threshold_range.describe()
                ),
            ),
        },
    };
    Judgement {
        metric: metric.name.clone(),
        outcome,
        detail,
    }
}

export_policy!(Threshold);
