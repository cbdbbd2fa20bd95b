//! `zscore`: is the canary significantly worse than the primary?
//!
//! For every metric with samples for both the canary and the primary,
//! Welch's z statistic compares their means; a metric fails when the canary
//! is worse by more than `maxZ` standard errors. "Worse" is lower for a
//! metric whose thresholdRange has only a `min` (a success rate), higher
//! otherwise (latency, errors). Failed checks accumulate against
//! `analysis.threshold` as in Flagger; passing steps advance by Flagger's
//! weight rules. The Python and JavaScript examples next door implement the
//! same logic, and all three pass `../zscore-cases.yaml`.

use serde::Deserialize;
use warbler_guest_sdk::{
    Input, Judgement, Metric, Outcome, Policy, PolicyError, PolicyInfo, Verdict, export_policy,
};

/// The zscore policy.
pub struct ZScore;

/// `analysis.policy.config`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Standard errors by which the canary may be worse than the primary.
    pub max_z: f64,
    /// Samples each side needs before a metric is judged.
    pub min_samples: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_z: 3.0,
            min_samples: 5,
        }
    }
}

impl Config {
    fn parse(text: &str) -> Result<Config, PolicyError> {
        let config: Config = warbler_guest_sdk::parse_config(text)?;
        if config.max_z.is_nan() || config.max_z <= 0.0 {
            return Err(PolicyError::InvalidConfig(format!(
                "config.maxZ: {} is not a number above 0",
                config.max_z
            )));
        }
        if config.min_samples < 2 {
            return Err(PolicyError::InvalidConfig(format!(
                "config.minSamples: {} is not an integer of at least 2",
                config.min_samples
            )));
        }
        Ok(config)
    }
}

const CONFIG_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": ["object", "null"],
  "additionalProperties": false,
  "properties": {
    "maxZ": { "type": "number", "exclusiveMinimum": 0, "default": 3,
              "description": "Standard errors by which the canary may be worse than the primary." },
    "minSamples": { "type": "integer", "minimum": 2, "default": 5,
                    "description": "Samples each side needs before a metric is judged." }
  }
}"#;

fn mean_and_variance(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, variance)
}

/// The metric's outcome, how much worse the canary is (in standard errors)
/// and a one-line explanation.
fn judge(metric: &Metric, config: &Config) -> (Outcome, Option<f64>, String) {
    let samples = |series: &Option<warbler_guest_sdk::Series>| -> Vec<f64> {
        series
            .as_ref()
            .map(|s| s.present().collect())
            .unwrap_or_default()
    };
    let (canary, primary) = (
        samples(&metric.canary_series),
        samples(&metric.primary_series),
    );
    let name = &metric.name;
    if canary.len() < config.min_samples || primary.len() < config.min_samples {
        return (
            Outcome::NoData,
            None,
            format!(
                "{name}: {} canary and {} primary samples, need {} each",
                canary.len(),
                primary.len(),
                config.min_samples
            ),
        );
    }
    let (mean_c, var_c) = mean_and_variance(&canary);
    let (mean_p, var_p) = mean_and_variance(&primary);
    let error = (var_c / canary.len() as f64 + var_p / primary.len() as f64).sqrt();
    let difference = mean_c - mean_p;
    let z = if error == 0.0 {
        if difference == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(difference)
        }
    } else {
        difference / error
    };
    let range = &metric.threshold_range;
    let lower_is_worse = range.min.is_some() && range.max.is_none();
    let worse = if lower_is_worse { -z } else { z };
    let comparison = format!("canary {mean_c:.2} vs primary {mean_p:.2}, z {worse:.2}");
    if worse > config.max_z {
        (
            Outcome::Fail,
            Some(worse),
            format!("{name}: {comparison} > {}", config.max_z),
        )
    } else {
        (
            Outcome::Pass,
            Some(worse),
            format!("{name}: {comparison} <= {}", config.max_z),
        )
    }
}

impl Policy for ZScore {
    fn describe() -> PolicyInfo {
        PolicyInfo::named(
            "zscore",
            env!("CARGO_PKG_VERSION"),
            "Compares canary and primary samples of every metric with Welch's z statistic and \
             fails a metric when the canary is worse by more than maxZ standard errors (Rust).",
        )
        .needing_baseline()
        .with_config_schema(CONFIG_SCHEMA)
    }

    fn validate_config(config: &str) -> Result<(), PolicyError> {
        Config::parse(config).map(drop)
    }

    fn evaluate(input: &Input) -> Result<Verdict, PolicyError> {
        let config = Config::parse(&input.config)?;
        let (analysis, state) = (&input.analysis, &input.state);
        if state.failed_checks >= analysis.threshold {
            return Ok(Verdict::rollback(format!(
                "failed checks threshold reached {}",
                state.failed_checks
            )));
        }
        if state.canary_weight == 0 && state.iteration == 0 {
            return Ok(Verdict::advance(analysis.next_weight(0)));
        }
        let mut judgements = Vec::new();
        let (mut failed, mut missing, mut scores) = (Vec::new(), Vec::new(), Vec::new());
        for metric in &input.metrics {
            let (outcome, worse, detail) = judge(metric, &config);
            match outcome {
                Outcome::Fail => failed.push(metric.name.as_str()),
                Outcome::NoData => missing.push(metric.name.as_str()),
                Outcome::Pass | Outcome::Inconclusive => {}
            }
            scores.extend(worse.filter(|w| w.is_finite()));
            judgements.push(Judgement {
                metric: metric.name.clone(),
                outcome,
                detail,
            });
        }
        let verdict = if !failed.is_empty() {
            let names = failed.join(", ");
            warbler_guest_sdk::log::info(&format!("canary worse than primary: {names}"));
            Verdict::fail(format!("canary significantly worse than primary: {names}"))
        } else if !missing.is_empty() {
            Verdict::fail(format!(
                "not enough samples to compare: {}",
                missing.join(", ")
            ))
        } else if state.canary_weight >= analysis.max_weight() {
            Verdict::promote()
        } else {
            Verdict::advance(analysis.next_weight(state.canary_weight))
        };
        let verdict = verdict.with_judgements(judgements);
        Ok(match scores.into_iter().reduce(f64::max) {
            Some(score) => verdict.with_score(score),
            None => verdict,
        })
    }
}

export_policy!(ZScore);
