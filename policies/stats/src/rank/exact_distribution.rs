//! The exact null distribution of the Mann–Whitney U statistic without ties.
//!
//! Under the null hypothesis every way of choosing which m of the m + n
//! ranks belong to the first sample is equally likely, and the number of
//! ways that give U = u is the coefficient of qᵘ in the Gaussian binomial
//! coefficient [m+n choose m]_q = Π_{i=1..m} (1 − q^(n+i)) / (1 − q^i).
//! Multiplying by each (1 − q^(n+i)) and dividing by each (1 − q^i) is one
//! pass over the coefficients, so the distribution up to degree d costs
//! O(min(m, n)·d) additions — with the smaller sample at most 8 (when the
//! automatic choice picks this method) that is linear in the larger one.
//!
//! Counts are exact 128-bit integers while C(m+n, m) fits in one; beyond
//! that (a forced exact test of two samples of more than about 65 values
//! each, or up to 8 values against a few hundred thousand) they are
//! doubles, whose rounding is relative and far below what a p-value needs.

use std::ops::{AddAssign, Sub, SubAssign};

/// P(U ≥ u) for a sample of m values against one of n, no ties.
pub(super) fn upper_tail(u: u64, m: usize, n: usize) -> f64 {
    let (smaller, larger) = (m.min(n) as u64, m.max(n) as u64);
    let pairs = smaller * larger;
    if u == 0 {
        return 1.0;
    }
    if u > pairs {
        return 0.0;
    }
    // U is symmetric about pairs/2, so P(U ≥ u) = P(U ≤ pairs − u); sum the
    // counts on whichever side of the middle is shorter.
    let mirrored = pairs - u;
    let tail = if mirrored < u {
        Tail::AtMost(mirrored)
    } else {
        Tail::NotAtMost(u - 1)
    };
    match exact_total(smaller, larger) {
        Some(total) => tail_probability(smaller, larger, tail, total),
        None => tail_probability(smaller, larger, tail, approximate_total(smaller, larger)),
    }
}

/// Which sum of counts, out of the total, is the wanted probability.
#[derive(Clone, Copy)]
enum Tail {
    /// P(U ≤ k).
    AtMost(u64),
    /// P(U > k) = 1 − P(U ≤ k), formed from counts so nothing cancels.
    NotAtMost(u64),
}

/// An exact integer count, or a double standing in for one.
trait Count: Copy + AddAssign + SubAssign + Sub<Output = Self> + From<u8> {
    fn to_f64(self) -> f64;
}

impl Count for i128 {
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Count for f64 {
    fn to_f64(self) -> f64 {
        self
    }
}

fn tail_probability<C: Count>(smaller: u64, larger: u64, tail: Tail, total: C) -> f64 {
    let (Tail::AtMost(last) | Tail::NotAtMost(last)) = tail;
    let mut at_most = C::from(0);
    for count in counts_up_to::<C>(smaller, larger, last as usize) {
        at_most += count;
    }
    let favourable = match tail {
        Tail::AtMost(_) => at_most,
        Tail::NotAtMost(_) => total - at_most,
    };
    favourable.to_f64() / total.to_f64()
}

/// The number of rank assignments giving U = 0, 1, …, degree.
fn counts_up_to<C: Count>(smaller: u64, larger: u64, degree: usize) -> Vec<C> {
    let mut counts = vec![C::from(0); degree + 1];
    counts[0] = C::from(1);
    for i in 1..=smaller as usize {
        let dropped = larger as usize + i;
        // × (1 − q^(larger+i)), from the top so each term uses old values.
        for k in (dropped..=degree).rev() {
            let earlier = counts[k - dropped];
            counts[k] -= earlier;
        }
        // ÷ (1 − q^i), i.e. × (1 + q^i + q^2i + …): running sums with stride i.
        for k in i..=degree {
            let earlier = counts[k - i];
            counts[k] += earlier;
        }
    }
    counts
}

/// C(larger + smaller, smaller) if it fits in an i128, which bounds every
/// intermediate count as well.
fn exact_total(smaller: u64, larger: u64) -> Option<i128> {
    let mut total: i128 = 1;
    for i in 1..=smaller {
        total = total.checked_mul(i128::from(larger + i))? / i128::from(i);
    }
    Some(total)
}

fn approximate_total(smaller: u64, larger: u64) -> f64 {
    (1..=smaller).fold(1.0, |total, i| total * (larger + i) as f64 / i as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_the_number_of_rank_assignments() {
        // m = 2, n = 3: the 10 ways give U = 0,1,2,2,3,3,4,4,5,6.
        let counts = counts_up_to::<i128>(2, 3, 6);
        assert_eq!(counts, vec![1, 1, 2, 2, 2, 1, 1]);
    }

    #[test]
    fn double_counts_agree_with_exact_counts() {
        let total = exact_total(8, 400).unwrap();
        for last in [0, 5, 300, 1600] {
            let exact = tail_probability(8, 400, Tail::AtMost(last), total);
            let double = tail_probability(8, 400, Tail::AtMost(last), approximate_total(8, 400));
            assert!(
                ((double - exact) / exact).abs() < 1e-13,
                "{last}: {double} {exact}"
            );
        }
    }

    #[test]
    fn upper_tail_at_the_ends() {
        assert_eq!(upper_tail(0, 4, 5), 1.0);
        assert_eq!(upper_tail(21, 4, 5), 0.0);
        assert_eq!(upper_tail(20, 4, 5), 1.0 / 126.0);
    }

    #[test]
    fn exact_total_declines_when_the_count_would_overflow() {
        assert_eq!(exact_total(3, 7), Some(120));
        assert!(exact_total(70, 70).is_none());
    }
}
