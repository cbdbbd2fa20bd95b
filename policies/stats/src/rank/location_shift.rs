//! The Hodges–Lehmann estimate of the shift between two samples: the median
//! of all differences canary − baseline.
//!
//! It is the location shift that goes with the Mann–Whitney test ("the
//! canary is about 12 ms slower"), robust to outliers like the test itself.
//! Forming all n·m differences would need gigabytes for samples of tens of
//! thousands, so the median is found by bisecting over the doubles
//! themselves: the differences x − y of sorted samples form a sorted matrix,
//! in which counting the differences at or below a threshold takes one
//! O(n + m) sweep, and 64 sweeps pin down any double exactly. The result is
//! bit-for-bit the median of the materialized differences.

/// The median of {x − y} over all pairs, for sorted, non-empty, NaN-free
/// samples; NaN when some difference is ∞ − ∞.
pub(super) fn hodges_lehmann(canary: &[f64], baseline: &[f64]) -> f64 {
    let both_have = |value: f64| canary.contains(&value) && baseline.contains(&value);
    if both_have(f64::INFINITY) || both_have(f64::NEG_INFINITY) {
        return f64::NAN;
    }
    let pairs = canary.len() as u64 * baseline.len() as u64;
    let upper_middle = kth_smallest_difference(canary, baseline, pairs / 2 + 1);
    if pairs % 2 == 1 {
        upper_middle
    } else {
        let lower_middle = kth_smallest_difference(canary, baseline, pairs / 2);
        lower_middle / 2.0 + upper_middle / 2.0
    }
}

/// The k-th smallest (1-based) of the computed differences x − y.
fn kth_smallest_difference(canary: &[f64], baseline: &[f64], k: u64) -> f64 {
    let smallest = canary[0] - baseline[baseline.len() - 1];
    let largest = canary[canary.len() - 1] - baseline[0];
    let (mut low, mut high) = (order_key(smallest), order_key(largest));
    // The answer is the least double t with at least k differences ≤ t.
    while low < high {
        let middle = ((i128::from(low) + i128::from(high)).div_euclid(2)) as i64;
        if differences_at_most(canary, baseline, from_order_key(middle)) >= k {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    // Adding +0 turns a −0 (found because −0 ≤ 0) into the +0 it stands for.
    from_order_key(low) + 0.0
}

/// How many x − y are ≤ t. Rounding is monotone, so the computed x − y
/// still rise with x and fall with y: as x grows, the smallest y with
/// x − y ≤ t only moves right, and one sweep counts them all.
fn differences_at_most(canary: &[f64], baseline: &[f64], threshold: f64) -> u64 {
    let mut first_close_enough = 0;
    let mut count = 0;
    for &x in canary {
        while first_close_enough < baseline.len() && x - baseline[first_close_enough] > threshold {
            first_close_enough += 1;
        }
        count += (baseline.len() - first_close_enough) as u64;
    }
    count
}

/// Maps doubles (not NaN) to integers in the same order, so bisection can
/// run over every double between two values.
fn order_key(value: f64) -> i64 {
    let bits = value.to_bits() as i64;
    if bits < 0 { bits ^ i64::MAX } else { bits }
}

fn from_order_key(key: i64) -> f64 {
    f64::from_bits((if key < 0 { key ^ i64::MAX } else { key }) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn materialized_median(canary: &[f64], baseline: &[f64]) -> f64 {
        let mut differences: Vec<f64> = canary
            .iter()
            .flat_map(|x| baseline.iter().map(move |y| x - y))
            .collect();
        differences.sort_by(f64::total_cmp);
        let middle = differences.len() / 2;
        if differences.len() % 2 == 1 {
            differences[middle]
        } else {
            (differences[middle - 1] + differences[middle]) / 2.0
        }
    }

    #[test]
    fn bisection_finds_the_median_of_the_materialized_differences() {
        let canary = [-3.5, -0.0, 0.1, 0.30000000000000004, 2.0, 2.0, 1e-300, 7.25];
        let baseline = [-1e-9, 0.0, 0.2, 0.2, 5.0, 1e10];
        for canary_len in 1..=canary.len() {
            for baseline_len in 1..=baseline.len() {
                let mut x = canary[..canary_len].to_vec();
                let mut y = baseline[..baseline_len].to_vec();
                x.sort_by(f64::total_cmp);
                y.sort_by(f64::total_cmp);
                assert_eq!(
                    hodges_lehmann(&x, &y),
                    materialized_median(&x, &y),
                    "{x:?} {y:?}"
                );
            }
        }
    }

    #[test]
    fn order_keys_follow_numeric_order() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -5e-324,
            -0.0,
            0.0,
            5e-324,
            1.0,
            f64::INFINITY,
        ];
        for pair in values.windows(2) {
            assert!(order_key(pair[0]) < order_key(pair[1]), "{pair:?}");
            assert_eq!(
                from_order_key(order_key(pair[0])).to_bits(),
                pair[0].to_bits()
            );
        }
    }

    #[test]
    fn an_infinite_canary_value_shifts_by_infinity_when_it_is_the_median_pair() {
        assert_eq!(
            hodges_lehmann(&[f64::INFINITY], &[1.0, 2.0, 3.0]),
            f64::INFINITY
        );
        assert_eq!(hodges_lehmann(&[1.0, 5.0, f64::INFINITY], &[1.0]), 4.0);
    }

    #[test]
    fn infinity_minus_infinity_makes_the_shift_undefined() {
        assert!(hodges_lehmann(&[1.0, f64::INFINITY], &[0.0, f64::INFINITY]).is_nan());
    }
}
