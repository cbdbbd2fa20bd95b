//! The pooled two-proportion z-test: z written out by hand in the script
//! (statsmodels' `proportions_ztest` formula), p from `scipy.stats.norm`.

use warbler_stats::Alternative::{Greater, Less, TwoSided};
use warbler_stats::{Counts, two_proportion_z_test};

use crate::closeness::{REFERENCE, assert_close};

fn counts(events: u64, trials: u64) -> Counts {
    Counts { events, trials }
}

/// z and the (two-sided, greater, less) p-values of one script line.
#[track_caller]
fn assert_matches(canary: Counts, baseline: Counts, z: f64, [two_sided, greater, less]: [f64; 3]) {
    for (alternative, p_value) in [(TwoSided, two_sided), (Greater, greater), (Less, less)] {
        let result = two_proportion_z_test(canary, baseline, alternative).expect("valid counts");
        assert_close(result.z, z, REFERENCE);
        assert_close(result.p_value, p_value, REFERENCE);
    }
}

#[test]
fn z_test_matches_the_textbook_formula_for_a_few_errors() {
    // few_errors: z=1.705011136760262 two_sided=0.08819234739385542 greater=0.04409617369692771
    //   less=0.9559038263030722
    assert_matches(
        counts(12, 1000),
        counts(5, 1000),
        1.705011136760262,
        [0.08819234739385542, 0.04409617369692771, 0.9559038263030722],
    );
}

#[test]
fn z_test_matches_the_textbook_formula_when_the_canary_has_no_errors() {
    // no_canary_errors: z=-1.4656833601216488 two_sided=0.14273456944848503
    //   greater=0.9286327152757575 less=0.07136728472424252
    assert_matches(
        counts(0, 500),
        counts(3, 700),
        -1.4656833601216488,
        [0.14273456944848503, 0.9286327152757575, 0.07136728472424252],
    );
}

#[test]
fn z_test_keeps_relative_accuracy_far_in_the_tail() {
    // many_errors: z=10.423374567935184 two_sided=1.9394706167745061e-25
    //   greater=9.697353083872531e-26 less=1.0
    assert_matches(
        counts(150, 1000),
        counts(20, 1000),
        10.423374567935184,
        [1.9394706167745061e-25, 9.697353083872531e-26, 1.0],
    );
    // far_apart: z=10.232890201933017 two_sided=1.4124006059592279e-24
    //   greater=7.0620030297961395e-25 less=1.0
    assert_matches(
        counts(600, 10000),
        counts(300, 10000),
        10.232890201933017,
        [1.4124006059592279e-24, 7.0620030297961395e-25, 1.0],
    );
}

#[test]
fn z_test_of_equal_proportions_is_zero() {
    // equal_proportions: z=0.0 two_sided=1.0 greater=0.5 less=0.5
    assert_matches(counts(10, 1000), counts(20, 2000), 0.0, [1.0, 0.5, 0.5]);
}

#[test]
fn z_test_without_any_events_has_p_value_one_where_statsmodels_has_nan() {
    for alternative in [TwoSided, Greater, Less] {
        let result = two_proportion_z_test(counts(0, 1000), counts(0, 2000), alternative).unwrap();
        assert_eq!((result.z, result.p_value), (0.0, 1.0));
    }
}

#[test]
fn z_test_rejects_empty_sides_and_more_events_than_trials() {
    assert_eq!(
        two_proportion_z_test(counts(0, 0), counts(1, 10), TwoSided),
        None
    );
    assert_eq!(
        two_proportion_z_test(counts(11, 10), counts(1, 10), TwoSided),
        None
    );
}

#[test]
fn z_test_reports_both_proportions() {
    let result = two_proportion_z_test(counts(12, 1000), counts(5, 1000), Greater).unwrap();
    assert_eq!(
        (result.canary_proportion, result.baseline_proportion),
        (0.012, 0.005)
    );
}
