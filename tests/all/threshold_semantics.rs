//! Flagger's analysis semantics as a table, run natively (the policy crate's
//! own Rust) and through the compiled component: both must agree exactly.

use warbler::policy::EvalError;
use warbler_guest_sdk::{
    Decision, Input, Policy, PolicyError, Series, Verdict, WebhookKind, WebhookResult,
};
use warbler_policy_threshold::Threshold;

use crate::common::{self, frontend_at, metric};

/// What a case expects of the decision.
#[derive(Debug)]
enum Expect {
    Advance(u32),
    FailedCheck,
    Promote,
    Rollback,
    InvalidConfig(&'static str),
    InvalidInput(&'static str),
}

fn hook(kind: WebhookKind, passed: bool) -> WebhookResult {
    WebhookResult {
        name: "load-test".to_owned(),
        kind,
        passed,
        status_code: Some(if passed { 200 } else { 500 }),
        message: if passed { "ok" } else { "connection refused" }.to_owned(),
    }
}

fn first_step() -> Input {
    let mut input = frontend_at(0);
    input.state.iteration = 0;
    input
}

fn cases() -> Vec<(&'static str, Input, Expect)> {
    let mut cases = Vec::new();
    let mut case = |name, input, expect| cases.push((name, input, expect));

    case(
        "first step starts shifting traffic",
        first_step(),
        Expect::Advance(10),
    );
    case(
        "first step fails when a pre-rollout webhook failed",
        {
            let mut i = first_step();
            i.webhooks.push(hook(WebhookKind::PreRollout, false));
            i
        },
        Expect::FailedCheck,
    );
    case(
        "first step does not check metrics",
        {
            let mut i = first_step();
            i.metrics[0].canary = Some(10.0);
            i
        },
        Expect::Advance(10),
    );
    case(
        "passing step advances by stepWeight",
        frontend_at(20),
        Expect::Advance(30),
    );
    case(
        "advance is capped at maxWeight",
        {
            let mut i = frontend_at(45);
            i.analysis.step_weight = Some(10);
            i
        },
        Expect::Advance(50),
    );
    case(
        "passing step at maxWeight promotes",
        frontend_at(50),
        Expect::Promote,
    );
    case(
        "maxWeight defaults to 100",
        {
            let mut i = frontend_at(90);
            i.analysis.max_weight = None;
            i
        },
        Expect::Advance(100),
    );
    case(
        "success rate below min fails the step",
        {
            let mut i = frontend_at(20);
            i.metrics[0].canary = Some(98.9);
            i
        },
        Expect::FailedCheck,
    );
    case(
        "value equal to min passes",
        {
            let mut i = frontend_at(20);
            i.metrics[0].canary = Some(99.0);
            i
        },
        Expect::Advance(30),
    );
    case(
        "latency above max fails the step",
        {
            let mut i = frontend_at(20);
            i.metrics[1].canary = Some(250.1);
            i
        },
        Expect::FailedCheck,
    );
    case(
        "NaN is no values found and fails the step",
        {
            let mut i = frontend_at(20);
            i.metrics[1].canary = Some(f64::NAN);
            i
        },
        Expect::FailedCheck,
    );
    case(
        "absent value fails the step",
        {
            let mut i = frontend_at(20);
            i.metrics[0].canary = None;
            i
        },
        Expect::FailedCheck,
    );
    case(
        "missingMetric skip leaves absent metrics out",
        {
            let mut i = frontend_at(20);
            i.metrics[0].canary = None;
            i.config = r#"{"missingMetric":"skip"}"#.to_owned();
            i
        },
        Expect::Advance(30),
    );
    case(
        "an invalid config names the field",
        {
            let mut i = frontend_at(20);
            i.config = r#"{"missingMetric":"pass"}"#.to_owned();
            i
        },
        Expect::InvalidConfig("config.missingMetric"),
    );
    case(
        "an unknown config field is named",
        {
            let mut i = frontend_at(20);
            i.config = r#"{"missingMetrics":"skip"}"#.to_owned();
            i
        },
        Expect::InvalidConfig("missingMetrics"),
    );
    case(
        "failed checks reaching threshold roll back",
        {
            let mut i = frontend_at(30);
            i.state.failed_checks = 3;
            i
        },
        Expect::Rollback,
    );
    case(
        "failed checks below threshold do not stop a passing step",
        {
            let mut i = frontend_at(30);
            i.state.failed_checks = 2;
            i
        },
        Expect::Advance(40),
    );
    case(
        "a threshold of 0 counts as 1",
        {
            let mut i = frontend_at(30);
            i.analysis.threshold = 0;
            i.state.failed_checks = 1;
            i
        },
        Expect::Rollback,
    );
    case(
        "a failed rollout webhook fails the step",
        {
            let mut i = frontend_at(20);
            i.webhooks.push(hook(WebhookKind::Rollout, false));
            i
        },
        Expect::FailedCheck,
    );
    case(
        "a failed event webhook does not fail the step",
        {
            let mut i = frontend_at(20);
            i.webhooks.push(hook(WebhookKind::Event, false));
            i
        },
        Expect::Advance(30),
    );
    case(
        "stepWeights advance to the next entry",
        {
            let mut i = frontend_at(10);
            i.analysis.step_weights = vec![5, 10, 25, 60];
            i
        },
        Expect::Advance(25),
    );
    case(
        "stepWeights start at their first entry",
        {
            let mut i = first_step();
            i.analysis.step_weights = vec![5, 10, 25, 60];
            i
        },
        Expect::Advance(5),
    );
    case(
        "the last stepWeights entry is the max weight",
        {
            let mut i = frontend_at(60);
            i.analysis.step_weights = vec![5, 10, 25, 60];
            i.analysis.max_weight = Some(80);
            i
        },
        Expect::Promote,
    );
    case(
        "iterations count passing steps without shifting traffic",
        {
            let mut i = frontend_at(0);
            i.analysis.iterations = Some(10);
            i.state.iteration = 3;
            i
        },
        Expect::Advance(0),
    );
    case(
        "iterations promote once all have passed",
        {
            let mut i = frontend_at(0);
            i.analysis.iterations = Some(10);
            i.state.iteration = 10;
            i
        },
        Expect::Promote,
    );
    case(
        "iterations still fail on a bad metric",
        {
            let mut i = frontend_at(0);
            i.analysis.iterations = Some(10);
            i.state.iteration = 4;
            i.metrics[0].canary = Some(50.0);
            i
        },
        Expect::FailedCheck,
    );
    case(
        "no stepWeight, stepWeights or iterations is invalid input",
        {
            let mut i = frontend_at(20);
            i.analysis.step_weight = None;
            i
        },
        Expect::InvalidInput("stepWeight"),
    );
    case(
        "metrics are optional",
        {
            let mut i = frontend_at(20);
            i.metrics.clear();
            i
        },
        Expect::Advance(30),
    );
    case(
        "a metric without bounds passes",
        {
            let mut i = frontend_at(20);
            i.metrics.push(metric("custom", Some(1e9), None, None));
            i
        },
        Expect::Advance(30),
    );
    cases
}

fn check(name: &str, result: &Result<Verdict, PolicyError>, expect: &Expect) {
    match (result, expect) {
        (Ok(v), Expect::Advance(w)) => {
            assert_eq!(v.decision, Decision::Advance { weight: *w }, "{name}")
        }
        (Ok(v), Expect::FailedCheck) => assert!(
            matches!(v.decision, Decision::Hold { failed: true, .. }),
            "{name}: {v:?}"
        ),
        (Ok(v), Expect::Promote) => assert_eq!(v.decision, Decision::Promote, "{name}"),
        (Ok(v), Expect::Rollback) => assert!(
            matches!(v.decision, Decision::Rollback { .. }),
            "{name}: {v:?}"
        ),
        (Err(PolicyError::InvalidConfig(m)), Expect::InvalidConfig(field)) => {
            assert!(m.contains(field), "{name}: {m}")
        }
        (Err(PolicyError::InvalidInput(m)), Expect::InvalidInput(field)) => {
            assert!(m.contains(field), "{name}: {m}")
        }
        (other, expect) => panic!("{name}: expected {expect:?}, got {other:?}"),
    }
}

#[test]
fn native_logic_follows_flagger_semantics() {
    for (name, input, expect) in cases() {
        check(name, &Threshold::evaluate(&input), &expect);
    }
}

#[test]
fn component_follows_flagger_semantics() {
    let runtime = common::runtime();
    let policy = common::threshold(&runtime);
    for (name, input, expect) in cases() {
        let result = match policy.evaluate(&input) {
            Ok(verdict) => Ok(verdict),
            Err(EvalError::Refused { error, .. }) => Err(error),
            Err(other) => panic!("{name}: the component failed: {other}"),
        };
        check(name, &result, &expect);
    }
}

#[test]
fn component_and_native_logic_agree_on_every_case() {
    let runtime = common::runtime();
    let policy = common::threshold(&runtime);
    for (name, input, _) in cases() {
        let native = Threshold::evaluate(&input);
        let wasm = policy.evaluate(&input).map_err(|err| match err {
            EvalError::Refused { error, .. } => error,
            other => panic!("{name}: the component failed: {other}"),
        });
        assert_eq!(native, wasm, "{name}");
    }
}

#[test]
fn failed_step_names_the_metric_like_flagger() {
    let mut input = frontend_at(20);
    input.metrics[0].canary = Some(95.0);
    let verdict = Threshold::evaluate(&input).unwrap();
    assert_eq!(
        verdict.decision,
        Decision::Hold {
            reason: "Halt frontend.podinfo advancement request-success-rate 95.00 < 99".to_owned(),
            failed: true,
        }
    );
}

#[test]
fn validate_config_rejects_a_bad_field_before_any_rollout() {
    let runtime = common::runtime();
    let policy = common::threshold(&runtime);
    policy.validate_config("null").expect("no config is valid");
    policy
        .validate_config(r#"{"missingMetric":"skip"}"#)
        .expect("a documented config is valid");
    let err = policy
        .validate_config(r#"{"missingMetric":3}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("config.missingMetric"), "{err}");
}

#[test]
fn a_refused_config_is_named_as_such_not_as_a_refusal_to_decide() {
    let runtime = common::runtime();
    let policy = common::threshold(&runtime);
    let err = policy.validate_config(r#"{"bogus":1}"#).unwrap_err();
    assert!(matches!(err, EvalError::ConfigRefused { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("refused the config"), "{text}");
    assert!(!text.contains("refused to decide"), "{text}");
    assert!(text.contains("spec.analysis.policy.config"), "{text}");
}

#[test]
fn component_decides_on_an_input_larger_than_its_initial_memory() {
    // 2 × 200,000 samples (3.2 MB) do not fit the 2 MiB the built-in is
    // linked with: its allocator must grow memory rather than fail.
    let runtime = common::runtime();
    let policy = common::threshold(&runtime);
    let mut input = frontend_at(20);
    let series = Series {
        start_ms: 0,
        step_ms: 1_000,
        values: vec![99.9; 200_000],
    };
    input.metrics[0].canary_series = Some(series.clone());
    input.metrics[0].primary_series = Some(series);
    let verdict = policy.evaluate(&input).expect("a verdict");
    assert_eq!(verdict, Threshold::evaluate(&input).unwrap());
}
