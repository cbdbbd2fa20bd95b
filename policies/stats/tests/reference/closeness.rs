//! How close is close enough to SciPy.

/// Closed-form and asymptotic results: both sides evaluate the same
/// formula, so they agree to rounding; 1e-9 leaves room for SciPy's
/// different (but also accurate) special-function algorithms.
pub const REFERENCE: f64 = 1e-9;

/// Asserts |actual − expected| ≤ relative·|expected| (exact equality for
/// zeros and infinities), so tiny tail p-values are compared in relative
/// terms rather than passing because both are "about zero".
#[track_caller]
pub fn assert_close(actual: f64, expected: f64, relative: f64) {
    if actual == expected {
        return;
    }
    let error = (actual - expected).abs() / expected.abs();
    assert!(
        error <= relative,
        "expected {expected:e}, got {actual:e} (relative error {error:e} > {relative:e})"
    );
}
