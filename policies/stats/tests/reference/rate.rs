//! The exact conditional Poisson rate test:
//! `scipy.stats.binomtest(e1, e1 + e2, n1 / (n1 + n2), alternative=…)`.

use warbler_stats::Alternative::{Greater, Less, TwoSided};
use warbler_stats::{Counts, poisson_rate_test};

use crate::closeness::{REFERENCE, assert_close};

fn counts(events: u64, trials: u64) -> Counts {
    Counts { events, trials }
}

/// The (two-sided, greater, less) p-values of one script line.
#[track_caller]
fn assert_matches(canary: Counts, baseline: Counts, [two_sided, greater, less]: [f64; 3]) {
    for (alternative, p_value) in [(TwoSided, two_sided), (Greater, greater), (Less, less)] {
        let result =
            poisson_rate_test(canary, baseline, alternative).expect("exposure on both sides");
        assert_close(result.p_value, p_value, REFERENCE);
    }
}

#[test]
fn rate_test_matches_scipy_binomtest_for_a_few_errors() {
    // few_errors: two_sided=0.143463134765625 greater=0.0717315673828125 less=0.9754791259765625
    assert_matches(
        counts(12, 10000),
        counts(5, 10000),
        [0.143463134765625, 0.0717315673828125, 0.9754791259765625],
    );
}

#[test]
fn rate_test_judges_errors_against_a_clean_baseline() {
    // baseline_clean: two_sided=0.0046296296296296285 greater=0.0046296296296296285 less=1.0
    assert_matches(
        counts(3, 1000),
        counts(0, 5000),
        [0.0046296296296296285, 0.0046296296296296285, 1.0],
    );
    // canary_clean: two_sided=0.125 greater=1.0 less=0.0625
    assert_matches(counts(0, 1000), counts(4, 1000), [0.125, 1.0, 0.0625]);
}

#[test]
fn rate_test_two_sided_matches_scipy_on_either_side_of_the_expected_count() {
    // unequal_exposure_high: two_sided=0.3229754258508436 greater=0.20070405452993056
    //   less=0.8991728289011652
    assert_matches(
        counts(7, 3000),
        counts(30, 20000),
        [0.3229754258508436, 0.20070405452993056, 0.8991728289011652],
    );
    // unequal_exposure_low: two_sided=0.17456424491027495 greater=0.9868669091357525
    //   less=0.07420196338299835
    assert_matches(
        counts(1, 3000),
        counts(30, 20000),
        [0.17456424491027495, 0.9868669091357525, 0.07420196338299835],
    );
}

#[test]
fn rate_test_of_exactly_the_expected_split_is_one_two_sided() {
    // exactly_expected: two_sided=1.0 greater=0.623046875 less=0.623046875
    assert_matches(
        counts(5, 1000),
        counts(5, 1000),
        [1.0, 0.623046875, 0.623046875],
    );
}

#[test]
fn rate_test_stays_accurate_with_many_events() {
    // many_events: two_sided=6.593515598672341e-05 greater=3.296757799336171e-05
    //   less=0.999969705391186
    assert_matches(
        counts(5200, 1_000_000),
        counts(4800, 1_000_000),
        [
            6.593515598672341e-05,
            3.296757799336171e-05,
            0.999969705391186,
        ],
    );
    // huge_counts_close: two_sided=0.18043880997509856 greater=0.09021940498754928
    //   less=0.9105059671254987
    assert_matches(
        counts(100_300, 10_000_000),
        counts(99_700, 10_000_000),
        [0.18043880997509856, 0.09021940498754928, 0.9105059671254987],
    );
}

#[test]
fn rate_test_keeps_relative_accuracy_far_in_the_tail() {
    // far_apart: two_sided=1.567901728147051e-38 greater=7.839508640735255e-39 less=1.0
    assert_matches(
        counts(200, 10000),
        counts(20, 10000),
        [1.567901728147051e-38, 7.839508640735255e-39, 1.0],
    );
}

#[test]
fn rate_test_without_any_events_has_p_value_one() {
    for alternative in [TwoSided, Greater, Less] {
        let result = poisson_rate_test(counts(0, 1000), counts(0, 3000), alternative).unwrap();
        assert_eq!(result.p_value, 1.0);
    }
}

#[test]
fn rate_test_needs_exposure_on_both_sides() {
    assert_eq!(
        poisson_rate_test(counts(0, 0), counts(3, 1000), Greater),
        None
    );
    assert_eq!(
        poisson_rate_test(counts(3, 1000), counts(0, 0), Greater),
        None
    );
}

#[test]
fn rate_test_reports_both_rates() {
    let result = poisson_rate_test(counts(12, 10000), counts(5, 10000), Greater).unwrap();
    assert_eq!((result.canary_rate, result.baseline_rate), (0.0012, 0.0005));
}
