//! Does the canary's metric vary more (or less) than the baseline's?
//!
//! A canary can keep its median latency and still hurt users by becoming
//! erratic; a location test like Mann–Whitney does not see that.

use crate::descriptive::{mean_of, median_of_sorted};
use crate::distribution::f_sf;
use crate::quantile::interquartile_range_of_sorted;
use crate::sample::sorted_without_nan;

/// The result of a Brown–Forsythe test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BrownForsythe {
    /// The statistic W: an F statistic on 1 and N − 2 degrees of freedom;
    /// SciPy's `statistic`.
    pub statistic: f64,
    /// The probability of a W at least this large if both samples vary
    /// equally. The test is two-sided by construction: compare
    /// [`iqr_ratio`] with 1 for the direction.
    pub p_value: f64,
}

/// The Brown–Forsythe test for equal spread: Levene's test with each
/// sample's median as its centre, matching `scipy.stats.levene(canary,
/// baseline, center="median")`.
///
/// It is a one-way ANOVA of the absolute deviations from each sample's
/// median. Centring on the median rather than the mean keeps it honest for
/// skewed data such as latencies, where Levene's original test and the
/// F test of variances reject far too often.
///
/// NaN values are dropped. `None` if either sample has no values left or
/// they have fewer than three together (no degrees of freedom remain).
/// When neither sample deviates from its median at all the statistic is
/// 0/0; this returns statistic 0 and p-value 1 — both spreads are zero, so
/// they are equal — where SciPy returns NaN.
pub fn brown_forsythe(canary: &[f64], baseline: &[f64]) -> Option<BrownForsythe> {
    let samples = [sorted_without_nan(canary), sorted_without_nan(baseline)];
    let total: usize = samples.iter().map(Vec::len).sum();
    if samples.iter().any(Vec::is_empty) || total < 3 {
        return None;
    }
    let deviations = samples.map(|sample| {
        let median = median_of_sorted(&sample);
        sample
            .iter()
            .map(|value| (value - median).abs())
            .collect::<Vec<_>>()
    });
    let means = deviations.each_ref().map(|deviations| mean_of(deviations));
    let grand_mean = deviations
        .iter()
        .zip(means)
        .map(|(deviations, mean)| mean * deviations.len() as f64)
        .sum::<f64>()
        / total as f64;
    let between: f64 = deviations
        .iter()
        .zip(means)
        .map(|(deviations, mean)| deviations.len() as f64 * (mean - grand_mean).powi(2))
        .sum();
    let within: f64 = deviations
        .iter()
        .zip(means)
        .map(|(deviations, mean)| deviations.iter().map(|d| (d - mean).powi(2)).sum::<f64>())
        .sum();
    let residual_freedom = (total - 2) as f64;
    if between == 0.0 && within == 0.0 {
        return Some(BrownForsythe {
            statistic: 0.0,
            p_value: 1.0,
        });
    }
    // Groups − 1 = 1 degree of freedom between; a zero `within` with a
    // non-zero `between` gives W = ∞ and p = 0, as in SciPy.
    let statistic = residual_freedom * between / within;
    Some(BrownForsythe {
        statistic,
        p_value: f_sf(statistic, 1.0, residual_freedom),
    })
}

/// The canary's interquartile range divided by the baseline's: how many
/// times wider the middle half of the canary's values is.
///
/// The interquartile range rather than the standard deviation, because one
/// timed-out request can double a standard deviation and a ratio of them
/// would then flag noise; the middle half moves only when the bulk of
/// requests does, and it suits the median-centred Brown–Forsythe test it is
/// meant to accompany.
///
/// NaN values are dropped; `None` if either sample has no values left.
/// When both ranges are 0 the spreads are equal and the ratio is 1; when
/// only the baseline's is 0 it is +∞.
pub fn iqr_ratio(canary: &[f64], baseline: &[f64]) -> Option<f64> {
    let canary = sorted_without_nan(canary);
    let baseline = sorted_without_nan(baseline);
    if canary.is_empty() || baseline.is_empty() {
        return None;
    }
    let canary_range = interquartile_range_of_sorted(&canary);
    let baseline_range = interquartile_range_of_sorted(&baseline);
    if canary_range == 0.0 && baseline_range == 0.0 {
        return Some(1.0);
    }
    Some(canary_range / baseline_range)
}
