//! The policy's configuration (`analysis.policy.config`), its defaults and
//! its checks.

use std::collections::BTreeMap;

use serde::Deserialize;
use warbler_guest_sdk::{Metric, PolicyError};

/// `analysis.policy.config`. Every field is optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Significance of the rank test: a shift with a larger p-value is noise.
    pub alpha: f64,
    /// The smallest shift of the canary's median that matters, relative to
    /// the primary's (0.1: 10%). A significant shift below it passes, so
    /// that large samples do not fail a canary for a trivial difference.
    pub effect_size: f64,
    /// Samples each side needs before a metric is compared.
    pub min_samples: usize,
    /// Steps in a row the policy may hold without a failed check while it
    /// waits for samples or has a marginal score; the next is a failed check.
    pub max_wait_steps: u32,
    /// Score (0–100) from which a step passes.
    pub pass: f64,
    /// Score from which a step holds; below it the step is bad, and
    /// `rollback_after` bad steps in a row roll the canary back.
    pub marginal: f64,
    /// Steps in a row scoring below `marginal` that roll the canary back:
    /// with 2, a bad step holds the weight and the next one, on fresh
    /// samples, must confirm it. 1 rolls back at once.
    pub rollback_after: u32,
    /// The spread check, for every metric unless a metric says otherwise.
    pub dispersion: Dispersion,
    /// Per-metric settings, by metric name.
    pub metrics: BTreeMap<String, MetricConfig>,
    /// Rare-event rates compared as counts (errors in requests).
    pub rates: Vec<RateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            alpha: 0.05,
            effect_size: 0.1,
            min_samples: 10,
            max_wait_steps: 3,
            pass: 95.0,
            marginal: 75.0,
            rollback_after: 2,
            dispersion: Dispersion::default(),
            metrics: BTreeMap::new(),
            rates: Vec::new(),
        }
    }
}

/// The spread check: a canary whose values scatter much more than the
/// primary's, or whose worst tenth is heavier, fails even when its median
/// has not moved.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Dispersion {
    /// Whether metrics are checked for spread by default.
    pub enabled: bool,
    /// Significance of the Brown–Forsythe test.
    pub alpha: f64,
    /// The canary's interquartile range over the primary's above which a
    /// significant difference fails, at equal traffic (scaled up for a
    /// canary with less traffic than the primary; see [`Config::knobs`]).
    pub max_ratio: f64,
}

impl Default for Dispersion {
    fn default() -> Self {
        // Loose for one step on purpose: a rollback takes `rollbackAfter`
        // bad steps in a row, each on fresh samples. Chosen on the backtest
        // datasets (README, "Backtesting policies").
        Dispersion {
            enabled: true,
            alpha: 0.15,
            max_ratio: 1.5,
        }
    }
}

/// Which way a metric gets worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Higher is worse: latency, errors.
    Increase,
    /// Lower is worse: success rate, throughput.
    Decrease,
    /// Any significant change is worse.
    Either,
}

impl Direction {
    /// The direction a metric's `thresholdRange` implies: only a `min` is a
    /// metric where lower is worse, only a `max` one where higher is worse.
    pub fn implied_by(metric: &Metric) -> Direction {
        match (metric.threshold_range.min, metric.threshold_range.max) {
            (Some(_), None) => Direction::Decrease,
            (None, Some(_)) => Direction::Increase,
            _ => Direction::Either,
        }
    }
}

/// Settings of one metric.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricConfig {
    /// Which way it gets worse; by default what its `thresholdRange` implies.
    pub direction: Option<Direction>,
    /// A critical metric that fails rolls the canary back at once.
    pub critical: bool,
    /// Its weight in the score.
    pub weight: f64,
    /// Its own smallest shift that matters.
    pub effect_size: Option<f64>,
    /// Whether its spread is checked.
    pub dispersion: Option<bool>,
    /// Leave it out of the comparison (a metric other policies or the
    /// dashboards use, such as a raw count).
    pub ignore: bool,
}

impl Default for MetricConfig {
    fn default() -> Self {
        MetricConfig {
            direction: None,
            critical: false,
            weight: 1.0,
            effect_size: None,
            dispersion: None,
            ignore: false,
        }
    }
}

/// A rate of rare events, compared as counts: `events` in `trials` for the
/// canary against the same for the primary. Works on sparse data, where a
/// rank test of per-second success rates sees only ties.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RateConfig {
    /// The judgement's name, e.g. `errors`.
    pub name: String,
    /// The metric whose values count events over the interval (errors).
    pub events: String,
    /// The metric whose values count trials over the interval (requests).
    pub trials: String,
    /// A critical rate that fails rolls the canary back at once.
    #[serde(default)]
    pub critical: bool,
    /// Its weight in the score.
    #[serde(default = "one")]
    pub weight: f64,
    /// Significance of the exact test that the canary's rate is higher;
    /// unset, [`CountedOver::default_alpha`].
    #[serde(default)]
    pub alpha: Option<f64>,
    /// The canary's rate over the primary's above which a significant
    /// difference fails.
    #[serde(default = "rate_ratio")]
    pub min_ratio: f64,
    /// Trials each side needs before the rate is compared.
    #[serde(default = "rate_trials")]
    pub min_trials: u64,
    /// Whose counts are compared: the whole run's so far (the default) or
    /// this step's interval alone.
    #[serde(default)]
    pub over: CountedOver,
}

impl RateConfig {
    /// The significance the rate is tested at.
    pub fn alpha(&self) -> f64 {
        self.alpha.unwrap_or(self.over.default_alpha())
    }
}

/// The span of a rate's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CountedOver {
    /// This step's and the run's earlier steps' counts, summed: errors too
    /// rare to show in one interval add up over the run.
    #[default]
    Run,
    /// This step's interval alone.
    Step,
}

impl CountedOver {
    /// The significance that suits each span, chosen on the backtest
    /// datasets. Counts over the run are tested again at every step on
    /// mostly the same data, so one unlucky start would fail step after
    /// step: 0.02. One interval's counts are fresh at each step, and a bad
    /// step must be confirmed by the next (`rollbackAfter`): 0.1.
    pub fn default_alpha(self) -> f64 {
        match self {
            CountedOver::Run => 0.02,
            CountedOver::Step => 0.1,
        }
    }
}

fn one() -> f64 {
    1.0
}

fn rate_ratio() -> f64 {
    1.5
}

fn rate_trials() -> u64 {
    10
}

/// The settings that apply to one metric, defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricKnobs {
    /// Which way it gets worse.
    pub direction: Direction,
    /// Whether a failure rolls back at once.
    pub critical: bool,
    /// Its weight in the score.
    pub weight: f64,
    /// Significance of the rank test.
    pub alpha: f64,
    /// The smallest relative shift that matters.
    pub effect_size: f64,
    /// Samples each side needs.
    pub min_samples: usize,
    /// The spread check, if it applies: its significance and the largest
    /// ratio of interquartile ranges allowed.
    pub dispersion: Option<(f64, f64)>,
}

impl Config {
    /// Parse and check a configuration; errors name the field and the fix.
    pub fn parse(text: &str) -> Result<Config, PolicyError> {
        let config: Config = warbler_guest_sdk::parse_config(text)?;
        config.check()?;
        Ok(config)
    }

    /// The settings of `metric` at a canary weight of `weight`.
    ///
    /// The spread allowed grows as the canary's share of traffic shrinks:
    /// a per-interval value (a mean, a percentile) over k requests scatters
    /// about as 1/√k, so at weight 10 a healthy canary's values scatter √9 =
    /// 3 times the primary's. Blue/green (weight 0) and a canary with the
    /// larger share are held to `maxRatio` as configured.
    pub fn knobs(&self, metric: &Metric, weight: u32) -> MetricKnobs {
        let own = self.metrics.get(&metric.name).cloned().unwrap_or_default();
        let dispersion = own.dispersion.unwrap_or(self.dispersion.enabled);
        let share = f64::from(weight.min(100)) / 100.0;
        let allowance = if share > 0.0 && share < 1.0 {
            ((1.0 - share) / share).sqrt().max(1.0)
        } else {
            1.0
        };
        MetricKnobs {
            direction: own
                .direction
                .unwrap_or_else(|| Direction::implied_by(metric)),
            critical: own.critical,
            weight: own.weight,
            alpha: self.alpha,
            effect_size: own.effect_size.unwrap_or(self.effect_size),
            min_samples: self.min_samples,
            dispersion: dispersion
                .then_some((self.dispersion.alpha, self.dispersion.max_ratio * allowance)),
        }
    }

    /// True when `name` is counted by a rate rather than compared itself.
    pub fn counts_for_a_rate(&self, name: &str) -> bool {
        self.rates
            .iter()
            .any(|rate| rate.events == name || rate.trials == name)
    }

    /// True when `metric` is not compared: it counts for a rate, its
    /// settings say to ignore it, or nothing says which way it gets worse
    /// (no `thresholdRange`, no settings): a raw count such as requests
    /// differs between canary and primary with their shares of traffic.
    pub fn leaves_out(&self, metric: &Metric) -> bool {
        let own = self.metrics.get(&metric.name);
        let range = &metric.threshold_range;
        self.counts_for_a_rate(&metric.name)
            || own.is_some_and(|m| m.ignore)
            || (own.is_none() && range.min.is_none() && range.max.is_none())
    }

    fn check(&self) -> Result<(), PolicyError> {
        probability("config.alpha", self.alpha)?;
        at_least("config.effectSize", self.effect_size, 0.0)?;
        if self.min_samples < 3 {
            return invalid(format!(
                "config.minSamples: {} is too few to compare; use 3 or more (10 by default)",
                self.min_samples
            ));
        }
        within("config.pass", self.pass, 0.0, 100.0)?;
        within("config.marginal", self.marginal, 0.0, self.pass)?;
        if self.rollback_after == 0 {
            return invalid(
                "config.rollbackAfter: 0 steps cannot roll back; use 1 to roll back at the first bad step (2 by default)"
                    .to_owned(),
            );
        }
        probability("config.dispersion.alpha", self.dispersion.alpha)?;
        at_least("config.dispersion.maxRatio", self.dispersion.max_ratio, 1.0)?;
        for (name, metric) in &self.metrics {
            above_zero(&format!("config.metrics.{name}.weight"), metric.weight)?;
            if let Some(effect) = metric.effect_size {
                at_least(&format!("config.metrics.{name}.effectSize"), effect, 0.0)?;
            }
        }
        for (i, rate) in self.rates.iter().enumerate() {
            let field = |key: &str| format!("config.rates[{i}].{key}");
            if rate.events == rate.trials {
                return invalid(format!(
                    "{}: `{}` is also the trials metric; name the metric that counts events and the one that counts trials",
                    field("events"),
                    rate.events
                ));
            }
            if self.rates[..i].iter().any(|other| other.name == rate.name) {
                return invalid(format!(
                    "{}: `{}` is used twice; give each rate its own name",
                    field("name"),
                    rate.name
                ));
            }
            above_zero(&field("weight"), rate.weight)?;
            probability(&field("alpha"), rate.alpha())?;
            at_least(&field("minRatio"), rate.min_ratio, 1.0)?;
        }
        Ok(())
    }
}

fn invalid<T>(message: String) -> Result<T, PolicyError> {
    Err(PolicyError::InvalidConfig(message))
}

fn probability(field: &str, value: f64) -> Result<(), PolicyError> {
    if value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        invalid(format!(
            "{field}: {value} is not a probability between 0 and 1 (exclusive), e.g. 0.05"
        ))
    }
}

fn at_least(field: &str, value: f64, low: f64) -> Result<(), PolicyError> {
    if value >= low && value.is_finite() {
        Ok(())
    } else {
        invalid(format!(
            "{field}: {value} must be a number of at least {low}"
        ))
    }
}

fn above_zero(field: &str, value: f64) -> Result<(), PolicyError> {
    if value > 0.0 && value.is_finite() {
        Ok(())
    } else {
        invalid(format!("{field}: {value} must be a number above 0"))
    }
}

fn within(field: &str, value: f64, low: f64, high: f64) -> Result<(), PolicyError> {
    if (low..=high).contains(&value) {
        Ok(())
    } else {
        invalid(format!("{field}: {value} must be between {low} and {high}"))
    }
}

/// The configuration's JSON Schema, as `describe()` reports it.
pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": ["object", "null"],
  "additionalProperties": false,
  "properties": {
    "alpha": { "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": 0.05,
               "description": "Significance of the Mann-Whitney test of each metric." },
    "effectSize": { "type": "number", "minimum": 0, "default": 0.1,
                    "description": "Smallest shift of the canary's median that matters, relative to the primary's median." },
    "minSamples": { "type": "integer", "minimum": 3, "default": 10,
                    "description": "Samples each side needs before a metric is compared." },
    "maxWaitSteps": { "type": "integer", "minimum": 0, "default": 3,
                      "description": "Steps in a row held without a failed check while samples are too few or the score is marginal." },
    "pass": { "type": "number", "minimum": 0, "maximum": 100, "default": 95,
              "description": "Score from which a step passes." },
    "marginal": { "type": "number", "minimum": 0, "maximum": 100, "default": 75,
                  "description": "Score from which a step holds; below it the step is bad (see rollbackAfter)." },
    "rollbackAfter": { "type": "integer", "minimum": 1, "default": 2,
                       "description": "Steps in a row scoring below marginal that roll the canary back; the steps before hold the weight to confirm on fresh samples. 1 rolls back at once." },
    "dispersion": {
      "type": "object", "additionalProperties": false,
      "description": "The spread check (Brown-Forsythe and interquartile ranges) and the tail check (share of samples in the worst tenth).",
      "properties": {
        "enabled": { "type": "boolean", "default": true },
        "alpha": { "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": 0.15 },
        "maxRatio": { "type": "number", "minimum": 1, "default": 1.5,
                      "description": "Canary interquartile range over the primary's above which a significant difference fails, at equal traffic; scaled by sqrt(primary share / canary share) below." }
      }
    },
    "metrics": {
      "type": "object",
      "additionalProperties": {
        "type": "object", "additionalProperties": false,
        "properties": {
          "direction": { "enum": ["increase", "decrease", "either"],
                         "description": "Which way the metric gets worse; by default what its thresholdRange implies." },
          "critical": { "type": "boolean", "default": false,
                        "description": "A failing critical metric rolls the canary back at once." },
          "weight": { "type": "number", "exclusiveMinimum": 0, "default": 1 },
          "effectSize": { "type": "number", "minimum": 0 },
          "dispersion": { "type": "boolean" },
          "ignore": { "type": "boolean", "default": false,
                      "description": "Leave the metric out of the comparison." }
        }
      }
    },
    "rates": {
      "type": "array",
      "items": {
        "type": "object", "additionalProperties": false, "required": ["name", "events", "trials"],
        "properties": {
          "name": { "type": "string" },
          "events": { "type": "string", "description": "Metric counting events (errors) over the interval." },
          "trials": { "type": "string", "description": "Metric counting trials (requests) over the interval." },
          "critical": { "type": "boolean", "default": false },
          "weight": { "type": "number", "exclusiveMinimum": 0, "default": 1 },
          "alpha": { "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                     "description": "0.02 over the run, 0.1 over a step." },
          "minRatio": { "type": "number", "minimum": 1, "default": 1.5 },
          "minTrials": { "type": "integer", "minimum": 0, "default": 10 },
          "over": { "enum": ["run", "step"], "default": "run",
                    "description": "Compare the counts summed over the run's steps so far, or this step's alone." }
        }
      }
    }
  }
}"#;

#[cfg(test)]
mod tests {
    use warbler_guest_sdk::ThresholdRange;

    use super::*;

    fn metric(min: Option<f64>, max: Option<f64>) -> Metric {
        Metric {
            name: "m".to_owned(),
            canary: None,
            primary: None,
            canary_series: None,
            primary_series: None,
            threshold_range: ThresholdRange { min, max },
            interval_seconds: 60,
            note: String::new(),
        }
    }

    #[test]
    fn a_metric_without_a_threshold_range_or_settings_is_left_out() {
        let config = Config::default();
        assert!(config.leaves_out(&metric(None, None)));
        assert!(!config.leaves_out(&metric(None, Some(500.0))));
    }

    #[test]
    fn settings_that_give_a_direction_bring_a_metric_without_a_range_in() {
        let config = Config::parse(r#"{"metrics": {"m": {"direction": "increase"}}}"#).unwrap();
        assert!(!config.leaves_out(&metric(None, None)));
    }

    #[test]
    fn the_direction_follows_the_threshold_range() {
        assert_eq!(
            Direction::implied_by(&metric(Some(99.0), None)),
            Direction::Decrease
        );
        assert_eq!(
            Direction::implied_by(&metric(None, Some(500.0))),
            Direction::Increase
        );
        assert_eq!(
            Direction::implied_by(&metric(None, None)),
            Direction::Either
        );
    }

    #[test]
    fn a_canary_with_a_tenth_of_the_traffic_may_scatter_three_times_more() {
        let config = Config::default();
        let at = |weight| {
            config
                .knobs(&metric(None, None), weight)
                .dispersion
                .unwrap()
                .1
        };
        assert!((at(10) - 4.5).abs() < 1e-12, "{}", at(10));
        assert_eq!(at(50), 1.5);
        assert_eq!(at(80), 1.5, "never stricter than configured");
        assert_eq!(at(0), 1.5, "blue/green");
    }

    #[test]
    fn a_metric_counted_by_a_rate_is_named_as_such() {
        let config = Config::parse(
            r#"{"rates":[{"name":"errors","events":"error-count","trials":"request-count"}]}"#,
        )
        .unwrap();
        assert!(config.counts_for_a_rate("request-count"));
        assert!(!config.counts_for_a_rate("request-duration"));
    }

    #[test]
    fn a_rate_counting_events_in_themselves_is_refused() {
        let err = Config::parse(r#"{"rates":[{"name":"e","events":"x","trials":"x"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("config.rates[0].events"), "{err}");
    }

    #[test]
    fn null_is_the_default_configuration() {
        assert_eq!(Config::parse("null").unwrap(), Config::default());
    }
}
