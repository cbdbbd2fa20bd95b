//! One metric of the canary against the same metric of the primary.

use warbler_guest_sdk::{Metric, Outcome, Series};
use warbler_stats::{
    Alternative, Counts, RateTest, brown_forsythe, iqr_ratio, mann_whitney, median,
    poisson_rate_test, quantile,
};

use crate::config::{Direction, MetricKnobs};

/// Kayenta's classes for a metric, and the spread Kayenta does not check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// No significant difference that matters.
    Same,
    /// The canary's values are significantly higher.
    High,
    /// The canary's values are significantly lower.
    Low,
    /// The medians agree but the canary's values scatter significantly more.
    Wider,
    /// The medians and spreads agree but more of the canary's values fall
    /// in the worst tenth of both sides: a tail.
    HeavierTail,
    /// Too few samples on a side.
    NoData,
}

/// What the comparison of one metric found.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The class.
    pub class: Class,
    /// Pass when the class is not a change in the metric's bad direction.
    pub outcome: Outcome,
    /// One line for events and the display.
    pub detail: String,
}

fn samples(series: Option<&Series>) -> Vec<f64> {
    series.map(|s| s.present().collect()).unwrap_or_default()
}

/// The canary's median shift (Hodges–Lehmann) relative to the primary's
/// median; a shift from a median of 0 is infinite.
fn relative_shift(shift: f64, baseline_median: f64) -> f64 {
    if shift == 0.0 {
        0.0
    } else if baseline_median == 0.0 {
        f64::INFINITY.copysign(shift)
    } else {
        shift / baseline_median.abs()
    }
}

/// How many of each side's samples fall in the worst tenth of both sides'
/// together (the highest for a metric where higher is worse): a tail that
/// grows while the median and the interquartile range stay. The canary's
/// samples are shrunk by the spread allowed, as for the spread test (fewer
/// requests per sample scatter more, into both tails), and moved onto the
/// primary's median: a shift is the location test's to judge, with its
/// effect-size floor. `None` without enough samples, or when the values
/// pile on the cut (a success rate at 100%): no tail there.
fn tail_counts(canary: &[f64], primary: &[f64], knobs: &MetricKnobs) -> Option<(Counts, Counts)> {
    let (_, max_ratio) = knobs.dispersion?;
    let min = knobs.min_samples.max(1);
    if canary.len() < min || primary.len() < min {
        return None;
    }
    let centre = median(canary)?;
    let baseline = median(primary)?;
    let canary: Vec<f64> = canary
        .iter()
        .map(|v| baseline + (v - centre) / max_ratio)
        .collect();
    let both: Vec<f64> = canary.iter().chain(primary).copied().collect();
    let (cut, worst): (f64, fn(f64, f64) -> bool) = match knobs.direction {
        Direction::Decrease => (quantile(&both, 0.1)?, |v, cut| v < cut),
        Direction::Increase | Direction::Either => (quantile(&both, 0.9)?, |v, cut| v > cut),
    };
    if both.iter().filter(|v| **v == cut).count() * 20 > both.len() {
        return None;
    }
    let counts = |values: &[f64]| Counts {
        events: values.iter().filter(|v| worst(**v, cut)).count() as u64,
        trials: values.len() as u64,
    };
    Some((counts(&canary), counts(primary)))
}

/// The tail counts of this step and of the run's earlier steps (each with
/// its own cut and the spread allowed at its weight), summed, tested for
/// the canary having more. Exact for the few samples a step has (about
/// three of thirty expected in the tenth), where a normal approximation is
/// not; summed over steps, a tail too thin to show in one interval shows.
fn tail_test(
    now: (Counts, Counts),
    earlier: &[(&Metric, MetricKnobs)],
) -> Option<(RateTest, usize)> {
    let add = |a: Counts, b: Counts| Counts {
        events: a.events + b.events,
        trials: a.trials + b.trials,
    };
    let mut steps = 1;
    let (mut canary, mut primary) = now;
    for (metric, knobs) in earlier {
        if let Some((c, p)) = tail_counts(
            &samples(metric.canary_series.as_ref()),
            &samples(metric.primary_series.as_ref()),
            knobs,
        ) {
            canary = add(canary, c);
            primary = add(primary, p);
            steps += 1;
        }
    }
    let test = poisson_rate_test(canary, primary, Alternative::Greater)?;
    Some((test, steps))
}

/// Compare `metric`'s canary and primary samples; `earlier` is the same
/// metric at the run's earlier steps, with the settings at their weights.
pub fn compare(
    metric: &Metric,
    knobs: &MetricKnobs,
    earlier: &[(&Metric, MetricKnobs)],
) -> Comparison {
    let name = &metric.name;
    let canary = samples(metric.canary_series.as_ref());
    let primary = samples(metric.primary_series.as_ref());
    let enough =
        canary.len() >= knobs.min_samples.max(1) && primary.len() >= knobs.min_samples.max(1);
    let tested = enough
        .then(|| mann_whitney(&canary, &primary, Alternative::TwoSided).zip(median(&primary)))
        .flatten();
    let Some((test, baseline_median)) = tested else {
        return Comparison {
            class: Class::NoData,
            outcome: Outcome::NoData,
            detail: format!(
                "{name}: {} canary and {} primary samples, need {} each",
                canary.len(),
                primary.len(),
                knobs.min_samples
            ),
        };
    };
    let shift = relative_shift(test.hodges_lehmann, baseline_median);
    let significant = test.p_value < knobs.alpha;
    let mut class = match shift {
        s if significant && s > knobs.effect_size => Class::High,
        s if significant && s < -knobs.effect_size => Class::Low,
        _ => Class::Same,
    };
    let mut detail = format!(
        "{name}: median shift {:+.1}% (p {:.3})",
        shift * 100.0,
        test.p_value
    );
    if let Some((alpha, max_ratio)) = knobs.dispersion {
        // Tested against the ratio allowed, not against equal spreads: the
        // canary's deviations from its median are shrunk by `max_ratio`
        // first, so only a spread significantly beyond the allowance fails
        // (an IQR ratio measured on 30 samples is itself noisy by a third).
        let centre = median(&canary).unwrap_or(0.0);
        let shrunk: Vec<f64> = canary
            .iter()
            .map(|v| centre + (v - centre) / max_ratio)
            .collect();
        let spread = brown_forsythe(&shrunk, &primary);
        let ratio = iqr_ratio(&canary, &primary);
        match (spread, ratio) {
            // Half the primary's values or more are one value (a success
            // rate at 100% most seconds): its spread measures how rare the
            // events are, not how the release behaves; rates judge those.
            (Some(_), Some(ratio)) if !ratio.is_finite() => {
                detail
                    .push_str(", spread not compared (the primary's values are mostly one value)");
            }
            (Some(spread), Some(ratio)) => {
                detail.push_str(&format!(
                    ", spread ×{ratio:.2} (allowed ×{max_ratio:.2}, p {:.3})",
                    spread.p_value
                ));
                if class == Class::Same && spread.p_value < alpha && ratio > max_ratio {
                    class = Class::Wider;
                }
            }
            _ => {}
        }
        if class == Class::Same
            && let Some((tail, steps)) =
                tail_counts(&canary, &primary, knobs).and_then(|now| tail_test(now, earlier))
        {
            detail.push_str(&format!(
                ", {:.0}% of the canary's samples in the worst tenth against {:.0}% of the primary's{} (p {:.3})",
                tail.canary_rate * 100.0,
                tail.baseline_rate * 100.0,
                if steps > 1 {
                    format!(" over {steps} steps")
                } else {
                    String::new()
                },
                tail.p_value
            ));
            if tail.p_value < alpha && tail.canary_rate > 2.0 * tail.baseline_rate {
                class = Class::HeavierTail;
            }
        }
    }
    let worse = matches!(
        (class, knobs.direction),
        (Class::Wider | Class::HeavierTail, _)
            | (Class::High, Direction::Increase | Direction::Either)
            | (Class::Low, Direction::Decrease | Direction::Either)
    );
    let verdict = match class {
        Class::Wider => "canary scatters more",
        Class::HeavierTail => "canary has a heavier tail",
        Class::High if worse => "canary higher",
        Class::Low if worse => "canary lower",
        Class::High | Class::Low => "canary better",
        Class::Same | Class::NoData => "same as primary",
    };
    detail.push_str(&format!(": {verdict}"));
    Comparison {
        class,
        outcome: if worse { Outcome::Fail } else { Outcome::Pass },
        detail,
    }
}

#[cfg(test)]
mod tests {
    use warbler_guest_sdk::ThresholdRange;

    use super::*;

    /// One step judged alone: the run's first.
    fn compare(metric: &Metric, knobs: &MetricKnobs) -> Comparison {
        super::compare(metric, knobs, &[])
    }

    fn series(values: &[f64]) -> Option<Series> {
        Some(Series {
            start_ms: 0,
            step_ms: 1_000,
            values: values.to_vec(),
        })
    }

    fn latency(canary: &[f64], primary: &[f64]) -> Metric {
        Metric {
            name: "request-duration".to_owned(),
            canary: None,
            primary: None,
            canary_series: series(canary),
            primary_series: series(primary),
            threshold_range: ThresholdRange {
                min: None,
                max: Some(500.0),
            },
            interval_seconds: 60,
            note: String::new(),
        }
    }

    fn knobs() -> MetricKnobs {
        knobs_with_spread_alpha(0.01)
    }

    fn knobs_with_spread_alpha(alpha: f64) -> MetricKnobs {
        MetricKnobs {
            direction: Direction::Increase,
            critical: false,
            weight: 1.0,
            alpha: 0.05,
            effect_size: 0.1,
            min_samples: 10,
            dispersion: Some((alpha, 1.5)),
        }
    }

    /// `n` values around `center`, spread by `scale`, deterministic.
    fn around(center: f64, scale: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| center + scale * (((i * 7919) % 97) as f64 / 96.0 - 0.5))
            .collect()
    }

    #[test]
    fn a_canary_like_the_primary_passes() {
        let c = compare(
            &latency(&around(100.0, 10.0, 30), &around(100.0, 10.0, 30)),
            &knobs(),
        );
        assert_eq!(
            (c.class, c.outcome),
            (Class::Same, Outcome::Pass),
            "{}",
            c.detail
        );
    }

    #[test]
    fn a_slower_canary_is_high_and_fails_a_metric_where_higher_is_worse() {
        let c = compare(
            &latency(&around(130.0, 10.0, 30), &around(100.0, 10.0, 30)),
            &knobs(),
        );
        assert_eq!(
            (c.class, c.outcome),
            (Class::High, Outcome::Fail),
            "{}",
            c.detail
        );
        assert!(c.detail.contains("median shift +29.9%"), "{}", c.detail);
    }

    #[test]
    fn a_faster_canary_is_low_and_passes_a_metric_where_higher_is_worse() {
        let c = compare(
            &latency(&around(70.0, 10.0, 30), &around(100.0, 10.0, 30)),
            &knobs(),
        );
        assert_eq!(
            (c.class, c.outcome),
            (Class::Low, Outcome::Pass),
            "{}",
            c.detail
        );
        assert!(c.detail.ends_with("canary better"), "{}", c.detail);
    }

    #[test]
    fn a_significant_shift_under_the_effect_size_passes() {
        let c = compare(
            &latency(&around(105.0, 2.0, 200), &around(100.0, 2.0, 200)),
            &knobs(),
        );
        assert!(c.detail.contains("(p 0.000)"), "significant: {}", c.detail);
        assert_eq!(c.outcome, Outcome::Pass, "{}", c.detail);
    }

    #[test]
    fn a_canary_that_scatters_more_fails_though_its_median_is_the_same() {
        let c = compare(
            &latency(&around(100.0, 60.0, 60), &around(100.0, 10.0, 60)),
            &knobs(),
        );
        assert_eq!(
            (c.class, c.outcome),
            (Class::Wider, Outcome::Fail),
            "{}",
            c.detail
        );
    }

    #[test]
    fn without_the_spread_check_a_canary_that_scatters_more_passes() {
        let knobs = MetricKnobs {
            dispersion: None,
            ..knobs()
        };
        let c = compare(
            &latency(&around(100.0, 60.0, 60), &around(100.0, 10.0, 60)),
            &knobs,
        );
        assert_eq!(c.outcome, Outcome::Pass, "{}", c.detail);
    }

    #[test]
    fn a_canary_whose_slowest_samples_double_has_a_heavier_tail() {
        let primary = around(100.0, 10.0, 60);
        let mut canary = around(100.0, 10.0, 60);
        for value in canary.iter_mut().step_by(6) {
            *value *= 2.0;
        }
        let c = compare(&latency(&canary, &primary), &knobs_with_spread_alpha(0.15));
        assert_eq!(
            (c.class, c.outcome),
            (Class::HeavierTail, Outcome::Fail),
            "{}",
            c.detail
        );
        assert!(c.detail.contains("in the worst tenth"), "{}", c.detail);
    }

    #[test]
    fn a_tail_too_thin_for_one_step_shows_over_the_run() {
        let primary = around(100.0, 10.0, 30);
        let mut canary = around(100.0, 10.0, 30);
        for value in canary.iter_mut().step_by(6) {
            *value *= 2.0;
        }
        let metric = latency(&canary, &primary);
        let knobs = knobs_with_spread_alpha(0.05);
        let alone = compare(&metric, &knobs);
        assert_eq!(alone.class, Class::Same, "{}", alone.detail);
        let earlier = vec![(&metric, knobs); 3];
        let pooled = super::compare(&metric, &knobs, &earlier);
        assert_eq!(
            (pooled.class, pooled.outcome),
            (Class::HeavierTail, Outcome::Fail),
            "{}",
            pooled.detail
        );
        assert!(pooled.detail.contains("over 4 steps"), "{}", pooled.detail);
    }

    #[test]
    fn the_spread_of_a_metric_the_primary_mostly_holds_at_one_value_is_not_compared() {
        let mut primary = vec![100.0; 30];
        primary[3] = 99.0;
        let canary: Vec<f64> = (0..30)
            .map(|i| if i % 3 == 0 { 99.0 } else { 100.0 })
            .collect();
        let c = compare(&latency(&canary, &primary), &knobs());
        assert_eq!(c.outcome, Outcome::Pass, "{}", c.detail);
        assert!(c.detail.contains("spread not compared"), "{}", c.detail);
    }

    #[test]
    fn too_few_samples_are_no_data_naming_the_counts() {
        let c = compare(
            &latency(&around(100.0, 10.0, 4), &around(100.0, 10.0, 30)),
            &knobs(),
        );
        assert_eq!(c.outcome, Outcome::NoData);
        assert_eq!(
            c.detail,
            "request-duration: 4 canary and 30 primary samples, need 10 each"
        );
    }

    #[test]
    fn gaps_in_a_series_are_not_samples() {
        let mut canary = around(100.0, 10.0, 12);
        canary[..6].fill(f64::NAN);
        let c = compare(&latency(&canary, &around(100.0, 10.0, 30)), &knobs());
        assert_eq!(c.outcome, Outcome::NoData, "{}", c.detail);
    }
}
