//! The samples of tests/tools/stats_reference.py, value for value.

/// The example in `scipy.stats.mannwhitneyu`'s documentation (ages at
/// diagnosis, no ties).
pub const DOC_MALES: [f64; 5] = [19.0, 22.0, 16.0, 29.0, 24.0];
pub const DOC_FEMALES: [f64; 4] = [20.0, 11.0, 17.0, 12.0];

pub const SMALL_TIED_X: [f64; 7] = [1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0];
pub const SMALL_TIED_Y: [f64; 6] = [2.0, 3.0, 4.0, 4.0, 5.0, 5.0];

/// Request latencies in ms, rounded to 0.1 ms (so a few values tie).
pub const LATENCY_BASELINE: [f64; 30] = [
    141.1, 134.9, 102.2, 89.4, 115.7, 162.1, 167.5, 150.6, 130.9, 179.0, //
    163.3, 113.6, 92.0, 109.5, 108.0, 142.5, 74.6, 114.4, 182.2, 95.3, //
    99.3, 117.5, 84.2, 116.2, 119.5, 119.9, 93.7, 109.5, 141.3, 100.4,
];
pub const LATENCY_CANARY: [f64; 24] = [
    159.1, 164.3, 88.0, 111.2, 164.3, 156.5, 142.5, 121.6, 139.5, 236.9, //
    126.3, 160.6, 119.1, 127.2, 164.0, 102.2, 125.5, 112.4, 104.3, 142.3, //
    195.8, 144.3, 120.4, 87.4,
];

/// The latency samples with missing scrapes, at the script's positions.
pub fn latency_baseline_with_nan() -> Vec<f64> {
    let mut values = LATENCY_BASELINE.to_vec();
    values.insert(5, f64::NAN);
    values.push(f64::NAN);
    values
}

pub fn latency_canary_with_nan() -> Vec<f64> {
    let mut values = vec![f64::NAN];
    values.extend_from_slice(&LATENCY_CANARY[..10]);
    values.extend([f64::NAN, f64::NAN]);
    values.extend_from_slice(&LATENCY_CANARY[10..]);
    values
}

pub const ALL_TIED_X: [f64; 3] = [5.0; 3];
pub const ALL_TIED_Y: [f64; 4] = [5.0; 4];
pub const CONSTANT: [f64; 5] = [3.0; 5];
pub const SPREAD: [f64; 6] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
pub const SEPARATED_HIGH: [f64; 8] = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0];
pub const SEPARATED_LOW: [f64; 8] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];

/// Knuth's MMIX LCG; integer and IEEE arithmetic only, so the script's copy
/// produces the same bits.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 * 2f64.powi(-53)
    }

    /// Irwin–Hall of four uniforms, centred: roughly normal on (−2, 2).
    fn bell(&mut self) -> f64 {
        self.uniform() + self.uniform() + self.uniform() + self.uniform() - 2.0
    }
}

/// `lcg_sample(seed, count, center, spread)` of the script.
pub fn lcg_sample(seed: u64, count: usize, center: f64, spread: f64) -> Vec<f64> {
    let mut lcg = Lcg(seed);
    (0..count).map(|_| center + spread * lcg.bell()).collect()
}

/// `lcg_sample(…, whole=True)`: rounded down to whole numbers, so ties are
/// everywhere.
pub fn lcg_whole_sample(seed: u64, count: usize, center: f64, spread: f64) -> Vec<f64> {
    lcg_sample(seed, count, center, spread)
        .into_iter()
        .map(f64::floor)
        .collect()
}

pub fn shifted_canary() -> Vec<f64> {
    lcg_sample(2, 200, 104.0, 20.0)
}
pub fn shifted_baseline() -> Vec<f64> {
    lcg_sample(1, 200, 100.0, 20.0)
}
pub fn whole_canary() -> Vec<f64> {
    lcg_whole_sample(4, 200, 101.0, 25.0)
}
pub fn whole_baseline() -> Vec<f64> {
    lcg_whole_sample(3, 200, 100.0, 20.0)
}
pub fn large_canary() -> Vec<f64> {
    lcg_sample(6, 2000, 251.0, 40.0)
}
pub fn large_baseline() -> Vec<f64> {
    lcg_sample(5, 2000, 250.0, 40.0)
}
pub fn large_whole_canary() -> Vec<f64> {
    lcg_whole_sample(8, 2000, 251.0, 40.0)
}
pub fn large_whole_baseline() -> Vec<f64> {
    lcg_whole_sample(7, 2000, 250.0, 40.0)
}
pub fn tiny_canary() -> Vec<f64> {
    lcg_sample(9, 3, 120.0, 20.0)
}
pub fn medium_baseline() -> Vec<f64> {
    lcg_sample(10, 50, 100.0, 20.0)
}
pub fn eight_canary() -> Vec<f64> {
    lcg_sample(11, 8, 110.0, 20.0)
}
pub fn eight_baseline() -> Vec<f64> {
    lcg_sample(12, 8, 100.0, 20.0)
}
pub fn seventy_canary() -> Vec<f64> {
    lcg_sample(13, 70, 103.0, 20.0)
}
pub fn seventy_baseline() -> Vec<f64> {
    lcg_sample(14, 70, 100.0, 20.0)
}
pub fn far_canary() -> Vec<f64> {
    lcg_sample(15, 200, 160.0, 20.0)
}
pub fn far_baseline() -> Vec<f64> {
    lcg_sample(16, 200, 100.0, 20.0)
}
pub fn wide_canary() -> Vec<f64> {
    lcg_sample(17, 200, 100.0, 30.0)
}
pub fn wide_far_canary() -> Vec<f64> {
    lcg_sample(18, 200, 100.0, 80.0)
}
pub fn narrow_baseline() -> Vec<f64> {
    lcg_sample(19, 200, 100.0, 5.0)
}
pub fn five_canary() -> Vec<f64> {
    lcg_sample(20, 5, 130.0, 20.0)
}
pub fn thousand_baseline() -> Vec<f64> {
    lcg_sample(21, 1000, 100.0, 20.0)
}
pub fn nine_canary() -> Vec<f64> {
    lcg_sample(22, 9, 110.0, 20.0)
}
pub fn nine_baseline() -> Vec<f64> {
    lcg_sample(23, 9, 100.0, 20.0)
}

#[test]
fn lcg_samples_are_the_scripts_bit_for_bit() {
    // target/stats-reference/bin/python -c "import sys; sys.path.insert(0, 'tests/tools');
    //   from stats_reference import SAMPLES as S; print(repr(S['shifted_baseline'][0]),
    //   repr(S['large_canary'][1999]), repr(sum(S['large_whole_baseline'])), S['tiny_canary'])"
    assert_eq!(shifted_baseline()[0], 99.27678796456249);
    assert_eq!(large_canary()[1999], 268.2404711073993);
    assert_eq!(large_whole_baseline().iter().sum::<f64>(), 499362.0);
    assert_eq!(
        tiny_canary(),
        [123.65958104176306, 104.02443550524764, 129.08539161056848]
    );
}
