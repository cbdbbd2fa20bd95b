//! `scipy.stats.mannwhitneyu(canary, baseline, alternative=…,
//! use_continuity=True, method=…)`; the shift against
//! `numpy.median(numpy.subtract.outer(canary, baseline))`.

use warbler_stats::{Alternative, MannWhitney, PValueMethod, mann_whitney, mann_whitney_using};

use crate::closeness::{REFERENCE, assert_close};
use crate::samples::*;

/// One line of the script's `# mann_whitney` section.
struct Scipy {
    u: f64,
    p_value: f64,
    hodges_lehmann: f64,
    method: PValueMethod,
}

#[track_caller]
fn assert_matches(actual: Option<MannWhitney>, expected: Scipy) {
    let actual = actual.expect("both samples have values");
    assert_eq!(
        actual.u, expected.u,
        "U is a count of pairs, exact in doubles"
    );
    assert_close(actual.p_value, expected.p_value, REFERENCE);
    // The shift is an order statistic of the same computed differences.
    assert_eq!(actual.hodges_lehmann, expected.hodges_lehmann);
    assert_eq!(actual.method, expected.method);
}

use Alternative::{Greater, Less, TwoSided};
use PValueMethod::{Asymptotic, Exact};

#[test]
fn mann_whitney_matches_scipy_exact_on_its_documentation_example() {
    // doc_exact_two_sided: u=17.0 p_value=0.1111111111111111 hodges_lehmann=7.0 method=exact
    assert_matches(
        mann_whitney(&DOC_MALES, &DOC_FEMALES, TwoSided),
        Scipy {
            u: 17.0,
            p_value: 0.1111111111111111,
            hodges_lehmann: 7.0,
            method: Exact,
        },
    );
    // doc_exact_less: u=3.0 p_value=0.05555555555555555 hodges_lehmann=-7.0 method=exact
    assert_matches(
        mann_whitney(&DOC_FEMALES, &DOC_MALES, Less),
        Scipy {
            u: 3.0,
            p_value: 0.05555555555555555,
            hodges_lehmann: -7.0,
            method: Exact,
        },
    );
}

#[test]
fn mann_whitney_forced_asymptotic_matches_scipy_with_continuity_correction() {
    // doc_asymptotic_two_sided: u=17.0 p_value=0.11134688653314041 hodges_lehmann=7.0
    assert_matches(
        mann_whitney_using(&DOC_MALES, &DOC_FEMALES, TwoSided, Asymptotic),
        Scipy {
            u: 17.0,
            p_value: 0.11134688653314041,
            hodges_lehmann: 7.0,
            method: Asymptotic,
        },
    );
}

#[test]
fn mann_whitney_matches_scipy_on_small_tied_samples() {
    // Ties make SciPy's automatic choice asymptotic despite 7 and 6 values.
    // small_tied_two_sided: u=8.5 p_value=0.07826242947714618 hodges_lehmann=-1.0 method=asymptotic
    assert_matches(
        mann_whitney(&SMALL_TIED_X, &SMALL_TIED_Y, TwoSided),
        Scipy {
            u: 8.5,
            p_value: 0.07826242947714618,
            hodges_lehmann: -1.0,
            method: Asymptotic,
        },
    );
    // small_tied_less: u=8.5 p_value=0.03913121473857309 hodges_lehmann=-1.0 method=asymptotic
    assert_matches(
        mann_whitney(&SMALL_TIED_X, &SMALL_TIED_Y, Less),
        Scipy {
            u: 8.5,
            p_value: 0.03913121473857309,
            hodges_lehmann: -1.0,
            method: Asymptotic,
        },
    );
}

#[test]
fn mann_whitney_matches_scipy_on_latencies_for_each_alternative() {
    let hodges_lehmann = 13.700000000000017;
    let test = |alternative| mann_whitney(&LATENCY_CANARY, &LATENCY_BASELINE, alternative);
    // latency_two_sided: u=465.0 p_value=0.06887326746079242
    // latency_greater: u=465.0 p_value=0.03443663373039621
    // latency_less: u=465.0 p_value=0.9668698957939533
    for (alternative, p_value) in [
        (TwoSided, 0.06887326746079242),
        (Greater, 0.03443663373039621),
        (Less, 0.9668698957939533),
    ] {
        assert_matches(
            test(alternative),
            Scipy {
                u: 465.0,
                p_value,
                hodges_lehmann,
                method: Asymptotic,
            },
        );
    }
}

#[test]
fn mann_whitney_matches_scipy_on_shifted_samples_of_200() {
    let hodges_lehmann = 4.656856309731559;
    // shifted_two_sided: u=24570.0 p_value=7.738235728477039e-05
    assert_matches(
        mann_whitney(&shifted_canary(), &shifted_baseline(), TwoSided),
        Scipy {
            u: 24570.0,
            p_value: 7.738235728477039e-05,
            hodges_lehmann,
            method: Asymptotic,
        },
    );
    // shifted_greater: u=24570.0 p_value=3.869117864238519e-05
    assert_matches(
        mann_whitney(&shifted_canary(), &shifted_baseline(), Greater),
        Scipy {
            u: 24570.0,
            p_value: 3.869117864238519e-05,
            hodges_lehmann,
            method: Asymptotic,
        },
    );
}

#[test]
fn mann_whitney_matches_scipy_on_whole_numbers_full_of_ties() {
    // whole_two_sided: u=20839.5 p_value=0.46787698667536004 hodges_lehmann=1.0
    assert_matches(
        mann_whitney(&whole_canary(), &whole_baseline(), TwoSided),
        Scipy {
            u: 20839.5,
            p_value: 0.46787698667536004,
            hodges_lehmann: 1.0,
            method: Asymptotic,
        },
    );
    // whole_greater: u=20839.5 p_value=0.23393849333768002 hodges_lehmann=1.0
    assert_matches(
        mann_whitney(&whole_canary(), &whole_baseline(), Greater),
        Scipy {
            u: 20839.5,
            p_value: 0.23393849333768002,
            hodges_lehmann: 1.0,
            method: Asymptotic,
        },
    );
}

#[test]
fn mann_whitney_stays_accurate_with_2000_values_per_side() {
    // large_two_sided: u=2042440.0 p_value=0.24519146848456552 hodges_lehmann=0.8805306349775606
    assert_matches(
        mann_whitney(&large_canary(), &large_baseline(), TwoSided),
        Scipy {
            u: 2042440.0,
            p_value: 0.24519146848456552,
            hodges_lehmann: 0.8805306349775606,
            method: Asymptotic,
        },
    );
    // large_whole_greater: u=2006678.0 p_value=0.4274526500735311 hodges_lehmann=0.0
    assert_matches(
        mann_whitney(&large_whole_canary(), &large_whole_baseline(), Greater),
        Scipy {
            u: 2006678.0,
            p_value: 0.4274526500735311,
            hodges_lehmann: 0.0,
            method: Asymptotic,
        },
    );
}

#[test]
fn mann_whitney_is_exact_when_a_side_has_at_most_8_values_and_nothing_ties() {
    // tiny_exact_two_sided: u=128.0 p_value=0.03910185264236319 hodges_lehmann=18.567890398639015
    // tiny_exact_greater: u=128.0 p_value=0.019550926321181595
    for (alternative, p_value) in [
        (TwoSided, 0.03910185264236319),
        (Greater, 0.019550926321181595),
    ] {
        assert_matches(
            mann_whitney(&tiny_canary(), &medium_baseline(), alternative),
            Scipy {
                u: 128.0,
                p_value,
                hodges_lehmann: 18.567890398639015,
                method: Exact,
            },
        );
    }
    // eight_exact_two_sided: u=45.0 p_value=0.19487179487179485 hodges_lehmann=9.03796062865181
    // eight_exact_less: u=45.0 p_value=0.9197358197358197
    for (alternative, p_value) in [(TwoSided, 0.19487179487179485), (Less, 0.9197358197358197)] {
        assert_matches(
            mann_whitney(&eight_canary(), &eight_baseline(), alternative),
            Scipy {
                u: 45.0,
                p_value,
                hodges_lehmann: 9.03796062865181,
                method: Exact,
            },
        );
    }
}

#[test]
fn mann_whitney_is_asymptotic_once_both_sides_have_more_than_8_values() {
    // nine_each_auto: u=60.0 p_value=0.0933976745287926 hodges_lehmann=9.025581203026334
    //   method=asymptotic
    assert_matches(
        mann_whitney(&nine_canary(), &nine_baseline(), TwoSided),
        Scipy {
            u: 60.0,
            p_value: 0.0933976745287926,
            hodges_lehmann: 9.025581203026334,
            method: Asymptotic,
        },
    );
}

#[test]
fn mann_whitney_forced_exact_with_ties_rounds_u_down_as_scipy_does() {
    // small_tied_forced_exact: u=8.5 p_value=0.10139860139860139 hodges_lehmann=-1.0
    assert_matches(
        mann_whitney_using(&SMALL_TIED_X, &SMALL_TIED_Y, TwoSided, Exact),
        Scipy {
            u: 8.5,
            p_value: 0.10139860139860139,
            hodges_lehmann: -1.0,
            method: Exact,
        },
    );
}

#[test]
fn mann_whitney_exact_handles_a_thousand_values_against_five() {
    // five_against_thousand_exact: u=4983.0 p_value=1.4848014358528232e-10
    //   hodges_lehmann=33.82285277855133 method=exact
    assert_matches(
        mann_whitney(&five_canary(), &thousand_baseline(), TwoSided),
        Scipy {
            u: 4983.0,
            p_value: 1.4848014358528232e-10,
            hodges_lehmann: 33.82285277855133,
            method: Exact,
        },
    );
}

#[test]
fn mann_whitney_forced_exact_matches_scipy_beyond_128_bit_counts() {
    // C(140, 70) ≈ 9e40 overflows i128, so the counts are doubles here.
    // seventy_forced_exact: u=2797.0 p_value=0.14912465870455405 hodges_lehmann=2.6975574210993045
    // seventy_forced_exact_greater: u=2797.0 p_value=0.07456232935227702
    for (alternative, p_value) in [
        (TwoSided, 0.14912465870455405),
        (Greater, 0.07456232935227702),
    ] {
        assert_matches(
            mann_whitney_using(&seventy_canary(), &seventy_baseline(), alternative, Exact),
            Scipy {
                u: 2797.0,
                p_value,
                hodges_lehmann: 2.6975574210993045,
                method: Exact,
            },
        );
    }
}

#[test]
fn mann_whitney_keeps_relative_accuracy_for_complete_separation() {
    // separated_exact_greater: u=64.0 p_value=7.77000777000777e-05 hodges_lehmann=9.0
    // separated_exact_two_sided: u=64.0 p_value=0.0001554001554001554
    for (alternative, p_value) in [
        (Greater, 7.77000777000777e-05),
        (TwoSided, 0.0001554001554001554),
    ] {
        assert_matches(
            mann_whitney(&SEPARATED_HIGH, &SEPARATED_LOW, alternative),
            Scipy {
                u: 64.0,
                p_value,
                hodges_lehmann: 9.0,
                method: Exact,
            },
        );
    }
    // far_greater: u=40000.0 p_value=2.4154281951986995e-67 hodges_lehmann=57.68977810044766
    // far_two_sided: u=40000.0 p_value=4.830856390397399e-67
    for (alternative, p_value) in [
        (Greater, 2.4154281951986995e-67),
        (TwoSided, 4.830856390397399e-67),
    ] {
        assert_matches(
            mann_whitney(&far_canary(), &far_baseline(), alternative),
            Scipy {
                u: 40000.0,
                p_value,
                hodges_lehmann: 57.68977810044766,
                method: Asymptotic,
            },
        );
    }
}

#[test]
fn mann_whitney_of_all_tied_values_has_p_value_one() {
    // all_tied: u=6.0 p_value=1.0 hodges_lehmann=0.0 method=asymptotic
    assert_matches(
        mann_whitney(&ALL_TIED_X, &ALL_TIED_Y, TwoSided),
        Scipy {
            u: 6.0,
            p_value: 1.0,
            hodges_lehmann: 0.0,
            method: Asymptotic,
        },
    );
}

#[test]
fn mann_whitney_matches_scipy_with_one_constant_side() {
    // one_side_constant: u=12.5 p_value=0.6904870986800646 hodges_lehmann=-0.5
    assert_matches(
        mann_whitney(&CONSTANT, &SPREAD, TwoSided),
        Scipy {
            u: 12.5,
            p_value: 0.6904870986800646,
            hodges_lehmann: -0.5,
            method: Asymptotic,
        },
    );
}

#[test]
fn mann_whitney_of_identical_samples_has_p_value_one() {
    // identical: u=450.0 p_value=1.0 hodges_lehmann=0.0 method=asymptotic
    assert_matches(
        mann_whitney(&LATENCY_BASELINE, &LATENCY_BASELINE, TwoSided),
        Scipy {
            u: 450.0,
            p_value: 1.0,
            hodges_lehmann: 0.0,
            method: Asymptotic,
        },
    );
}

#[test]
fn mann_whitney_drops_nan_as_scipy_does_with_nan_policy_omit() {
    // latency_with_nan: u=465.0 p_value=0.06887326746079242 hodges_lehmann=13.700000000000017
    let result = mann_whitney(
        &latency_canary_with_nan(),
        &latency_baseline_with_nan(),
        TwoSided,
    );
    assert_matches(
        result,
        Scipy {
            u: 465.0,
            p_value: 0.06887326746079242,
            hodges_lehmann: 13.700000000000017,
            method: Asymptotic,
        },
    );
    let result = result.unwrap();
    assert_eq!((result.canary_count, result.baseline_count), (24, 30));
}

#[test]
fn mann_whitney_of_an_empty_side_is_none() {
    assert_eq!(mann_whitney(&[], &LATENCY_BASELINE, TwoSided), None);
    assert_eq!(mann_whitney(&LATENCY_CANARY, &[], TwoSided), None);
    assert_eq!(
        mann_whitney(&[f64::NAN, f64::NAN], &LATENCY_BASELINE, Greater),
        None
    );
}

#[test]
fn probability_of_superiority_is_u_over_the_number_of_pairs() {
    let separated = mann_whitney(&SEPARATED_HIGH, &SEPARATED_LOW, Greater).unwrap();
    assert_eq!(separated.probability_of_superiority(), 1.0);
    let identical = mann_whitney(&LATENCY_BASELINE, &LATENCY_BASELINE, TwoSided).unwrap();
    assert_eq!(identical.probability_of_superiority(), 0.5);
}
