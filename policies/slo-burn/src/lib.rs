//! Warbler's built-in `slo-burn` policy: is the canary burning the error
//! budget of an SLO faster than it may?
//!
//! The canary's error ratio over a window, divided by the budget (1 −
//! objective), is its burn rate: 1 spends the budget exactly over the SLO
//! period, 14.4 spends 2% of a 30-day budget in an hour. As in the SRE
//! workbook's multi-window alerts, a window pair fires when both its long
//! window (the budget really burns) and its short one (it still burns now)
//! exceed the pair's rate; a firing `rollback` pair rolls the canary back
//! at once, a firing `failCheck` pair counts a failed check.
//!
//! The ratio comes from two counting metrics (failed and all requests per
//! sample interval), summed over each window, so it weighs every request
//! alike. Windows end at the step and are cut to the samples the host has
//! (a metric's `interval`). A pair whose long window holds fewer than
//! `minRequests` requests is not judged; while no pair can be, the step
//! holds without a failed check. As in Flagger, nothing is judged before
//! the canary has traffic, a failed webhook is a failed check, and failed
//! checks roll back at `analysis.threshold`.

pub mod config;

use warbler_guest_sdk::{
    Input, Judgement, Metric, Outcome, Policy, PolicyError, PolicyInfo, Verdict, export_policy,
};

use crate::config::{Action, Config, WindowPair};

/// The slo-burn policy.
pub struct SloBurn;

/// Failed and all requests over a window.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    errors: f64,
    requests: f64,
    /// Seconds of samples it covers, when less than asked.
    cut_to: Option<u64>,
}

impl Window {
    fn burn_rate(&self, budget: f64) -> f64 {
        if self.requests > 0.0 {
            self.errors / self.requests / budget
        } else {
            0.0
        }
    }
}

/// The sum of `metric`'s canary samples that end within the last `seconds`
/// before `now_ms`, and how far back the samples reach.
fn sum_over(metric: &Metric, seconds: u32, now_ms: i64) -> (f64, i64) {
    let Some(series) = &metric.canary_series else {
        return (0.0, 0);
    };
    let from = now_ms - i64::from(seconds) * 1000;
    let step = i64::from(series.step_ms);
    let mut covered_from = now_ms;
    let mut sum = 0.0;
    for (i, value) in series.values.iter().enumerate() {
        let at = series.start_ms + i as i64 * step;
        if at > from && at <= now_ms && !value.is_nan() {
            sum += value;
            covered_from = covered_from.min(at - step);
        }
    }
    (sum, now_ms - covered_from.max(from))
}

fn window(errors: &Metric, requests: &Metric, seconds: u32, now_ms: i64) -> Window {
    let (errors, _) = sum_over(errors, seconds, now_ms);
    let (requests, covered_ms) = sum_over(requests, seconds, now_ms);
    let covered = (covered_ms.max(0) as u64).div_ceil(1000);
    Window {
        errors,
        requests,
        cut_to: (covered < u64::from(seconds)).then_some(covered),
    }
}

fn describe(window: &Window, seconds: u32, budget: f64) -> String {
    let ratio = if window.requests > 0.0 {
        window.errors / window.requests
    } else {
        0.0
    };
    let span = match window.cut_to {
        Some(covered) => format!("{seconds}s, cut to the {covered}s sampled"),
        None => format!("{seconds}s"),
    };
    format!(
        "{:.3}% of {} requests over {span} (burn {:.1}x)",
        ratio * 100.0,
        window.requests,
        window.burn_rate(budget)
    )
}

/// What one window pair found.
struct PairResult {
    judgement: Judgement,
    action: Action,
    long_burn: Option<f64>,
}

fn judge_pair(
    input: &Input,
    config: &Config,
    pair: &WindowPair,
    errors: &Metric,
    requests: &Metric,
) -> PairResult {
    let budget = config.budget();
    let name = format!("burn {}s/{}s", pair.long_seconds, pair.short_seconds);
    let long = window(errors, requests, pair.long_seconds, input.now_ms);
    let short = window(errors, requests, pair.short_seconds, input.now_ms);
    if long.requests < config.min_requests as f64 {
        return PairResult {
            judgement: Judgement {
                metric: name,
                outcome: Outcome::NoData,
                detail: format!(
                    "{} requests over {}s, need {} to judge",
                    long.requests, pair.long_seconds, config.min_requests
                ),
            },
            action: pair.action,
            long_burn: None,
        };
    }
    let fires = long.burn_rate(budget) > pair.burn_rate && short.burn_rate(budget) > pair.burn_rate;
    PairResult {
        judgement: Judgement {
            metric: name,
            outcome: if fires { Outcome::Fail } else { Outcome::Pass },
            detail: format!(
                "{}; {}: {} {}x of the {}% objective",
                describe(&long, pair.long_seconds, budget),
                describe(&short, pair.short_seconds, budget),
                if fires { "both over" } else { "not both over" },
                pair.burn_rate,
                config.objective
            ),
        },
        action: pair.action,
        long_burn: Some(long.burn_rate(budget)),
    }
}

fn metric<'a>(input: &'a Input, name: &str, field: &str) -> Result<&'a Metric, PolicyError> {
    input.metric(name).ok_or_else(|| {
        PolicyError::InvalidInput(format!(
            "config.source.{field} names `{name}`, which is not among spec.analysis.metrics; add a metric of that name counting requests per sample interval, or name yours in config.source"
        ))
    })
}

impl Policy for SloBurn {
    fn describe() -> PolicyInfo {
        PolicyInfo::named(
            "slo-burn",
            env!("CARGO_PKG_VERSION"),
            "The canary's error-budget burn rate against an SLO over multi-window pairs (SRE \
             workbook): a firing pair rolls back or counts a failed check; too little traffic \
             holds instead of judging.",
        )
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
        let errors = metric(input, &config.source.errors, "errors")?;
        let requests = metric(input, &config.source.requests, "requests")?;
        let results: Vec<PairResult> = config
            .windows
            .iter()
            .map(|pair| judge_pair(input, &config, pair, errors, requests))
            .collect();
        let firing = |action: Action| {
            results
                .iter()
                .find(|r| r.action == action && r.judgement.outcome == Outcome::Fail)
                .map(|r| {
                    format!(
                        "error budget burning: {} ({})",
                        r.judgement.metric, r.judgement.detail
                    )
                })
        };
        let verdict = if let Some(reason) = firing(Action::Rollback) {
            Verdict::rollback(reason)
        } else if let Some(reason) = firing(Action::FailCheck) {
            Verdict::fail(reason)
        } else if results
            .iter()
            .all(|r| r.judgement.outcome == Outcome::NoData)
        {
            Verdict::wait(format!(
                "too little traffic to judge the burn rate: fewer than {} requests in every long window",
                config.min_requests
            ))
        } else {
            Verdict::passed(input)
        };
        // The fastest long-window burn, to a thousandth: the budget's
        // decimal objective makes the last bits noise.
        let score = results
            .iter()
            .filter_map(|r| r.long_burn)
            .reduce(f64::max)
            .map(|burn| (burn * 1000.0).round() / 1000.0);
        let verdict = verdict.with_judgements(results.into_iter().map(|r| r.judgement).collect());
        Ok(match score {
            Some(score) => verdict.with_score(score),
            None => verdict,
        })
    }
}

export_policy!(SloBurn);
