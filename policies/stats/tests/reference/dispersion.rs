//! `scipy.stats.levene(canary, baseline, center="median")`, and the ratio
//! of `scipy.stats.iqr` values.

use warbler_stats::{BrownForsythe, brown_forsythe, iqr_ratio};

use crate::closeness::{REFERENCE, assert_close};
use crate::samples::*;

#[track_caller]
fn assert_matches(actual: Option<BrownForsythe>, statistic: f64, p_value: f64) {
    let actual = actual.expect("enough values for the test");
    assert_close(actual.statistic, statistic, REFERENCE);
    assert_close(actual.p_value, p_value, REFERENCE);
}

#[test]
fn brown_forsythe_matches_scipy_on_latencies() {
    // latency: statistic=0.4713571782305631 p_value=0.4954137237164957
    assert_matches(
        brown_forsythe(&LATENCY_CANARY, &LATENCY_BASELINE),
        0.4713571782305631,
        0.4954137237164957,
    );
}

#[test]
fn brown_forsythe_sees_a_wider_canary_among_200_values() {
    // wide: statistic=26.793024863378367 p_value=3.600649516753256e-07
    assert_matches(
        brown_forsythe(&wide_canary(), &shifted_baseline()),
        26.793024863378367,
        3.600649516753256e-07,
    );
}

#[test]
fn brown_forsythe_matches_scipy_on_tied_samples() {
    // whole: statistic=4.456385543897924 p_value=0.03539406895484997
    assert_matches(
        brown_forsythe(&whole_canary(), &whole_baseline()),
        4.456385543897924,
        0.03539406895484997,
    );
    // small_tied: statistic=0.08043287510968124 p_value=0.7819784096745056
    assert_matches(
        brown_forsythe(&SMALL_TIED_X, &SMALL_TIED_Y),
        0.08043287510968124,
        0.7819784096745056,
    );
}

#[test]
fn brown_forsythe_stays_accurate_with_2000_values_per_side() {
    // large: statistic=1.2736965721404296 p_value=0.25914206574988563
    assert_matches(
        brown_forsythe(&large_canary(), &large_baseline()),
        1.2736965721404296,
        0.25914206574988563,
    );
    // large_whole: statistic=0.17897671318709443 p_value=0.6722768699307216
    assert_matches(
        brown_forsythe(&large_whole_canary(), &large_whole_baseline()),
        0.17897671318709443,
        0.6722768699307216,
    );
}

#[test]
fn brown_forsythe_keeps_relative_accuracy_for_far_apart_spreads() {
    // far_apart_spreads: statistic=359.5551041282165 p_value=1.366646776275049e-57
    assert_matches(
        brown_forsythe(&wide_far_canary(), &narrow_baseline()),
        359.5551041282165,
        1.366646776275049e-57,
    );
}

#[test]
fn brown_forsythe_matches_scipy_with_one_constant_side() {
    // one_side_constant: statistic=13.806818181818183 p_value=0.0048020585578057275
    assert_matches(
        brown_forsythe(&CONSTANT, &SPREAD),
        13.806818181818183,
        0.0048020585578057275,
    );
}

#[test]
fn brown_forsythe_of_identical_samples_has_p_value_one() {
    // identical: statistic=0.0 p_value=1.0
    assert_matches(
        brown_forsythe(&LATENCY_BASELINE, &LATENCY_BASELINE),
        0.0,
        1.0,
    );
}

#[test]
fn brown_forsythe_drops_nan_as_scipy_does_with_nan_policy_omit() {
    // latency_with_nan: statistic=0.4713571782305631 p_value=0.4954137237164957
    assert_matches(
        brown_forsythe(&latency_canary_with_nan(), &latency_baseline_with_nan()),
        0.4713571782305631,
        0.4954137237164957,
    );
}

#[test]
fn brown_forsythe_accepts_a_single_canary_value() {
    // single_canary_value: statistic=0.9999999999999999 p_value=0.42264973081037427
    assert_matches(
        brown_forsythe(&[5.0], &[1.0, 2.0, 3.0]),
        0.9999999999999999,
        0.42264973081037427,
    );
}

#[test]
fn brown_forsythe_of_two_constant_samples_has_p_value_one_where_scipy_has_nan() {
    let result = brown_forsythe(&[2.0, 2.0, 2.0], &[7.0; 4]).unwrap();
    assert_eq!(
        result,
        BrownForsythe {
            statistic: 0.0,
            p_value: 1.0
        }
    );
}

#[test]
fn brown_forsythe_with_spread_against_none_has_p_value_zero_as_in_scipy() {
    // scipy.stats.levene([0.0, 2.0], [5.0, 5.0], center="median") → (inf, 0.0)
    let result = brown_forsythe(&[0.0, 2.0], &[5.0, 5.0]).unwrap();
    assert_eq!(
        result,
        BrownForsythe {
            statistic: f64::INFINITY,
            p_value: 0.0
        }
    );
}

#[test]
fn brown_forsythe_needs_a_value_on_each_side_and_three_in_all() {
    assert_eq!(brown_forsythe(&[], &LATENCY_BASELINE), None);
    assert_eq!(brown_forsythe(&LATENCY_CANARY, &[f64::NAN]), None);
    assert_eq!(brown_forsythe(&[1.0], &[2.0]), None);
}

#[test]
fn iqr_ratio_is_the_ratio_of_scipys_interquartile_ranges() {
    // latency_canary: iqr=42.05; latency_baseline: iqr=40.39999999999999
    assert_close(
        iqr_ratio(&LATENCY_CANARY, &LATENCY_BASELINE).unwrap(),
        42.05 / 40.39999999999999,
        REFERENCE,
    );
    // wide_canary: iqr=22.458651158078155; shifted_baseline: iqr=15.307284850428161
    assert_close(
        iqr_ratio(&wide_canary(), &shifted_baseline()).unwrap(),
        22.458651158078155 / 15.307284850428161,
        REFERENCE,
    );
}

#[test]
fn iqr_ratio_of_two_zero_ranges_is_one_and_of_a_zero_baseline_range_infinite() {
    assert_eq!(iqr_ratio(&[2.0; 3], &[7.0; 4]), Some(1.0));
    assert_eq!(iqr_ratio(&SPREAD, &CONSTANT), Some(f64::INFINITY));
    assert_eq!(iqr_ratio(&CONSTANT, &SPREAD), Some(0.0));
}

#[test]
fn iqr_ratio_of_an_empty_side_is_none() {
    assert_eq!(iqr_ratio(&[], &SPREAD), None);
    assert_eq!(iqr_ratio(&SPREAD, &[f64::NAN]), None);
}
