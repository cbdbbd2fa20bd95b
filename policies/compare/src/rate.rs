//! A rate of rare events (errors in requests) of the canary against the
//! primary's, compared as counts.

use warbler_guest_sdk::{Input, Outcome};
use warbler_stats::{Alternative, Counts, poisson_rate_test};

use crate::config::RateConfig;

/// What the comparison of one rate found.
#[derive(Debug, Clone, PartialEq)]
pub struct RateComparison {
    /// Fail when the canary's rate is significantly and materially higher.
    pub outcome: Outcome,
    /// One line for events and the display.
    pub detail: String,
}

/// A count from a metric's value: whole, finite and not negative.
fn count(value: Option<f64>) -> Option<u64> {
    value
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v.round() as u64)
}

/// Compare the canary's rate of `rate.events` in `rate.trials` with the
/// primary's. The exact conditional test of two Poisson rates holds on
/// sparse data: 3 errors in 300 requests against none in 3,000 is a
/// regression, where per-second success rates are nearly all 100%.
pub fn compare(input: &Input, rate: &RateConfig) -> RateComparison {
    let name = &rate.name;
    let metric = |metric: &str| input.metric(metric);
    let (events, trials) = (metric(&rate.events), metric(&rate.trials));
    let (Some(events), Some(trials)) = (events, trials) else {
        let missing = if events.is_none() {
            &rate.events
        } else {
            &rate.trials
        };
        return RateComparison {
            outcome: Outcome::NoData,
            detail: format!(
                "{name}: the Canary has no metric `{missing}`; add it to spec.analysis.metrics"
            ),
        };
    };
    let counts = (
        count(events.canary_value()).zip(count(trials.canary_value())),
        count(events.primary_value()).zip(count(trials.primary_value())),
    );
    let ((canary_events, canary_trials), (primary_events, primary_trials)) = match counts {
        (Some(canary), Some(primary)) => (canary, primary),
        _ => {
            return RateComparison {
                outcome: Outcome::NoData,
                detail: format!("{name}: no counts for the canary or the primary yet"),
            };
        }
    };
    if canary_trials < rate.min_trials || primary_trials < rate.min_trials {
        return RateComparison {
            outcome: Outcome::NoData,
            detail: format!(
                "{name}: {canary_trials} canary and {primary_trials} primary trials, need {} each",
                rate.min_trials
            ),
        };
    }
    let canary = Counts {
        events: canary_events,
        trials: canary_trials,
    };
    let primary = Counts {
        events: primary_events,
        trials: primary_trials,
    };
    let Some(test) = poisson_rate_test(canary, primary, Alternative::Greater) else {
        return RateComparison {
            outcome: Outcome::NoData,
            detail: format!("{name}: no trials to compare"),
        };
    };
    let ratio = if test.baseline_rate > 0.0 {
        test.canary_rate / test.baseline_rate
    } else if test.canary_rate > 0.0 {
        f64::INFINITY
    } else {
        1.0
    };
    let worse = test.p_value < rate.alpha && ratio > rate.min_ratio;
    RateComparison {
        outcome: if worse { Outcome::Fail } else { Outcome::Pass },
        detail: format!(
            "{name}: canary {}/{} ({:.3}%) vs primary {}/{} ({:.3}%), ×{ratio:.2} (p {:.4}): {}",
            canary.events,
            canary.trials,
            test.canary_rate * 100.0,
            primary.events,
            primary.trials,
            test.baseline_rate * 100.0,
            test.p_value,
            if worse {
                "canary fails more"
            } else {
                "same as primary"
            }
        ),
    }
}
