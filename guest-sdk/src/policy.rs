//! The trait a policy implements and what it says about itself.

use serde::{Deserialize, Serialize};

use crate::{Input, Verdict};

/// An analysis policy. Implement it on a unit struct and export it with
/// [`export_policy!`](crate::export_policy).
///
/// The functions take no `self`: every evaluation runs in a fresh instance, so
/// a policy cannot keep state between steps. What it needs to remember is in
/// [`Input::history`] and [`Input::state`], and with
/// [`READS_EARLIER_STEPS`](Policy::READS_EARLIER_STEPS) in
/// [`Input::earlier_steps`].
pub trait Policy {
    /// True to have [`Input::earlier_steps`] filled with the metrics of the
    /// run's earlier steps, asked from the host at each evaluation (the
    /// contract's `run.earlier-steps`, since 0.1.1). Left false, a release
    /// build does not import it and also runs on hosts of contract 0.1.0.
    const READS_EARLIER_STEPS: bool = false;

    /// Name, version, needs and configuration schema.
    fn describe() -> PolicyInfo;

    /// Check a configuration (JSON text, `null` for none) before a rollout
    /// uses it. The default accepts anything.
    fn validate_config(config: &str) -> Result<(), PolicyError> {
        let _ = config;
        Ok(())
    }

    /// Decide one analysis step. Must depend on `input` alone.
    fn evaluate(input: &Input) -> Result<Verdict, PolicyError>;
}

/// What a policy says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyInfo {
    /// Short name, e.g. `threshold`.
    pub name: String,
    /// The policy's own version (semver).
    pub version: String,
    /// One paragraph for `warbler policy inspect`.
    pub description: String,
    /// Metric names the policy requires; empty means any.
    pub required_metrics: Vec<String>,
    /// True when the policy compares canary against primary.
    pub needs_baseline: bool,
    /// JSON Schema of the configuration.
    pub config_schema: String,
}

/// Why a policy could not decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "kebab-case")]
pub enum PolicyError {
    /// The configuration is invalid; the text names the field and a fix.
    InvalidConfig(String),
    /// The input lacks something this policy needs.
    InvalidInput(String),
    /// Anything else.
    Internal(String),
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyError::InvalidConfig(m) => write!(f, "invalid policy config: {m}"),
            PolicyError::InvalidInput(m) => write!(f, "invalid policy input: {m}"),
            PolicyError::Internal(m) => write!(f, "policy failed: {m}"),
        }
    }
}

impl std::error::Error for PolicyError {}

impl PolicyInfo {
    /// Info with a name, version and description; no required metrics, no
    /// baseline, an empty-object configuration schema.
    pub fn named(name: &str, version: &str, description: &str) -> Self {
        PolicyInfo {
            name: name.to_owned(),
            version: version.to_owned(),
            description: description.to_owned(),
            required_metrics: Vec::new(),
            needs_baseline: false,
            config_schema: r#"{"type":["object","null"]}"#.to_owned(),
        }
    }

    /// The same info, requiring these metrics.
    pub fn requiring(mut self, metrics: &[&str]) -> Self {
        self.required_metrics = metrics.iter().map(|m| (*m).to_owned()).collect();
        self
    }

    /// The same info, with this JSON Schema for the configuration.
    pub fn with_config_schema(mut self, schema: &str) -> Self {
        self.config_schema = schema.to_owned();
        self
    }

    /// The same info, declaring that the policy compares against the primary.
    pub fn needing_baseline(mut self) -> Self {
        self.needs_baseline = true;
        self
    }
}
