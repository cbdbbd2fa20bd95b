//! {{name}}: a Warbler analysis policy. Every metric must have a value within
//! its thresholdRange; a failing step holds and counts a failed check, and
//! the run rolls back once `analysis.threshold` checks have failed. Change
//! `evaluate` to decide differently; `cargo test` runs natively and
//! `warbler policy test .` runs cases.yaml through the built component.

use warbler_guest_sdk::{
    Input, Judgement, Outcome, Policy, PolicyError, PolicyInfo, Verdict, export_policy,
};

/// The policy.
pub struct MyPolicy;

impl Policy for MyPolicy {
    fn describe() -> PolicyInfo {
        PolicyInfo::named(
            "{{name}}",
            env!("CARGO_PKG_VERSION"),
            "Every metric within its thresholdRange (Rust).",
        )
    }

    fn validate_config(_config: &str) -> Result<(), PolicyError> {
        Ok(())
    }

    fn evaluate(input: &Input) -> Result<Verdict, PolicyError> {
        // Failed checks at the threshold roll back, a failed webhook is a
        // failed check, and the first step starts shifting without judging:
        // the canary has had no traffic yet, so its metrics have no data.
        if let Some(verdict) = Verdict::before_judging(input) {
            return Ok(verdict);
        }
        let judgements: Vec<Judgement> = input
            .metrics
            .iter()
            .map(|metric| {
                let range = &metric.threshold_range;
                let (outcome, detail) = match metric.canary_value() {
                    None => (Outcome::NoData, format!("{}: no value", metric.name)),
                    Some(v) if range.contains(v) => {
                        (Outcome::Pass, format!("{} {v:.2} within {}", metric.name, range.describe()))
                    }
                    Some(v) => (Outcome::Fail, format!("{} {v:.2} outside {}", metric.name, range.describe())),
                };
                Judgement {
                    metric: metric.name.clone(),
                    outcome,
                    detail,
                }
            })
            .collect();
        let verdict = match judgements.iter().find(|j| j.outcome != Outcome::Pass) {
            Some(bad) => Verdict::fail(bad.detail.clone()),
            None => Verdict::passed(input),
        };
        Ok(verdict.with_judgements(judgements))
    }
}

export_policy!(MyPolicy);
