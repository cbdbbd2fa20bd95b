//! The policy's configuration (`analysis.policy.config`), its defaults and
//! its checks.

use serde::Deserialize;
use warbler_guest_sdk::PolicyError;

/// `analysis.policy.config`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// The SLO: the percentage of requests that must succeed, e.g. 99.9.
    pub objective: f64,
    /// Where the error ratio comes from.
    pub source: Source,
    /// Window pairs; a pair fires when both its windows burn faster than
    /// its rate.
    pub windows: Vec<WindowPair>,
    /// Requests the long window of a pair needs before it is judged; below,
    /// the step holds without a failed check.
    pub min_requests: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            objective: 99.9,
            source: Source::default(),
            windows: vec![
                WindowPair {
                    long_seconds: 300,
                    short_seconds: 60,
                    burn_rate: 14.4,
                    action: Action::Rollback,
                },
                WindowPair {
                    long_seconds: 1800,
                    short_seconds: 300,
                    burn_rate: 6.0,
                    action: Action::FailCheck,
                },
            ],
            min_requests: 100,
        }
    }
}

/// Where the error ratio comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Source {
    /// The metric whose samples count failed requests per sample interval.
    pub errors: String,
    /// The metric whose samples count all requests per sample interval.
    pub requests: String,
}

impl Default for Source {
    fn default() -> Self {
        Source {
            errors: "error-count".to_owned(),
            requests: "request-count".to_owned(),
        }
    }
}

/// Two windows and the burn rate both must exceed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WindowPair {
    /// The long window, in seconds: is the budget really burning?
    pub long_seconds: u32,
    /// The short window, in seconds: is it still burning now?
    pub short_seconds: u32,
    /// Budget consumed this many times faster than the SLO allows.
    pub burn_rate: f64,
    /// What a firing pair does.
    #[serde(default)]
    pub action: Action,
}

/// What a firing window pair does to the step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Roll the canary back at once: the budget burns fast.
    Rollback,
    /// Count a failed check, Flagger's way: the budget burns slowly.
    #[default]
    FailCheck,
}

impl Config {
    /// Parse and check a configuration; errors name the field and the fix.
    pub fn parse(text: &str) -> Result<Config, PolicyError> {
        let config: Config = warbler_guest_sdk::parse_config(text)?;
        config.check()?;
        Ok(config)
    }

    /// The error budget: the share of requests allowed to fail.
    pub fn budget(&self) -> f64 {
        1.0 - self.objective / 100.0
    }

    fn check(&self) -> Result<(), PolicyError> {
        let invalid = |message: String| Err(PolicyError::InvalidConfig(message));
        if !(self.objective > 0.0 && self.objective < 100.0) {
            return invalid(format!(
                "config.objective: {} is not a percentage between 0 and 100 (exclusive), e.g. 99.9",
                self.objective
            ));
        }
        if self.source.errors == self.source.requests {
            return invalid(format!(
                "config.source.errors: `{}` is also the requests metric; name the metric that counts failed requests and the one that counts all",
                self.source.errors
            ));
        }
        if self.windows.is_empty() {
            return invalid(
                "config.windows: empty; give at least one pair, e.g. { longSeconds: 300, shortSeconds: 60, burnRate: 14.4 }"
                    .to_owned(),
            );
        }
        for (i, pair) in self.windows.iter().enumerate() {
            if pair.short_seconds == 0 || pair.short_seconds > pair.long_seconds {
                return invalid(format!(
                    "config.windows[{i}].shortSeconds: {} must be above 0 and at most longSeconds ({})",
                    pair.short_seconds, pair.long_seconds
                ));
            }
            if !(pair.burn_rate > 0.0 && pair.burn_rate.is_finite()) {
                return invalid(format!(
                    "config.windows[{i}].burnRate: {} must be a number above 0, e.g. 14.4",
                    pair.burn_rate
                ));
            }
        }
        Ok(())
    }
}

/// The configuration's JSON Schema, as `describe()` reports it.
pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": ["object", "null"],
  "additionalProperties": false,
  "properties": {
    "objective": { "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100, "default": 99.9,
                   "description": "The SLO: percentage of requests that must succeed." },
    "source": {
      "type": "object", "additionalProperties": false, "required": ["errors", "requests"],
      "properties": {
        "errors": { "type": "string", "default": "error-count",
                    "description": "Metric whose samples count failed requests per sample interval." },
        "requests": { "type": "string", "default": "request-count",
                      "description": "Metric whose samples count all requests per sample interval." }
      }
    },
    "windows": {
      "type": "array", "minItems": 1,
      "default": [{ "longSeconds": 300, "shortSeconds": 60, "burnRate": 14.4, "action": "rollback" },
                  { "longSeconds": 1800, "shortSeconds": 300, "burnRate": 6, "action": "failCheck" }],
      "items": {
        "type": "object", "additionalProperties": false, "required": ["longSeconds", "shortSeconds", "burnRate"],
        "properties": {
          "longSeconds": { "type": "integer", "minimum": 1 },
          "shortSeconds": { "type": "integer", "minimum": 1 },
          "burnRate": { "type": "number", "exclusiveMinimum": 0 },
          "action": { "enum": ["rollback", "failCheck"], "default": "failCheck" }
        }
      }
    },
    "minRequests": { "type": "integer", "minimum": 0, "default": 100,
                     "description": "Requests a pair's long window needs before it is judged." }
  }
}"#;
