//! The binomial distribution, after Loader, "Fast and accurate computation of
//! binomial probabilities" (2000).
//!
//! Writing the density as exp(−deviance − Stirling errors) instead of as
//! C(n,k)·pᵏ·qⁿ⁻ᵏ avoids subtracting huge log-factorials, so the density keeps
//! full relative precision with millions of trials. The same density, for
//! real arguments, is the prefactor of the incomplete beta function, and
//! through it of both binomial tails.

use std::f64::consts::TAU;

use super::gamma::stirling_error;
use super::incomplete_beta_with_complement;

/// P(X = k) for X ~ Binomial(n, p); NaN unless 0 ≤ p ≤ 1.
pub fn binomial_pmf(k: u64, n: u64, p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if k > n {
        return 0.0;
    }
    binomial_density(k as f64, n as f64, p, 1.0 - p)
}

/// P(X ≤ k) for X ~ Binomial(n, p); NaN unless 0 ≤ p ≤ 1.
///
/// Computed as an incomplete beta function directly, so a lower tail of
/// 1e-200 keeps its relative precision.
pub fn binomial_cdf(k: u64, n: u64, p: f64) -> f64 {
    tails(k, n, p).0
}

/// P(X > k) for X ~ Binomial(n, p) (SciPy's `binom.sf`: strictly greater);
/// NaN unless 0 ≤ p ≤ 1.
///
/// The upper tail is computed directly, never as `1 - binomial_cdf`, so it
/// keeps its relative precision when it is tiny.
pub fn binomial_sf(k: u64, n: u64, p: f64) -> f64 {
    tails(k, n, p).1
}

/// (P(X ≤ k), P(X > k)): P(X > k) = I_p(k + 1, n − k).
fn tails(k: u64, n: u64, p: f64) -> (f64, f64) {
    if !(0.0..=1.0).contains(&p) {
        return (f64::NAN, f64::NAN);
    }
    if k >= n {
        return (1.0, 0.0);
    }
    let (upper, lower) =
        incomplete_beta_with_complement((k + 1) as f64, (n - k) as f64, p, 1.0 - p);
    (lower, upper)
}

/// The binomial density for real 0 ≤ k ≤ n, with q = 1 − p passed in so a
/// caller that knows q more precisely than `1 - p` keeps that precision.
pub(crate) fn binomial_density(k: f64, n: f64, p: f64, q: f64) -> f64 {
    if p == 0.0 {
        return if k == 0.0 { 1.0 } else { 0.0 };
    }
    if q == 0.0 {
        return if k == n { 1.0 } else { 0.0 };
    }
    if k == 0.0 {
        return (n * ln_of_complement(q, p)).exp();
    }
    if k == n {
        return (n * ln_of_complement(p, q)).exp();
    }
    if k < 0.0 || k > n {
        return 0.0;
    }
    let log_ratio = stirling_error(n)
        - stirling_error(k)
        - stirling_error(n - k)
        - deviance(k, n * p)
        - deviance(n - k, n * q);
    // ln(2π·k·(n−k)/n), with (n−k)/n as 1 − k/n so it stays exact for k ≪ n.
    let log_spread = TAU.ln() + k.ln() + (-k / n).ln_1p();
    (log_ratio - 0.5 * log_spread).exp()
}

/// ln(value) where `value = 1 - other`: through `ln_1p(-other)` when other
/// is the small one, as `1 - other` would already have rounded.
fn ln_of_complement(value: f64, other: f64) -> f64 {
    if other < 0.5 {
        (-other).ln_1p()
    } else {
        value.ln()
    }
}

/// The deviance term x·ln(x/m) + m − x, which is ≥ 0 and tiny when x ≈ m.
///
/// Near m the two large terms cancel; the series in v = (x−m)/(x+m),
/// (x−m)·v + 2x·Σ v²ʲ⁺¹/(2j+1), adds only small positive terms instead.
fn deviance(x: f64, m: f64) -> f64 {
    if (x - m).abs() < 0.1 * (x + m) {
        let v = (x - m) / (x + m);
        let v_squared = v * v;
        let mut sum = (x - m) * v;
        let mut power_term = 2.0 * x * v;
        for j in 1..1000 {
            power_term *= v_squared;
            let next = sum + power_term / f64::from(2 * j + 1);
            if next == sum {
                break;
            }
            sum = next;
        }
        sum
    } else {
        x * (x / m).ln() + m - x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deviance_series_agrees_with_the_direct_formula_where_both_are_accurate() {
        for (x, m) in [(10.0_f64, 10.5), (100.0, 95.0), (3.0, 2.8)] {
            let direct = x * (x / m).ln() + m - x;
            let series = deviance(x, m);
            assert!((series - direct).abs() <= 1e-12 * direct, "{x} {m}");
        }
    }

    #[test]
    fn binomial_pmf_sums_to_one() {
        let total: f64 = (0..=40).map(|k| binomial_pmf(k, 40, 0.37)).sum();
        assert!((total - 1.0).abs() < 1e-14, "{total}");
    }

    #[test]
    fn binomial_tails_are_complementary() {
        for k in 0..20 {
            let sum = binomial_cdf(k, 20, 0.6) + binomial_sf(k, 20, 0.6);
            assert!((sum - 1.0).abs() < 1e-14, "{k}: {sum}");
        }
    }

    #[test]
    fn binomial_functions_reject_probabilities_outside_zero_to_one() {
        assert!(binomial_pmf(1, 2, 1.5).is_nan());
        assert!(binomial_cdf(1, 2, -0.1).is_nan());
        assert!(binomial_sf(1, 2, f64::NAN).is_nan());
    }
}
