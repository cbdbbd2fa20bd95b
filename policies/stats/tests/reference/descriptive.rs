//! `numpy.mean`, `numpy.var(ddof=1)`, `numpy.median`, `numpy.quantile`
//! (`method="linear"`) and `scipy.stats.iqr`; the NaN variants `nanmean`,
//! `nanvar`, `nanmedian`, `nanquantile`.

use warbler_stats::{interquartile_range, mean, median, quantile, variance};

use crate::closeness::{REFERENCE, assert_close};
use crate::samples::*;

#[test]
fn mean_variance_and_median_match_numpy() {
    // latency_canary: mean=138.15416666666667 variance=1163.3373731884058 median=133.35
    // latency_baseline: mean=122.34333333333333 variance=818.6784022988506 median=115.95
    // large_canary: mean=250.37199317037084 variance=530.3390451294392 median=250.39759742733435
    // small_tied_x: mean=2.5714285714285716 variance=0.9523809523809526 median=3.0
    let cases: [(&[f64], f64, f64, f64); 4] = [
        (
            &LATENCY_CANARY,
            138.15416666666667,
            1163.3373731884058,
            133.35,
        ),
        (
            &LATENCY_BASELINE,
            122.34333333333333,
            818.6784022988506,
            115.95,
        ),
        (
            &large_canary(),
            250.37199317037084,
            530.3390451294392,
            250.39759742733435,
        ),
        (&SMALL_TIED_X, 2.5714285714285716, 0.9523809523809526, 3.0),
    ];
    for (values, expected_mean, expected_variance, expected_median) in cases {
        assert_close(mean(values).unwrap(), expected_mean, REFERENCE);
        assert_close(variance(values).unwrap(), expected_variance, REFERENCE);
        assert_eq!(median(values).unwrap(), expected_median);
    }
}

#[test]
fn descriptive_statistics_ignore_nan_like_numpys_nan_functions() {
    // latency_canary_with_nan: mean=138.1541666666667 variance=1163.337373188406
    //   median=133.35 q0.9=164.3
    let values = latency_canary_with_nan();
    assert_close(mean(&values).unwrap(), 138.1541666666667, REFERENCE);
    assert_close(variance(&values).unwrap(), 1163.337373188406, REFERENCE);
    assert_eq!(median(&values), Some(133.35));
    assert_eq!(quantile(&values, 0.9), Some(164.3));
}

#[test]
fn quantile_matches_numpy_linear_interpolation() {
    let levels = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0];
    // latency_canary: q0.0=87.4 q0.01=87.53800000000001 q0.1=102.83 q0.25=117.425 q0.5=133.35
    //   q0.75=159.475 q0.9=164.3 q0.95=191.07499999999993 q0.99=227.447 q1.0=236.9
    // latency_baseline: q0.0=74.6 q0.01=77.384 q0.1=91.74 q0.25=100.85000000000001 q0.5=115.95
    //   q0.75=141.25 q0.9=163.72000000000003 q0.95=173.82499999999996 q0.99=181.272 q1.0=182.2
    // large_whole_canary: q0.0=186.0 q0.01=198.0 q0.1=219.9 q0.25=233.0 q0.5=250.0 q0.75=266.0
    //   q0.9=281.0 q0.95=287.04999999999995 q0.99=300.0 q1.0=321.0
    let cases: [(&[f64], [f64; 10]); 3] = [
        (
            &LATENCY_CANARY,
            [
                87.4,
                87.53800000000001,
                102.83,
                117.425,
                133.35,
                159.475,
                164.3,
                191.07499999999993,
                227.447,
                236.9,
            ],
        ),
        (
            &LATENCY_BASELINE,
            [
                74.6,
                77.384,
                91.74,
                100.85000000000001,
                115.95,
                141.25,
                163.72000000000003,
                173.82499999999996,
                181.272,
                182.2,
            ],
        ),
        (
            &large_whole_canary(),
            [
                186.0,
                198.0,
                219.9,
                233.0,
                250.0,
                266.0,
                281.0,
                287.04999999999995,
                300.0,
                321.0,
            ],
        ),
    ];
    for (values, expected) in cases {
        for (q, expected) in levels.into_iter().zip(expected) {
            assert_close(quantile(values, q).unwrap(), expected, REFERENCE);
        }
    }
}

#[test]
fn interquartile_range_matches_scipy() {
    // latency_canary: iqr=42.05
    // latency_baseline: iqr=40.39999999999999
    // wide_canary: iqr=22.458651158078155
    // shifted_baseline: iqr=15.307284850428161
    assert_close(
        interquartile_range(&LATENCY_CANARY).unwrap(),
        42.05,
        REFERENCE,
    );
    assert_close(
        interquartile_range(&LATENCY_BASELINE).unwrap(),
        40.39999999999999,
        REFERENCE,
    );
    assert_close(
        interquartile_range(&wide_canary()).unwrap(),
        22.458651158078155,
        REFERENCE,
    );
    assert_close(
        interquartile_range(&shifted_baseline()).unwrap(),
        15.307284850428161,
        REFERENCE,
    );
}
