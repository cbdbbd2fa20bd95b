//! Mean, sample variance and median: what the tests build on, and what a
//! policy reports next to a verdict.
//!
//! Each ignores NaN (see the crate documentation) and returns `None` when
//! too few values remain for the statistic to exist.

use crate::sample::{sorted_without_nan, without_nan};

/// The arithmetic mean, or `None` for a sample with no values.
pub fn mean(values: &[f64]) -> Option<f64> {
    let values = without_nan(values);
    (!values.is_empty()).then(|| mean_of(&values))
}

/// The sample variance, with n − 1 in the denominator (Bessel's correction,
/// NumPy's `var(ddof=1)`), or `None` with fewer than two values.
///
/// Computed in two passes — mean first, then squared deviations — because
/// the one-pass Σx² − n·x̄² formula cancels catastrophically for latencies
/// whose spread is small against their size.
pub fn variance(values: &[f64]) -> Option<f64> {
    let values = without_nan(values);
    (values.len() >= 2).then(|| {
        let mean = mean_of(&values);
        let squares: f64 = values.iter().map(|value| (value - mean).powi(2)).sum();
        squares / (values.len() - 1) as f64
    })
}

/// The median (the mean of the two middle values for an even count), or
/// `None` for a sample with no values.
pub fn median(values: &[f64]) -> Option<f64> {
    let sorted = sorted_without_nan(values);
    (!sorted.is_empty()).then(|| median_of_sorted(&sorted))
}

/// The mean of a non-empty, NaN-free sample.
pub(crate) fn mean_of(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The median of a non-empty, sorted, NaN-free sample.
pub(crate) fn median_of_sorted(sorted: &[f64]) -> f64 {
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        // Halving first cannot overflow; the result is the same correctly
        // rounded (a + b) / 2 that NumPy computes.
        sorted[middle - 1] / 2.0 + sorted[middle] / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_an_empty_sample_are_none() {
        assert_eq!(mean(&[]), None);
        assert_eq!(variance(&[]), None);
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn variance_needs_two_values() {
        assert_eq!(variance(&[3.0]), None);
        assert_eq!(variance(&[3.0, f64::NAN]), None);
        assert_eq!(variance(&[3.0, 5.0]), Some(2.0));
    }

    #[test]
    fn a_sample_of_only_nan_is_empty() {
        assert_eq!(mean(&[f64::NAN, f64::NAN]), None);
        assert_eq!(median(&[f64::NAN]), None);
    }

    #[test]
    fn median_of_two_huge_values_does_not_overflow() {
        assert_eq!(median(&[f64::MAX, f64::MAX]), Some(f64::MAX));
    }

    #[test]
    fn variance_keeps_precision_for_large_values_with_small_spread() {
        let values = [1e9 + 4.0, 1e9 + 7.0, 1e9 + 13.0, 1e9 + 16.0];
        assert_eq!(variance(&values), Some(30.0));
    }
}
