//! Warbler's built-in `compare` policy: is the canary worse than the
//! primary, serving the same traffic at the same time?
//!
//! Each metric's canary samples are compared with the primary's, as
//! Kayenta's judge does, and more:
//!
//! - **Location**: a two-sided Mann–Whitney U test and the Hodges–Lehmann
//!   shift of the median. A metric is *high* or *low* when the test is
//!   significant (`alpha`) *and* the shift is larger than `effectSize` of
//!   the primary's median, so large samples do not fail a canary for a
//!   trivial difference. Only a change in the metric's bad direction
//!   (`direction`, by default what its `thresholdRange` implies) fails it.
//! - **Spread**, which Kayenta does not check: a canary whose values
//!   scatter significantly more (Brown–Forsythe) by more than
//!   `dispersion.maxRatio` of the primary's interquartile range fails even
//!   when its median has not moved. The ratio allowed grows as the canary's
//!   share of traffic shrinks, since fewer requests scatter more. With it a
//!   **tail** check: twice the primary's share of samples in the worst
//!   tenth of both sides, counted over the run's steps so far, fails, the
//!   median and spread unmoved.
//! - **Rare events**, where Kayenta sees only ties: `rates` compare counts
//!   (errors in requests) with the exact test of two Poisson rates, summed
//!   over the run's steps so far (the contract's `run.earlier-steps`).
//!
//! The step's score is the weighted share of judged metrics that pass
//! (0–100). At `pass` or above the step passes (Flagger's weight rules); at
//! `marginal` or above it holds; below, the weight is held and the next
//! step, on fresh samples, must confirm it (`rollbackAfter` steps in a row
//! roll back: one unlucky interval is not a regression); a failed
//! `critical` metric rolls back at once. While samples are too few, or the
//! score is marginal, the policy holds without penalty for `maxWaitSteps`
//! steps in a row, then counts a failed check. As in Flagger, nothing is judged before
//! the canary has traffic, a failed webhook is a failed check, and failed
//! checks roll back at `analysis.threshold`.

pub mod config;
pub mod metric;
pub mod rate;

use warbler_guest_sdk::{
    Decision, Input, Judgement, Outcome, Policy, PolicyError, PolicyInfo, Verdict, export_policy,
};

use crate::config::Config;

/// The compare policy.
pub struct Compare;

/// One judged metric or rate, with what the score needs.
struct Judged {
    judgement: Judgement,
    critical: bool,
    weight: f64,
}

impl Policy for Compare {
    /// Rates and tails are counted over the run.
    const READS_EARLIER_STEPS: bool = true;

    fn describe() -> PolicyInfo {
        PolicyInfo::named(
            "compare",
            env!("CARGO_PKG_VERSION"),
            "Compares the canary with the primary metric by metric (Mann-Whitney shift with an \
             effect-size floor, spread and tail, exact rare-event rates) into a weighted score: pass \
             advances, marginal holds, below it or a failed critical metric rolls back.",
        )
        .needing_baseline()
        .with_config_schema(config::SCHEMA)
    }

    fn validate_config(config: &str) -> Result<(), PolicyError> {
        Config::parse(config).map(drop)
    }

    fn evaluate(input: &Input) -> Result<Verdict, PolicyError> {
        let config = Config::parse(&input.config)?;
        if let Some(verdict) = Verdict::before_judging(input) {
            return Ok(verdict);
        }
        let judged = judge(input, &config);
        let judgements = judged.iter().map(|j| j.judgement.clone()).collect();
        if let Some(critical) = judged
            .iter()
            .find(|j| j.critical && j.judgement.outcome == Outcome::Fail)
        {
            return Ok(Verdict::rollback(format!(
                "critical metric failed: {}",
                critical.judgement.detail
            ))
            .with_judgements(judgements));
        }
        let Some(score) = score(&judged) else {
            let reason = format!(
                "too few samples to compare the canary with the primary: {}",
                names(&judged, Outcome::NoData)
            );
            return Ok(wait_or_fail(input, &config, reason).with_judgements(judgements));
        };
        let verdict = if score >= config.pass {
            Verdict::passed(input)
        } else if score >= config.marginal {
            let reason = format!(
                "marginal score {score:.0} (passes at {}): {}",
                config.pass,
                names(&judged, Outcome::Fail)
            );
            wait_or_fail(input, &config, reason)
        } else {
            let reason = format!(
                "score {score:.0} below marginal {}: {}",
                config.marginal,
                names(&judged, Outcome::Fail)
            );
            let bad_before = bad_steps_before(input, &config);
            if bad_before + 1 >= config.rollback_after {
                Verdict::rollback(reason)
            } else {
                Verdict::wait(format!(
                    "{reason}; holding to confirm on fresh samples ({} of {} bad steps in a row roll back)",
                    bad_before + 1,
                    config.rollback_after
                ))
            }
        };
        Ok(verdict.with_judgements(judgements).with_score(score))
    }
}

/// Every metric compared (those [`Config::leaves_out`] left out), then
/// every rate.
fn judge(input: &Input, config: &Config) -> Vec<Judged> {
    let metrics = input
        .metrics
        .iter()
        .filter(|metric| !config.leaves_out(metric))
        .map(|metric| {
            let knobs = config.knobs(metric, input.state.canary_weight);
            let earlier: Vec<_> = input
                .earlier_steps
                .iter()
                .filter_map(|step| {
                    let then = step.metric(&metric.name)?;
                    Some((then, config.knobs(then, step.canary_weight)))
                })
                .collect();
            let comparison = metric::compare(metric, &knobs, &earlier);
            Judged {
                judgement: Judgement {
                    metric: metric.name.clone(),
                    outcome: comparison.outcome,
                    detail: comparison.detail,
                },
                critical: knobs.critical,
                weight: knobs.weight,
            }
        });
    let rates = config.rates.iter().map(|rate| {
        let comparison = rate::compare(input, rate);
        Judged {
            judgement: Judgement {
                metric: rate.name.clone(),
                outcome: comparison.outcome,
                detail: comparison.detail,
            },
            critical: rate.critical,
            weight: rate.weight,
        }
    });
    metrics.chain(rates).collect()
}

/// The weighted share of judged metrics that pass, 0–100; `None` when none
/// could be judged.
fn score(judged: &[Judged]) -> Option<f64> {
    // A fold from +0: `sum` of no weights is -0, which shows as "score -0".
    let weight = |outcomes: &[Outcome]| -> f64 {
        judged
            .iter()
            .filter(|j| outcomes.contains(&j.judgement.outcome))
            .fold(0.0, |total, j| total + j.weight)
    };
    let total = weight(&[Outcome::Pass, Outcome::Fail]);
    (total > 0.0).then(|| 100.0 * weight(&[Outcome::Pass]) / total)
}

fn names(judged: &[Judged], outcome: Outcome) -> String {
    judged
        .iter()
        .filter(|j| j.judgement.outcome == outcome)
        .map(|j| j.judgement.metric.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The steps of this run right before this one that scored below
/// `marginal` (each held, to be confirmed).
fn bad_steps_before(input: &Input, config: &Config) -> u32 {
    input
        .history
        .iter()
        .rev()
        .take_while(|step| {
            step.revision == input.canary.revision
                && matches!(step.decision, Decision::Hold { .. })
                && step.score.is_some_and(|score| score < config.marginal)
        })
        .count() as u32
}

/// Hold without penalty, unless the policy has already held so for
/// `maxWaitSteps` steps in a row of this run: then a failed check.
fn wait_or_fail(input: &Input, config: &Config, reason: String) -> Verdict {
    let waited = input
        .history
        .iter()
        .rev()
        .take_while(|step| {
            step.revision == input.canary.revision
                && matches!(step.decision, Decision::Hold { failed: false, .. })
        })
        .count();
    if waited >= config.max_wait_steps as usize {
        Verdict::fail(format!("{reason}; held {waited} steps in a row"))
    } else {
        Verdict::wait(reason)
    }
}

export_policy!(Compare);
