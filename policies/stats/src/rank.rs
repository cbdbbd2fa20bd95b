//! The Mann–Whitney U test (Wilcoxon rank-sum test): does the canary's
//! metric tend to be larger or smaller than the baseline's?
//!
//! It compares ranks, not values, so it needs no assumption about the shape
//! of the distributions — latencies are skewed and heavy-tailed — and one
//! extreme request moves it no more than any other request above the rest.
//! This is the test Kayenta's canary judge uses.
//!
//! The p-value follows `scipy.stats.mannwhitneyu(canary, baseline,
//! alternative=…, use_continuity=True)` exactly, including how its default
//! `method="auto"` chooses between the exact and the normal distribution of
//! U (see [`mann_whitney`]).

mod exact_distribution;
mod location_shift;

use crate::alternative::Alternative;
use crate::distribution::normal_sf;
use crate::sample::sorted_without_nan;

/// With both samples larger than this, the normal approximation is used
/// even without ties, as in SciPy's automatic choice.
const EXACT_UP_TO_SMALLER_SAMPLE: usize = 8;

/// How the p-value of a rank test was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PValueMethod {
    /// From the exact distribution of U under the null hypothesis. It
    /// assumes no ties; with ties the p-value is computed for U rounded
    /// down, as SciPy's `method="exact"` does, and is only approximate.
    Exact,
    /// From the normal approximation to U, with the tie correction to its
    /// variance and a continuity correction of ½.
    Asymptotic,
}

/// The result of a Mann–Whitney U test of a canary sample against a
/// baseline sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the canary: the number of (canary, baseline) pairs in which the
    /// canary value is larger, a tie counting one half. Ranges from 0 to
    /// `canary_count × baseline_count`; SciPy's `statistic`.
    pub u: f64,
    /// The p-value for the alternative the test was asked about.
    pub p_value: f64,
    /// The Hodges–Lehmann estimate of the location shift: the median of all
    /// differences canary − baseline (positive when the canary is larger),
    /// in the metric's unit. NaN only if both samples hold the same
    /// infinity, making some difference ∞ − ∞.
    pub hodges_lehmann: f64,
    /// How the p-value was computed.
    pub method: PValueMethod,
    /// The number of canary values used (NaN dropped).
    pub canary_count: usize,
    /// The number of baseline values used (NaN dropped).
    pub baseline_count: usize,
}

impl MannWhitney {
    /// U as a fraction of all pairs: the probability that a random canary
    /// value exceeds a random baseline value, ties counting half. 0.5 means
    /// no tendency either way; it is an effect size that, unlike the
    /// p-value, does not grow with the number of samples.
    pub fn probability_of_superiority(&self) -> f64 {
        self.u / (self.canary_count as f64 * self.baseline_count as f64)
    }
}

/// The Mann–Whitney U test of `canary` against `baseline`, choosing the
/// p-value method as SciPy's `method="auto"` does.
///
/// The exact distribution is used when at least one sample has at most 8
/// values and no value occurs twice in the two samples combined; otherwise
/// the normal approximation with tie and continuity corrections. (The exact
/// distribution ignores ties, and with both samples larger than 8 the
/// approximation is already close.) The exact distribution against a
/// sample of n values takes time and memory proportional to n (about 64
/// bytes per value), trivial for any realistic baseline.
///
/// NaN values are dropped; `None` if either sample has no values left.
pub fn mann_whitney(
    canary: &[f64],
    baseline: &[f64],
    alternative: Alternative,
) -> Option<MannWhitney> {
    test(canary, baseline, alternative, |ranks, smaller_count| {
        if smaller_count <= EXACT_UP_TO_SMALLER_SAMPLE && !ranks.has_ties {
            PValueMethod::Exact
        } else {
            PValueMethod::Asymptotic
        }
    })
}

/// The Mann–Whitney U test with the p-value method chosen by the caller,
/// like SciPy's `method="exact"` or `method="asymptotic"`.
///
/// Useful to keep one method across steps whose sample sizes straddle the
/// automatic choice. The exact method costs time proportional to the
/// smaller sample size times the number of pairs, and memory proportional
/// to the number of pairs: fine for a few thousand pairs, not for two
/// samples of thousands.
pub fn mann_whitney_using(
    canary: &[f64],
    baseline: &[f64],
    alternative: Alternative,
    method: PValueMethod,
) -> Option<MannWhitney> {
    test(canary, baseline, alternative, |_, _| method)
}

fn test(
    canary: &[f64],
    baseline: &[f64],
    alternative: Alternative,
    choose_method: impl FnOnce(&RankSummary, usize) -> PValueMethod,
) -> Option<MannWhitney> {
    let canary = sorted_without_nan(canary);
    let baseline = sorted_without_nan(baseline);
    if canary.is_empty() || baseline.is_empty() {
        return None;
    }
    let ranks = RankSummary::of(&canary, &baseline);
    let method = choose_method(&ranks, canary.len().min(baseline.len()));
    let pairs = canary.len() as f64 * baseline.len() as f64;
    // Every alternative is answered with an upper tail, as SciPy does: of U
    // for "greater", of the baseline's U for "less", of the larger of the
    // two for "two-sided" (then doubled).
    let (tail_u, sides) = match alternative {
        Alternative::Greater => (ranks.u, 1.0),
        Alternative::Less => (pairs - ranks.u, 1.0),
        Alternative::TwoSided => (ranks.u.max(pairs - ranks.u), 2.0),
    };
    let one_side = match method {
        PValueMethod::Exact => {
            exact_distribution::upper_tail(tail_u.floor() as u64, canary.len(), baseline.len())
        }
        PValueMethod::Asymptotic => normal_upper_tail(tail_u, &ranks, canary.len(), baseline.len()),
    };
    Some(MannWhitney {
        u: ranks.u,
        // Doubling a tail at the centre of a discrete distribution can pass 1.
        p_value: (sides * one_side).clamp(0.0, 1.0),
        hodges_lehmann: location_shift::hodges_lehmann(&canary, &baseline),
        method,
        canary_count: canary.len(),
        baseline_count: baseline.len(),
    })
}

/// P(U ≥ u) under the normal approximation: mean nm/2, variance
/// nm/12·((N+1) − Σ(t³−t)/(N(N−1))) over the tie groups of sizes t, and ½
/// subtracted from u for continuity, which always moves the upper-tail
/// p-value up, towards the mass at u itself.
fn normal_upper_tail(
    u: f64,
    ranks: &RankSummary,
    canary_count: usize,
    baseline_count: usize,
) -> f64 {
    let (n, m) = (canary_count as f64, baseline_count as f64);
    let total = n + m;
    let variance = n * m / 12.0 * ((total + 1.0) - ranks.tie_term / (total * (total - 1.0)));
    // With every value tied the variance is 0 and z = −∞: p = 1.
    let z = (u - n * m / 2.0 - 0.5) / variance.max(0.0).sqrt();
    normal_sf(z)
}

/// What the test needs from the joint ranking of the two samples.
struct RankSummary {
    /// U of the canary.
    u: f64,
    /// Σ (t³ − t) over groups of t tied values, for the variance of U.
    tie_term: f64,
    /// Whether any value occurs more than once in the two samples combined.
    has_ties: bool,
}

impl RankSummary {
    /// One merge of the two sorted samples, group of equal values by group.
    /// U is counted directly — each canary value scores the baseline values
    /// below it plus half of those equal to it — which equals the rank-sum
    /// formula R − n(n+1)/2 and is exact in doubles.
    fn of(canary: &[f64], baseline: &[f64]) -> Self {
        let (mut i, mut j) = (0, 0);
        let mut summary = RankSummary {
            u: 0.0,
            tie_term: 0.0,
            has_ties: false,
        };
        while i < canary.len() || j < baseline.len() {
            let value = match (canary.get(i), baseline.get(j)) {
                (Some(&x), Some(&y)) => x.min(y),
                (Some(&x), None) => x,
                (None, Some(&y)) => y,
                (None, None) => unreachable!("the loop condition"),
            };
            let canary_equal = canary[i..].iter().take_while(|&&x| x == value).count();
            let baseline_equal = baseline[j..].iter().take_while(|&&y| y == value).count();
            summary.u += canary_equal as f64 * (j as f64 + baseline_equal as f64 / 2.0);
            let group = (canary_equal + baseline_equal) as f64;
            summary.tie_term += group * group * group - group;
            summary.has_ties |= canary_equal + baseline_equal > 1;
            i += canary_equal;
            j += baseline_equal;
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u_counts_pairs_where_the_canary_is_larger_with_ties_as_half() {
        let ranks = RankSummary::of(&[1.0, 3.0, 3.0], &[2.0, 3.0]);
        // 1: beats none; each 3: beats 2, ties 3 → 1.5 each.
        assert_eq!(ranks.u, 3.0);
        assert_eq!(ranks.tie_term, 24.0);
        assert!(ranks.has_ties);
    }

    #[test]
    fn negative_and_positive_zero_are_one_tie_group() {
        let ranks = RankSummary::of(&[-0.0], &[0.0]);
        assert_eq!(ranks.u, 0.5);
        assert!(ranks.has_ties);
    }
}
