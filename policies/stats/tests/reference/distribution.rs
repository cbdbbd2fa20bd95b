//! The distribution functions against `scipy.special` and `scipy.stats`:
//! `erfc`, `norm.sf`/`norm.cdf`, `gammaln`, `betainc`, `f.sf` and
//! `binom.pmf`/`cdf`/`sf`.

use warbler_stats::distribution::{
    binomial_cdf, binomial_pmf, binomial_sf, erfc, f_sf, ln_gamma, normal_cdf, normal_sf,
    regularized_incomplete_beta,
};

use crate::closeness::{REFERENCE, assert_close};

// The tables are the script's `# erfc`, `# normal`, `# ln_gamma`,
// `# regularized_incomplete_beta`, `# f_sf` and `# binomial` sections.

const ERFC: [(f64, f64); 17] = [
    (-3.0, 1.9999779095030015),
    (-1.0, 1.8427007929497148),
    (-0.3, 1.3286267594591274),
    (0.0, 1.0),
    (1e-10, 0.999999999887162),
    (0.2, 0.7772974107895215),
    (0.49, 0.48833173881147696),
    (0.5, 0.4795001221869535),
    (0.7, 0.3221988061625817),
    (1.0, 0.15729920705028516),
    (1.5, 0.03389485352468927),
    (2.0, 0.004677734981047266),
    (3.0, 2.2090496998585445e-05),
    (5.0, 1.5374597944280347e-12),
    (10.0, 2.0884875837625446e-45),
    (20.0, 5.395865611607901e-176),
    (26.0, 5.663192408856145e-296),
];
const NORMAL: [(f64, f64, f64); 9] = [
    (-37.5, 1.0, 4.605353009581954e-308),
    (-5.0, 0.9999997133484281, 2.866515718791933e-07),
    (-1.0, 0.8413447460685429, 0.15865525393145707),
    (0.0, 0.5, 0.5),
    (0.5, 0.3085375387259869, 0.6914624612740131),
    (1.959963984540054, 0.025, 0.975),
    (5.0, 2.866515718791933e-07, 0.9999997133484281),
    (10.0, 7.61985302416047e-24, 1.0),
    (37.5, 4.605353009581954e-308, 1.0),
];
const LN_GAMMA: [(f64, f64); 14] = [
    (1e-08, 18.42068073818021),
    (0.1, 2.252712651734206),
    (0.5, 0.5723649429247),
    (1.0, 0.0),
    (1.5, -0.12078223763524526),
    (2.0, 0.0),
    (2.5, 0.2846828704729192),
    (7.3, 7.147892523022249),
    (14.9, 24.924132002217277),
    (15.0, 25.191221182738683),
    (30.5, 72.9534711841694),
    (171.5, 709.1431630309283),
    (10000.0, 82099.71749644238),
    (100000000.0, 1742068066.1038349),
];
const BETA: [(f64, f64, f64, f64); 9] = [
    (0.5, 0.5, 0.3, 0.36901011956554536),
    (2.0, 3.0, 0.4, 0.5247999999999999),
    (1999.0, 0.5, 0.999, 0.04551375952130189),
    (0.5, 1999.0, 0.001, 0.954486240478698),
    (10.0, 10.0, 0.5, 0.5),
    (50.0, 40.0, 0.2, 6.139715492807344e-14),
    (50.0, 40.0, 0.8, 0.9999999076403454),
    (10000.0, 20000.0, 0.34, 0.9927137480100211),
    (3.0, 1.0, 0.9999, 0.999700029999),
];
const F_SF: [(f64, f64, f64, f64); 5] = [
    (0.5, 1.0, 10.0, 0.49564750438311955),
    (4.0, 1.0, 52.0, 0.05073593476666268),
    (30.0, 1.0, 398.0, 7.672451575842676e-08),
    (200.0, 1.0, 3998.0, 2.408599065526105e-44),
    (2.5, 3.0, 7.0, 0.14350945627893927),
];
const BINOMIAL: [(u64, u64, f64, f64, f64, f64); 8] = [
    (0, 10, 0.3, 0.0282475249, 0.028247524900000005, 0.9717524751),
    (
        3,
        10,
        0.3,
        0.26682793199999977,
        0.6496107184000002,
        0.3503892815999998,
    ),
    (10, 10, 0.3, 5.9048999999999975e-06, 1.0, 0.0),
    (
        7,
        37,
        0.13043478260869565,
        0.0998768834310958,
        0.8991728289011652,
        0.10082717109883477,
    ),
    (
        150,
        1000,
        0.1,
        1.7150019584540102e-07,
        0.9999997225559099,
        2.7744409009959534e-07,
    ),
    (
        5200,
        10000,
        0.5,
        2.6729691794217735e-06,
        0.999969705391186,
        3.029460881394055e-05,
    ),
    (
        90,
        100,
        0.5,
        1.3655426387463189e-17,
        1.0,
        1.6610244897268262e-18,
    ),
    (
        1,
        1000,
        1e-05,
        0.009900596848431975,
        0.9999503810947795,
        4.9618905220455274e-05,
    ),
];

#[test]
fn erfc_matches_scipy_from_negative_arguments_to_the_underflow() {
    for (x, expected) in ERFC {
        assert_close(erfc(x), expected, REFERENCE);
    }
}

#[test]
fn normal_tails_match_scipy_down_to_1e_minus_308() {
    for (z, sf, cdf) in NORMAL {
        assert_close(normal_sf(z), sf, REFERENCE);
        assert_close(normal_cdf(z), cdf, REFERENCE);
    }
}

#[test]
fn ln_gamma_matches_scipy_in_absolute_terms_near_its_zeros() {
    // Callers exponentiate differences of ln Γ, so its absolute error is the
    // relative error they see; near Γ's zeros at 1 and 2 a relative
    // comparison against 0.0 would demand the impossible.
    for (x, expected) in LN_GAMMA {
        let error = (ln_gamma(x) - expected).abs();
        assert!(
            error <= 1e-13 * expected.abs().max(1.0),
            "ln_gamma({x}) off by {error:e}"
        );
    }
}

#[test]
fn regularized_incomplete_beta_matches_scipy_in_both_tails() {
    for (a, b, x, expected) in BETA {
        assert_close(regularized_incomplete_beta(a, b, x), expected, REFERENCE);
    }
}

#[test]
fn f_sf_matches_scipy_down_to_tiny_tails() {
    for (f, dfn, dfd, expected) in F_SF {
        assert_close(f_sf(f, dfn, dfd), expected, REFERENCE);
    }
}

#[test]
fn binomial_functions_match_scipy() {
    for (k, n, p, pmf, cdf, sf) in BINOMIAL {
        assert_close(binomial_pmf(k, n, p), pmf, REFERENCE);
        assert_close(binomial_cdf(k, n, p), cdf, REFERENCE);
        assert_close(binomial_sf(k, n, p), sf, REFERENCE);
    }
}
