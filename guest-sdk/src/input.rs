//! What a policy is given at each analysis step.

use serde::{Deserialize, Serialize};

use crate::config;
use crate::verdict::Decision;

/// Everything a policy may look at for one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    /// Which canary run.
    pub canary: CanaryRef,
    /// The analysis knobs from `spec.analysis`.
    pub analysis: Analysis,
    /// The run's state before this step.
    pub state: RolloutState,
    /// Every configured metric, measured for this step.
    pub metrics: Vec<Metric>,
    /// The webhooks called during this step.
    #[serde(default)]
    pub webhooks: Vec<WebhookResult>,
    /// Earlier steps' verdicts, oldest first.
    #[serde(default)]
    pub history: Vec<PastStep>,
    /// Unix time of this snapshot, in milliseconds.
    #[serde(default)]
    pub now_ms: i64,
    /// The policy's configuration as JSON text (`null` when none is given).
    /// In JSON files it is written as a plain embedded JSON value.
    #[serde(with = "config::embedded", default = "config::null")]
    pub config: String,
    /// The metrics of this run's earlier steps, oldest first: filled only
    /// for a policy that sets [`Policy::READS_EARLIER_STEPS`]
    /// (the contract's `run.earlier-steps`), empty otherwise. A step journal
    /// does not repeat them: each step's own `metrics` are its record.
    ///
    /// [`Policy::READS_EARLIER_STEPS`]: crate::Policy::READS_EARLIER_STEPS
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_steps: Vec<EarlierStep>,
}

impl Input {
    /// The metric called `name`, if the Canary configures it.
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// The policy's configuration parsed as `T`; `T::default()` when none is
    /// given. Errors name the offending field.
    pub fn config<T>(&self) -> Result<T, crate::PolicyError>
    where
        T: serde::de::DeserializeOwned + Default,
    {
        config::parse(&self.config)
    }

    /// True before the run has shifted any traffic or passed any step: the
    /// step at which Flagger runs pre-rollout hooks instead of metric checks.
    pub fn is_first_step(&self) -> bool {
        self.state.canary_weight == 0 && self.state.iteration == 0
    }
}

/// Which canary run is being analysed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CanaryRef {
    /// The Canary's name.
    pub name: String,
    /// The Canary's namespace.
    pub namespace: String,
    /// Canonical hash of the target's pod template.
    #[serde(default)]
    pub revision: String,
}

/// The analysis knobs, named as in Flagger's `spec.analysis`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Analysis {
    /// Seconds between two analysis steps.
    pub interval_seconds: u32,
    /// Failed checks tolerated before rollback.
    pub threshold: u32,
    /// Weight added at each passing step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_weight: Option<u32>,
    /// Explicit weight ladder; takes precedence over `step_weight`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_weights: Vec<u32>,
    /// Weight at which the canary is promoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_weight: Option<u32>,
    /// Passing steps before promotion in blue/green or A/B mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u32>,
}

impl Analysis {
    /// True in blue/green or A/B mode, where steps are counted instead of
    /// traffic being shifted.
    pub fn is_iteration_mode(&self) -> bool {
        self.iterations.is_some_and(|n| n > 0)
    }

    /// The weight at which the canary is promoted, by Flagger's rule: the last
    /// `stepWeights` entry when a ladder is given, else `maxWeight`, else 100.
    pub fn max_weight(&self) -> u32 {
        match self.step_weights.last() {
            Some(&last) => last.min(100),
            None => self.max_weight.filter(|&w| w > 0).unwrap_or(100).min(100),
        }
    }

    /// The weight after a passing step at `current`, by Flagger's rule: the
    /// first `stepWeights` entry above `current`, or `current + stepWeight`;
    /// never above [`Analysis::max_weight`].
    pub fn next_weight(&self, current: u32) -> u32 {
        let max = self.max_weight();
        let next = if self.step_weights.is_empty() {
            current.saturating_add(self.step_weight.unwrap_or(0))
        } else {
            self.step_weights
                .iter()
                .copied()
                .find(|&w| w > current)
                .unwrap_or(max)
        };
        next.min(max)
    }
}

/// Flagger's canary phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// The primary is being created from the target.
    Initializing,
    /// The primary is ready; no run in progress.
    Initialized,
    /// A new revision waits on a confirm-rollout gate.
    Waiting,
    /// Traffic is being shifted and analysed.
    Progressing,
    /// Analysis passed; waiting on a confirm-promotion gate.
    WaitingPromotion,
    /// The canary's spec is being copied to the primary.
    Promoting,
    /// Traffic is back on the primary, the canary is scaled down.
    Finalising,
    /// The last run was promoted.
    Succeeded,
    /// The last run was rolled back.
    Failed,
}

/// Where the current run stands, before this step's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutState {
    /// Current phase.
    pub phase: Phase,
    /// Percentage of traffic on the canary now.
    pub canary_weight: u32,
    /// Failed checks so far in this run; a passing step does not reset them.
    #[serde(default)]
    pub failed_checks: u32,
    /// Steps that have advanced so far in this run.
    #[serde(default)]
    pub iteration: u32,
    /// Seconds since this run started.
    #[serde(default)]
    pub elapsed_seconds: u64,
}

/// The acceptable range of a metric; an absent bound does not constrain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdRange {
    /// Lowest acceptable value, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest acceptable value, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl ThresholdRange {
    /// True when `value` is within both bounds. NaN is never within.
    pub fn contains(&self, value: f64) -> bool {
        !value.is_nan()
            && self.min.is_none_or(|min| value >= min)
            && self.max.is_none_or(|max| value <= max)
    }

    /// The range as Flagger prints it, e.g. `>= 99` or `<= 500` or `[1, 2]`.
    pub fn describe(&self) -> String {
        match (self.min, self.max) {
            (Some(min), Some(max)) => format!("[{min}, {max}]"),
            (Some(min), None) => format!(">= {min}"),
            (None, Some(max)) => format!("<= {max}"),
            (None, None) => "any value".to_owned(),
        }
    }
}

/// Evenly spaced samples over the analysis interval; NaN marks a gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Series {
    /// Unix time of the first sample, in milliseconds.
    pub start_ms: i64,
    /// Milliseconds between two samples.
    pub step_ms: u32,
    /// The samples, oldest first. JSON `null` stands for a gap.
    #[serde(with = "nan_as_null")]
    pub values: Vec<f64>,
}

impl Series {
    /// The samples that are present (not NaN).
    pub fn present(&self) -> impl Iterator<Item = f64> + '_ {
        self.values.iter().copied().filter(|v| !v.is_nan())
    }
}

/// One configured metric, measured for this step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metric {
    /// The metric's name.
    pub name: String,
    /// The canary's value; `None` when the source found no values.
    #[serde(default)]
    pub canary: Option<f64>,
    /// The primary's (baseline's) value, where the source can measure it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<f64>,
    /// The canary's samples over the interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_series: Option<Series>,
    /// The primary's samples over the interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_series: Option<Series>,
    /// The configured acceptable range.
    #[serde(default)]
    pub threshold_range: ThresholdRange,
    /// Seconds the metric's query covers.
    #[serde(default)]
    pub interval_seconds: u32,
    /// Why the value is absent, when it is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Metric {
    /// The canary's value if there is one; NaN counts as none, as in Flagger.
    pub fn canary_value(&self) -> Option<f64> {
        self.canary.filter(|v| !v.is_nan())
    }

    /// The primary's value if there is one; NaN counts as none.
    pub fn primary_value(&self) -> Option<f64> {
        self.primary.filter(|v| !v.is_nan())
    }
}

/// Flagger's webhook types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WebhookKind {
    /// Gate before a new revision starts.
    ConfirmRollout,
    /// Runs once before traffic is first shifted; failure fails the step.
    PreRollout,
    /// Runs at every step before the metrics are checked.
    Rollout,
    /// Gate before each weight increase.
    ConfirmTrafficIncrease,
    /// Gate before promotion.
    ConfirmPromotion,
    /// Runs after promotion or rollback.
    PostRollout,
    /// Gate that can force a rollback.
    Rollback,
    /// Receives every event; never gates.
    Event,
}

/// The outcome of one webhook called during this step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookResult {
    /// The webhook's name.
    pub name: String,
    /// Its type.
    pub kind: WebhookKind,
    /// True when it answered with a status of 202 or below in time.
    pub passed: bool,
    /// The HTTP status, absent when no answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// The response body or the transport error.
    #[serde(default)]
    pub message: String,
}

/// A verdict given at an earlier step of the same canary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PastStep {
    /// The run's revision then.
    pub revision: String,
    /// The iteration then.
    pub iteration: u32,
    /// The canary weight then.
    pub canary_weight: u32,
    /// Unix time of that step, in milliseconds.
    pub at_ms: i64,
    /// The decision then.
    pub decision: Decision,
    /// The score then, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

/// The metrics measured at an earlier step of the same run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EarlierStep {
    /// The iteration then.
    pub iteration: u32,
    /// The canary weight then.
    pub canary_weight: u32,
    /// That step's `now_ms`.
    pub at_ms: i64,
    /// That step's metrics.
    pub metrics: Vec<Metric>,
}

impl EarlierStep {
    /// The metric called `name` at that step, if it was measured.
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

/// JSON has no NaN: gaps in a series are written as `null`.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[f64], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(|v| (!v.is_nan()).then_some(*v)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f64>, D::Error> {
        let values = Vec::<Option<f64>>::deserialize(deserializer)?;
        Ok(values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(
        step_weight: Option<u32>,
        step_weights: Vec<u32>,
        max_weight: Option<u32>,
    ) -> Analysis {
        Analysis {
            interval_seconds: 60,
            threshold: 3,
            step_weight,
            step_weights,
            max_weight,
            iterations: None,
        }
    }

    #[test]
    fn next_weight_adds_step_weight_up_to_max_weight() {
        let a = analysis(Some(20), vec![], Some(50));
        assert_eq!(a.next_weight(0), 20);
        assert_eq!(a.next_weight(40), 50);
    }

    #[test]
    fn next_weight_follows_the_ladder_and_its_last_entry_is_the_max() {
        let a = analysis(None, vec![1, 5, 25], Some(90));
        assert_eq!(a.next_weight(0), 1);
        assert_eq!(a.next_weight(5), 25);
        assert_eq!(a.max_weight(), 25);
    }

    #[test]
    fn max_weight_defaults_to_100() {
        assert_eq!(analysis(Some(10), vec![], None).max_weight(), 100);
    }

    #[test]
    fn threshold_range_is_inclusive_and_rejects_nan() {
        let range = ThresholdRange {
            min: Some(1.0),
            max: Some(2.0),
        };
        assert!(range.contains(1.0) && range.contains(2.0));
        assert!(!range.contains(2.01) && !range.contains(f64::NAN));
        assert_eq!(range.describe(), "[1, 2]");
    }

    #[test]
    fn series_gaps_are_null_in_json() {
        let series = Series {
            start_ms: 0,
            step_ms: 1000,
            values: vec![1.0, f64::NAN],
        };
        let json = serde_json::to_string(&series).unwrap();
        assert_eq!(json, r#"{"startMs":0,"stepMs":1000,"values":[1.0,null]}"#);
        let back: Series = serde_json::from_str(&json).unwrap();
        assert!(back.values[1].is_nan());
    }
}
