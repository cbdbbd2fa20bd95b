//! The one place input samples are cleaned. Every statistic in this crate
//! drops NaN — a missing scrape or a 0/0 in a recording rule — instead of
//! letting one poisoned value turn a whole analysis step into NaN.
//! Infinities are kept: they are real (if extreme) observations.

/// The values that are not NaN, in their original order.
pub(crate) fn without_nan(values: &[f64]) -> Vec<f64> {
    values
        .iter()
        .copied()
        .filter(|value| !value.is_nan())
        .collect()
}

/// The values that are not NaN, in ascending order.
pub(crate) fn sorted_without_nan(values: &[f64]) -> Vec<f64> {
    let mut sorted = without_nan(values);
    // No NaN is left, so total order agrees with numeric order except that
    // −0 sorts before +0, which are adjacent and compare equal anyway.
    sorted.sort_unstable_by(f64::total_cmp);
    sorted
}
