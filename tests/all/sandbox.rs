//! Hostile guests are contained: each attack ends in a typed error, and the
//! same runtime still evaluates a good policy afterwards.

use std::time::{Duration, Instant};

use warbler::policy::{CpuBudget, EvalError, PolicyRuntime, RuntimeConfig};
use warbler_guest_sdk::{Decision, Input, PolicyError};

use crate::common::{self, attack, frontend_at};

/// Run `input` through the hostile guest, then prove the runtime still serves.
fn contain(runtime: &PolicyRuntime, input: &Input) -> EvalError {
    let hostile = common::hostile(runtime);
    let err = hostile
        .evaluate(input)
        .expect_err("the attack must not produce a verdict");
    let good = common::threshold(runtime)
        .evaluate(&frontend_at(20))
        .expect("a good policy still evaluates after the attack");
    assert_eq!(good.decision, Decision::Advance { weight: 30 });
    err
}

#[test]
fn a_behaving_guest_gets_its_verdict() {
    let runtime = common::runtime();
    let verdict = common::hostile(&runtime).evaluate(&attack("none")).unwrap();
    assert_eq!(verdict.decision, Decision::Promote);
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    let runtime = common::runtime_with(RuntimeConfig {
        cpu: CpuBudget::Fuel(50_000_000),
        ..RuntimeConfig::default()
    });
    let err = contain(&runtime, &attack("infinite-loop"));
    assert!(matches!(err, EvalError::CpuBudgetExhausted { .. }), "{err}");
}

#[test]
fn an_infinite_loop_hits_the_wall_clock_deadline() {
    let runtime = common::runtime_with(RuntimeConfig {
        cpu: CpuBudget::Deadline(Duration::from_millis(50)),
        ..RuntimeConfig::default()
    });
    let hostile = common::hostile(&runtime);
    let started = Instant::now();
    let err = hostile.evaluate(&attack("infinite-loop")).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, EvalError::CpuBudgetExhausted { .. }), "{err}");
    // Generous: the point is that it stops, not how precisely.
    assert!(took < Duration::from_secs(5), "the deadline took {took:?}");
    common::threshold(&runtime)
        .evaluate(&frontend_at(20))
        .expect("a good policy still evaluates after the attack");
}

#[test]
fn a_guest_hoarding_the_earlier_steps_it_asks_for_is_stopped_by_its_bounds() {
    let runtime = common::runtime();
    let mut input = attack("earlier-steps-flood");
    input.earlier_steps = (0..20)
        .map(|step| warbler_guest_sdk::EarlierStep {
            iteration: step,
            canary_weight: 10,
            at_ms: input.now_ms - i64::from(20 - step) * 60_000,
            metrics: input.metrics.clone(),
        })
        .collect();
    let err = contain(&runtime, &input);
    assert!(
        matches!(
            err,
            EvalError::MemoryLimit { .. } | EvalError::CpuBudgetExhausted { .. }
        ),
        "{err}"
    );
}

#[test]
fn a_memory_bomb_hits_the_memory_cap() {
    let runtime = common::runtime_with(RuntimeConfig {
        memory_limit: 16 << 20,
        ..RuntimeConfig::default()
    });
    let err = contain(&runtime, &attack("memory-bomb"));
    match err {
        EvalError::MemoryLimit {
            limit, requested, ..
        } => {
            assert_eq!(limit, 16 << 20);
            assert!(requested > limit);
        }
        other => panic!("expected a memory limit error, got {other}"),
    }
}

#[test]
fn deep_recursion_traps() {
    let err = contain(&common::runtime(), &attack("deep-recursion"));
    assert!(matches!(err, EvalError::Trap { .. }), "{err}");
}

#[test]
fn a_panic_traps_and_keeps_its_message() {
    let err = contain(&common::runtime(), &attack("panic"));
    match &err {
        EvalError::Trap { output, .. } => {
            assert!(output.contains("panics on purpose"), "{err}")
        }
        other => panic!("expected a trap, got {other}"),
    }
}

#[test]
fn a_panic_message_leaves_out_the_advice_to_set_rust_backtrace() {
    let err = contain(&common::runtime(), &attack("panic")).to_string();
    assert!(err.contains("panics on purpose"), "{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "{err}");
}

#[test]
fn a_100_mb_verdict_is_stopped_by_the_memory_cap() {
    let mut input = attack("huge-output");
    input.config = r#"{"attack":"huge-output","bytes":104857600}"#.to_owned();
    let err = contain(&common::runtime(), &input);
    assert!(matches!(err, EvalError::MemoryLimit { .. }), "{err}");
}

#[test]
fn a_verdict_over_the_output_limit_is_refused() {
    let mut input = attack("huge-output");
    input.config = r#"{"attack":"huge-output","bytes":1048576}"#.to_owned();
    let err = contain(&common::runtime(), &input);
    match err {
        EvalError::OutputTooLarge { bytes, limit, .. } => {
            assert_eq!(bytes, 1 << 20);
            assert_eq!(limit, RuntimeConfig::default().max_output_bytes);
        }
        other => panic!("expected output too large, got {other}"),
    }
}

#[test]
fn opening_a_file_is_denied() {
    let err = contain(&common::runtime(), &attack("open-file"));
    match err {
        EvalError::Refused {
            error: PolicyError::Internal(message),
            ..
        } => assert!(message.starts_with("file access denied"), "{message}"),
        other => panic!("expected the guest to report denial, got {other}"),
    }
}

#[test]
fn opening_a_socket_is_denied() {
    let err = contain(&common::runtime(), &attack("open-socket"));
    match err {
        EvalError::Refused {
            error: PolicyError::Internal(message),
            ..
        } => assert!(message.starts_with("socket denied"), "{message}"),
        other => panic!("expected the guest to report denial, got {other}"),
    }
}

#[test]
fn a_log_flood_is_bounded_and_the_verdict_stands() {
    let runtime = common::runtime();
    let verdict = common::hostile(&runtime)
        .evaluate(&attack("log-flood"))
        .expect("logging too much drops lines, it does not fail");
    assert_eq!(verdict.decision, Decision::Promote);
}

/// The `entropy` attack reports the guest's wall clock and a value derived
/// from WASI randomness in its hold reason.
fn entropy(runtime: &PolicyRuntime, input: &Input) -> (u128, String) {
    let verdict = common::hostile(runtime).evaluate(input).unwrap();
    let Decision::Hold { reason, .. } = verdict.decision else {
        panic!("the entropy attack holds, got {verdict:?}");
    };
    let (millis, random) = reason.split_once(' ').expect("`MILLIS RANDOM`");
    (millis.parse().unwrap(), random.to_owned())
}

#[test]
fn the_guest_clock_reads_the_snapshot_time() {
    let runtime = common::runtime();
    let input = attack("entropy");
    let (millis, _) = entropy(&runtime, &input);
    assert_eq!(millis, input.now_ms as u128);
}

#[test]
fn guest_randomness_is_the_same_for_the_same_input() {
    let runtime = common::runtime();
    let input = attack("entropy");
    let (_, first) = entropy(&runtime, &input);
    for _ in 0..5 {
        assert_eq!(entropy(&runtime, &input).1, first);
    }
    let mut later = input.clone();
    later.now_ms += 60_000;
    assert_ne!(
        entropy(&runtime, &later).1,
        first,
        "another step gets other random bytes"
    );
}

#[test]
fn concurrent_evaluations_share_one_loaded_policy() {
    let runtime = common::runtime();
    let policy = common::threshold(&runtime);
    std::thread::scope(|scope| {
        for weight in [0, 10, 20, 30] {
            let policy = policy.clone();
            scope.spawn(move || {
                for _ in 0..50 {
                    policy.evaluate(&frontend_at(weight)).unwrap();
                }
            });
        }
    });
    assert!(std::sync::Arc::ptr_eq(
        &policy,
        &common::threshold(&runtime)
    ));
}
