//! Sample quantiles by linear interpolation between order statistics:
//! Hyndman and Fan's type 7, the default of R, NumPy and Prometheus-adjacent
//! tooling, so a policy's p95 matches what its author sees in a notebook.

use crate::sample::sorted_without_nan;

/// The q-th quantile (0 ≤ q ≤ 1) of the values, in any order, ignoring NaN.
///
/// With the n values sorted, this is the value at position h = (n − 1)·q,
/// interpolating linearly between the neighbours of a fractional h (R's
/// type 7, NumPy's default `method="linear"`). `None` for a sample with no
/// values or a q outside [0, 1].
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    let sorted = sorted_without_nan(values);
    (!sorted.is_empty()).then(|| quantile_of_sorted(&sorted, q))
}

/// The interquartile range, the 0.75 quantile minus the 0.25 quantile (as
/// [`quantile`] computes them), or `None` for a sample with no values.
///
/// It measures spread by the middle half of the sample only, so one
/// pathological request does not move it.
pub fn interquartile_range(values: &[f64]) -> Option<f64> {
    let sorted = sorted_without_nan(values);
    (!sorted.is_empty()).then(|| interquartile_range_of_sorted(&sorted))
}

/// The interquartile range of a non-empty, sorted, NaN-free sample.
pub(crate) fn interquartile_range_of_sorted(sorted: &[f64]) -> f64 {
    quantile_of_sorted(sorted, 0.75) - quantile_of_sorted(sorted, 0.25)
}

/// The type-7 quantile of a non-empty, sorted, NaN-free sample.
pub(crate) fn quantile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    let position = (sorted.len() - 1) as f64 * q;
    let below = position.floor();
    let index = below as usize;
    let Some(&next) = sorted.get(index + 1) else {
        return sorted[index];
    };
    interpolate(sorted[index], next, position - below)
}

/// The point a fraction t of the way from a to b (a ≤ b).
fn interpolate(a: f64, b: f64, t: f64) -> f64 {
    if t == 0.0 || a == b {
        return a;
    }
    if a.is_infinite() || b.is_infinite() {
        // Strictly between −∞ and +∞ nothing is defined; between a finite
        // value and an infinity, every interior point is that infinity.
        return if a.is_infinite() && b.is_infinite() {
            f64::NAN
        } else if a.is_infinite() {
            a
        } else {
            b
        };
    }
    // Measured from the nearer end, as NumPy does: exact at both ends and
    // monotone in t.
    let difference = b - a;
    if t < 0.5 {
        a + difference * t
    } else {
        b - difference * (1.0 - t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_of_an_empty_sample_is_none() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[f64::NAN], 0.5), None);
    }

    #[test]
    fn quantile_outside_zero_to_one_is_none() {
        assert_eq!(quantile(&[1.0, 2.0], -0.1), None);
        assert_eq!(quantile(&[1.0, 2.0], 1.5), None);
        assert_eq!(quantile(&[1.0, 2.0], f64::NAN), None);
    }

    #[test]
    fn quantile_of_a_single_value_is_that_value() {
        for q in [0.0, 0.3, 1.0] {
            assert_eq!(quantile(&[7.5], q), Some(7.5));
        }
    }

    #[test]
    fn quantile_ignores_input_order() {
        assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.5), Some(2.5));
    }

    #[test]
    fn quantile_next_to_an_infinite_value_is_that_infinity() {
        let values = [1.0, 2.0, f64::INFINITY];
        assert_eq!(quantile(&values, 0.5), Some(2.0));
        assert_eq!(quantile(&values, 0.9), Some(f64::INFINITY));
        assert_eq!(
            quantile(&[f64::NEG_INFINITY, 0.0], 0.25),
            Some(f64::NEG_INFINITY)
        );
    }

    #[test]
    fn interquartile_range_of_a_constant_sample_is_zero() {
        assert_eq!(interquartile_range(&[3.0; 7]), Some(0.0));
    }
}
