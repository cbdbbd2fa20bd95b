//! The regularized incomplete beta function and the F distribution's tail.
//!
//! I_x(a, b) is evaluated by its continued fraction (modified Lentz), which
//! converges quickly for x < (a+1)/(a+b+2); above that point the symmetry
//! I_x(a, b) = 1 − I_(1−x)(b, a) moves the evaluation back into that region.
//! Both values are returned, each computed from the side where it is small,
//! so whichever tail a test needs keeps its relative precision.

use super::binomial::binomial_density;

/// Enough for a and b in the tens of millions: the fraction needs on the
/// order of √max(a, b) terms.
const MAX_TERMS: u32 = 100_000;

/// Stops the Lentz recurrences from dividing by zero.
const TINY: f64 = 1e-300;

/// The regularized incomplete beta function I_x(a, b), for a, b > 0 and
/// 0 ≤ x ≤ 1 (NaN otherwise): P(X ≤ x) for X ~ Beta(a, b).
pub fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if !(a > 0.0 && b > 0.0 && (0.0..=1.0).contains(&x)) {
        return f64::NAN;
    }
    incomplete_beta_with_complement(a, b, x, 1.0 - x).0
}

/// P(F > f) for F ~ F(dfn, dfd), SciPy's `f.sf`; NaN for NaN input or
/// non-positive degrees of freedom.
pub fn f_sf(f: f64, dfn: f64, dfd: f64) -> f64 {
    if f.is_nan() || !(dfn > 0.0 && dfd > 0.0) {
        return f64::NAN;
    }
    if f <= 0.0 {
        return 1.0;
    }
    if f.is_infinite() {
        return 0.0;
    }
    // P(F > f) = I_x(dfd/2, dfn/2) at x = dfd / (dfd + dfn·f); 1 − x is
    // formed from its own numerator so a tiny 1 − x is not rounded away.
    let scaled = dfn * f;
    let x = dfd / (dfd + scaled);
    let complement = scaled / (dfd + scaled);
    incomplete_beta_with_complement(dfd / 2.0, dfn / 2.0, x, complement).0
}

/// (I_x(a, b), 1 − I_x(a, b)) for a, b > 0, with y = 1 − x passed in.
pub(crate) fn incomplete_beta_with_complement(a: f64, b: f64, x: f64, y: f64) -> (f64, f64) {
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    if y <= 0.0 {
        return (1.0, 0.0);
    }
    if x < (a + 1.0) / (a + b + 2.0) {
        let lower = lower_tail_by_continued_fraction(a, b, x, y);
        (lower, 1.0 - lower)
    } else {
        let upper = lower_tail_by_continued_fraction(b, a, y, x);
        (1.0 - upper, upper)
    }
}

/// I_x(a, b) = xᵃ·yᵇ / (a·B(a, b)) · continued fraction, for x below the
/// mean-ish point where the fraction converges fast.
fn lower_tail_by_continued_fraction(a: f64, b: f64, x: f64, y: f64) -> f64 {
    // xᵃ·yᵇ / (a·B(a, b)) is b/(a+b) times the binomial density of a
    // successes in a + b trials, which Loader's method computes without
    // forming the huge gamma functions of a and b.
    let prefactor = b / (a + b) * binomial_density(a, a + b, x, y);
    if prefactor == 0.0 {
        return 0.0;
    }
    prefactor * continued_fraction(a, b, x)
}

/// The continued fraction 1/(1 + d₁/(1 + d₂/(1 + …))) of I_x(a, b), by the
/// modified Lentz method.
fn continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    let nonzero = |value: f64| if value.abs() < TINY { TINY } else { value };
    let mut c = 1.0;
    let mut d = 1.0 / nonzero(1.0 - (a + b) * x / (a + 1.0));
    let mut fraction = d;
    for m in 1..=MAX_TERMS {
        let m = f64::from(m);
        let two_m = 2.0 * m;
        // Even step: d₂ₘ = m(b−m)x / ((a+2m−1)(a+2m)).
        let even = m * (b - m) * x / ((a + two_m - 1.0) * (a + two_m));
        d = 1.0 / nonzero(1.0 + even * d);
        c = nonzero(1.0 + even / c);
        fraction *= d * c;
        // Odd step: d₂ₘ₊₁ = −(a+m)(a+b+m)x / ((a+2m)(a+2m+1)).
        let odd = -(a + m) * (a + b + m) * x / ((a + two_m) * (a + two_m + 1.0));
        d = 1.0 / nonzero(1.0 + odd * d);
        c = nonzero(1.0 + odd / c);
        let step = d * c;
        fraction *= step;
        if (step - 1.0).abs() <= f64::EPSILON {
            break;
        }
    }
    fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_beta_with_integer_parameters_is_a_binomial_sum() {
        // I_x(a, b) = P(Binomial(a+b−1, x) ≥ a).
        let (a, b, x) = (3.0, 5.0, 0.3_f64);
        let n = 7;
        let choose =
            |n: u32, k: u32| (1..=k).fold(1.0, |c, i| c * f64::from(n - k + i) / f64::from(i));
        let expected: f64 = (3..=n)
            .map(|k| choose(n, k) * x.powi(k as i32) * (1.0 - x).powi((n - k) as i32))
            .sum();
        let actual = regularized_incomplete_beta(a, b, x);
        assert!((actual - expected).abs() <= 1e-14, "{actual} {expected}");
    }

    #[test]
    fn f_sf_at_the_ends_of_its_range() {
        assert_eq!(f_sf(0.0, 1.0, 10.0), 1.0);
        assert_eq!(f_sf(f64::INFINITY, 1.0, 10.0), 0.0);
        assert!(f_sf(f64::NAN, 1.0, 10.0).is_nan());
        assert!(f_sf(1.0, 0.0, 10.0).is_nan());
    }
}
