//! A rate of rare events (errors in requests) of the canary against the
//! primary's, compared as counts.

use warbler_guest_sdk::{Input, Metric, Outcome};
use warbler_stats::{Alternative, Counts, poisson_rate_test};

use crate::config::{CountedOver, RateConfig};

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

/// The canary's and the primary's counts of `rate` in `metric`'s values,
/// when both are there.
fn counts_in<'a>(
    metric: impl Fn(&str) -> Option<&'a Metric>,
    rate: &RateConfig,
) -> Option<[(u64, u64); 2]> {
    let (events, trials) = (metric(&rate.events)?, metric(&rate.trials)?);
    let side = |value: fn(&Metric) -> Option<f64>| count(value(events)).zip(count(value(trials)));
    Some([side(Metric::canary_value)?, side(Metric::primary_value)?])
}

/// Compare the canary's rate of `rate.events` in `rate.trials` with the
/// primary's. The exact conditional test of two Poisson rates holds on
/// sparse data: 3 errors in 300 requests against none in 3,000 is a
/// regression, where per-second success rates are nearly all 100%. Over
/// the run (the default), the earlier steps' counts are added to this
/// step's: an error rate too rare to show in one interval shows over a few.
pub fn compare(input: &Input, rate: &RateConfig) -> RateComparison {
    let name = &rate.name;
    let missing = [&rate.events, &rate.trials]
        .into_iter()
        .find(|metric| input.metric(metric).is_none());
    if let Some(missing) = missing {
        return RateComparison {
            outcome: Outcome::NoData,
            detail: format!(
                "{name}: the Canary has no metric `{missing}`; add it to spec.analysis.metrics"
            ),
        };
    }
    let Some(now) = counts_in(|metric| input.metric(metric), rate) else {
        return RateComparison {
            outcome: Outcome::NoData,
            detail: format!("{name}: no counts for the canary or the primary yet"),
        };
    };
    let earlier: Vec<[(u64, u64); 2]> = match rate.over {
        CountedOver::Run => input
            .earlier_steps
            .iter()
            .filter_map(|step| counts_in(|metric| step.metric(metric), rate))
            .collect(),
        CountedOver::Step => Vec::new(),
    };
    let steps = earlier.len() + 1;
    let [
        (canary_events, canary_trials),
        (primary_events, primary_trials),
    ] = earlier.iter().fold(now, |[canary, primary], [c, p]| {
        let add =
            |a: (u64, u64), b: &(u64, u64)| (a.0.saturating_add(b.0), a.1.saturating_add(b.1));
        [add(canary, c), add(primary, p)]
    });
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
    let worse = test.p_value < rate.alpha() && ratio > rate.min_ratio;
    RateComparison {
        outcome: if worse { Outcome::Fail } else { Outcome::Pass },
        detail: format!(
            "{name}: canary {}/{} ({:.3}%) vs primary {}/{} ({:.3}%){}, ×{ratio:.2} (p {:.4}): {}",
            canary.events,
            canary.trials,
            test.canary_rate * 100.0,
            primary.events,
            primary.trials,
            test.baseline_rate * 100.0,
            if steps > 1 {
                format!(" over {steps} steps")
            } else {
                String::new()
            },
            test.p_value,
            if worse {
                "canary fails more"
            } else {
                "same as primary"
            }
        ),
    }
}
