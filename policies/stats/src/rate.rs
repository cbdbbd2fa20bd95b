//! Does the canary fail more often than the baseline, when failures are
//! rare? The exact conditional test for two Poisson rates.
//!
//! With e₁ events in exposure n₁ and e₂ in n₂, and equal rates, the split
//! of the e₁ + e₂ events between the two sides is Binomial(e₁ + e₂,
//! n₁/(n₁ + n₂)) whatever the common rate is. Conditioning on the total
//! removes the unknown rate, so the test is exact however few events there
//! are — 3 errors against 0 is a question this can answer and a z-test
//! cannot.

use crate::alternative::Alternative;
use crate::distribution::{binomial_cdf, binomial_pmf, binomial_sf};
use crate::proportion::Counts;

/// Binomial probabilities within this factor of the observed one count as
/// "as likely" in the two-sided test, absorbing rounding; SciPy's constant.
const RELATIVE_TOLERANCE: f64 = 1.0 + 1e-7;

/// The result of the exact Poisson rate test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateTest {
    /// The canary's events per unit of exposure.
    pub canary_rate: f64,
    /// The baseline's events per unit of exposure.
    pub baseline_rate: f64,
    /// The p-value for the alternative the test was asked about.
    pub p_value: f64,
}

/// The exact conditional test of two Poisson rates: canary events in its
/// exposure (`trials`, e.g. requests) against the baseline's.
///
/// The p-value is that of the binomial test of the canary's e₁ events out of
/// e₁ + e₂ with success probability n₁/(n₁ + n₂), and matches
/// `scipy.stats.binomtest(e1, e1 + e2, n1 / (n1 + n2), alternative=…)`:
/// [`Alternative::Greater`] is the upper tail P(X ≥ e₁) (the canary's rate
/// is higher), [`Alternative::Less`] the lower tail P(X ≤ e₁), and
/// [`Alternative::TwoSided`] sums the probabilities of all outcomes no more
/// likely than the observed one (within a relative 1e-7, SciPy's rule).
///
/// Events may exceed trials (several events per request). `None` if either
/// side has no exposure (or the events number more than 2⁶³ together). With no events on either side there is no evidence
/// either way: the p-value is 1 (SciPy rejects a binomial test of 0 trials).
pub fn poisson_rate_test(
    canary: Counts,
    baseline: Counts,
    alternative: Alternative,
) -> Option<RateTest> {
    if canary.trials == 0 || baseline.trials == 0 {
        return None;
    }
    let canary_rate = canary.events as f64 / canary.trials as f64;
    let baseline_rate = baseline.events as f64 / baseline.trials as f64;
    // Past 2⁶³ events the binomial search's signed indices would overflow.
    let events = canary.events.checked_add(baseline.events)?;
    i64::try_from(events).ok()?;
    let canary_share =
        canary.trials as f64 / (u128::from(canary.trials) + u128::from(baseline.trials)) as f64;
    let p_value = if events == 0 {
        1.0
    } else {
        binomial_test(canary.events, events, canary_share, alternative)
    };
    Some(RateTest {
        canary_rate,
        baseline_rate,
        p_value,
    })
}

/// The binomial test of k successes in n ≥ 1 trials with success
/// probability p, as `scipy.stats.binomtest` computes it.
fn binomial_test(k: u64, n: u64, p: f64, alternative: Alternative) -> f64 {
    let tails = BinomialTails { n, p };
    match alternative {
        Alternative::Greater => tails.at_least(k as i64),
        Alternative::Less => tails.at_most(k as i64),
        Alternative::TwoSided => two_sided_binomial_test(k, &tails),
    }
}

/// SciPy's two-sided rule: the observed tail plus the opposite tail of all
/// outcomes whose probability is at most the observed one's (×(1 + 1e-7)).
/// The opposite tail's boundary is found by binary search, as the
/// probabilities fall monotonically away from the mode on that side.
fn two_sided_binomial_test(k: u64, tails: &BinomialTails) -> f64 {
    let n = tails.n as i64;
    let k = k as i64;
    let observed = tails.pmf(k);
    let threshold = observed * RELATIVE_TOLERANCE;
    let expected = tails.p * tails.n as f64;
    let k_float = k as f64;
    let p_value = if k_float == expected {
        1.0
    } else if k_float < expected {
        // Above the mode, probabilities fall as i rises: find the first i
        // whose probability is ≤ the threshold.
        let first = binary_search(|i| -tails.pmf(i), -threshold, expected.ceil() as i64, n);
        let opposite = n - first + i64::from(threshold == tails.pmf(first));
        tails.at_most(k) + tails.at_least(n - opposite + 1)
    } else {
        // Below the mode, probabilities rise with i: find the last i whose
        // probability is ≤ the threshold.
        let last = binary_search(|i| tails.pmf(i), threshold, 0, expected.floor() as i64);
        tails.at_most(last) + tails.at_least(k)
    };
    p_value.min(1.0)
}

/// SciPy's `_binary_search_for_binom_tst`, kept step for step so ties in
/// the comparisons resolve the same way: the i in lo..=hi with
/// a(i) ≤ target < a(i + 1), for a increasing on that range.
fn binary_search(a: impl Fn(i64) -> f64, target: f64, mut lo: i64, mut hi: i64) -> i64 {
    while lo < hi {
        let middle = lo + (hi - lo) / 2;
        let value = a(middle);
        if value < target {
            lo = middle + 1;
        } else if value > target {
            hi = middle - 1;
        } else {
            return middle;
        }
    }
    if a(lo) <= target { lo } else { lo - 1 }
}

/// Binomial(n, p) tails over signed k, so "below 0" and "above n" need no
/// special cases at the call sites.
struct BinomialTails {
    n: u64,
    p: f64,
}

impl BinomialTails {
    fn pmf(&self, k: i64) -> f64 {
        u64::try_from(k).map_or(0.0, |k| binomial_pmf(k, self.n, self.p))
    }

    /// P(X ≤ k).
    fn at_most(&self, k: i64) -> f64 {
        u64::try_from(k).map_or(0.0, |k| binomial_cdf(k, self.n, self.p))
    }

    /// P(X ≥ k).
    fn at_least(&self, k: i64) -> f64 {
        u64::try_from(k - 1).map_or(1.0, |below| binomial_sf(below, self.n, self.p))
    }
}
