//! Is the canary's share of failed requests larger than the baseline's?
//! The pooled two-proportion z-test, for when both sides have seen enough
//! failures for the normal approximation (roughly ten or more); for rarer
//! events use [`poisson_rate_test`](crate::poisson_rate_test).

use crate::alternative::Alternative;
use crate::distribution::{normal_cdf, normal_sf};

/// Events out of trials: failed requests out of requests, say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// How many times the event happened.
    pub events: u64,
    /// How many times it could have happened (for a rate test: the exposure,
    /// such as requests served).
    pub trials: u64,
}

/// The result of a two-proportion z-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProportionTest {
    /// The canary's proportion of events, events / trials.
    pub canary_proportion: f64,
    /// The baseline's proportion of events.
    pub baseline_proportion: f64,
    /// The difference of the proportions, canary − baseline, in standard
    /// errors under the null hypothesis of one common proportion.
    pub z: f64,
    /// The p-value for the alternative the test was asked about.
    pub p_value: f64,
}

/// The two-proportion z-test with pooled variance: the textbook test, and
/// `statsmodels.stats.proportion.proportions_ztest([canary.events,
/// baseline.events], [canary.trials, baseline.trials])`.
///
/// z = (p₁ − p₂) / √(p̂(1 − p̂)(1/n₁ + 1/n₂)) with p̂ the pooled proportion;
/// the p-value is the normal tail(s) beyond z in the direction of
/// `alternative`.
///
/// `None` if either side has no trials or more events than trials. When
/// the pooled proportion is 0 or 1 — no events on either side, the usual
/// case for a healthy canary, or nothing but events — the proportions are
/// equal and there is no variance to scale by: z is 0 and the p-value 1
/// whatever the alternative (statsmodels returns NaN).
pub fn two_proportion_z_test(
    canary: Counts,
    baseline: Counts,
    alternative: Alternative,
) -> Option<ProportionTest> {
    if [canary, baseline]
        .iter()
        .any(|side| side.trials == 0 || side.events > side.trials)
    {
        return None;
    }
    let canary_proportion = canary.events as f64 / canary.trials as f64;
    let baseline_proportion = baseline.events as f64 / baseline.trials as f64;
    // Summed as u128: two u64 counts cannot overflow it.
    let pooled = (u128::from(canary.events) + u128::from(baseline.events)) as f64
        / (u128::from(canary.trials) + u128::from(baseline.trials)) as f64;
    let variance =
        pooled * (1.0 - pooled) * (1.0 / canary.trials as f64 + 1.0 / baseline.trials as f64);
    if variance == 0.0 {
        return Some(ProportionTest {
            canary_proportion,
            baseline_proportion,
            z: 0.0,
            p_value: 1.0,
        });
    }
    let z = (canary_proportion - baseline_proportion) / variance.sqrt();
    let p_value = match alternative {
        Alternative::TwoSided => 2.0 * normal_sf(z.abs()),
        Alternative::Greater => normal_sf(z),
        Alternative::Less => normal_cdf(z),
    };
    Some(ProportionTest {
        canary_proportion,
        baseline_proportion,
        z,
        p_value,
    })
}
