//! The state machine, rule by rule, on in-memory ports with a manual clock
//! and the real built-in threshold policy.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use warbler_guest_sdk::{Decision, Phase};

use super::{Outcome, Reconciler, Severity};
use crate::canary::Canary;
use crate::judge::RuntimeJudge;
use crate::policy::{PolicyRuntime, RuntimeConfig};
use crate::ports::memory::{
    ManualClock, MemoryJournal, MemoryPlatform, MemoryRouter, ScriptedHooks, ScriptedMetrics,
};
use crate::ports::{Clock, StepOutcome};

type TestReconciler = Reconciler<
    MemoryPlatform,
    MemoryRouter,
    ScriptedMetrics,
    ScriptedHooks,
    RuntimeJudge,
    MemoryJournal,
    ManualClock,
>;

/// The seed manifest's analysis with a 10 s interval.
const FRONTEND: &str = r#"
apiVersion: warbler.dev/v1alpha1
kind: Canary
metadata: { name: frontend, namespace: podinfo }
spec:
  progressDeadlineSeconds: 60
  targetRef: { apiVersion: apps/v1, kind: Deployment, name: frontend }
  service: { port: 9898 }
  analysis:
    interval: 10s
    threshold: 3
    maxWeight: 50
    stepWeight: 10
    metrics:
    - name: request-success-rate
      thresholdRange: { min: 99 }
      interval: 1m
    - name: request-duration
      thresholdRange: { max: 250 }
      interval: 1m
"#;

fn runtime() -> Arc<PolicyRuntime> {
    static RUNTIME: OnceLock<Arc<PolicyRuntime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| Arc::new(PolicyRuntime::new(RuntimeConfig::default()).unwrap()))
        .clone()
}

struct Harness {
    ports: TestReconciler,
    canary: Canary,
}

impl Harness {
    /// The frontend canary, with `edit` applied to its spec's YAML.
    fn new(edit: impl FnOnce(&mut serde_json::Value)) -> Self {
        let mut value: serde_json::Value = serde_norway::from_str(FRONTEND).unwrap();
        edit(&mut value);
        let canary = Canary::from_yaml("test", &value.to_string()).unwrap();
        let ports = Reconciler {
            platform: MemoryPlatform::with_target("podinfo:6.0"),
            router: MemoryRouter::default(),
            metrics: ScriptedMetrics::default(),
            hooks: ScriptedHooks::default(),
            judge: RuntimeJudge::new(runtime()),
            journal: MemoryJournal::default(),
            clock: ManualClock::at(1_795_000_000_000),
        };
        ports.metrics.set("request-success-rate", 99.9);
        ports.metrics.set("request-duration", 120.0);
        Harness { ports, canary }
    }

    /// One reconcile, its status kept, the clock moved to the requeue time.
    async fn tick(&mut self) -> Outcome {
        let outcome = self.ports.reconcile(&self.canary).await.unwrap();
        self.canary.status = outcome.status.clone();
        self.ports.clock.advance(outcome.requeue_after);
        outcome
    }

    /// Tick until `phase` or give up after `max` ticks.
    async fn tick_until(&mut self, phase: Phase, max: usize) {
        for _ in 0..max {
            if self.canary.status.phase == phase {
                return;
            }
            self.tick().await;
        }
        assert_eq!(self.canary.status.phase, phase, "{:?}", self.canary.status);
    }

    /// Initialized on podinfo:6.0, then podinfo:6.1 deployed and its run
    /// started (Progressing, weight 0).
    async fn started() -> Self {
        Self::started_with(|_| {}).await
    }

    async fn started_with(edit: impl FnOnce(&mut serde_json::Value)) -> Self {
        let mut h = Harness::new(edit);
        h.tick().await;
        h.ports.platform.deploy("podinfo:6.1");
        h.tick().await;
        h
    }

    fn phase(&self) -> Phase {
        self.canary.status.phase
    }
}

#[tokio::test]
async fn a_new_canary_creates_the_primary_and_routes_all_traffic_to_it() {
    let mut h = Harness::new(|_| {});
    let outcome = h.tick().await;
    assert_eq!(h.phase(), Phase::Initialized);
    assert_eq!(
        h.ports.platform.primary_image(),
        Some("podinfo:6.0".to_owned())
    );
    assert_eq!(h.ports.router.history(), vec![0]);
    assert!(!h.ports.platform.canary_up());
    assert_eq!(
        outcome.events[0].message,
        "Initialization done! frontend.podinfo"
    );
}

#[tokio::test]
async fn an_unchanged_target_starts_no_run() {
    let mut h = Harness::new(|_| {});
    h.tick().await;
    h.tick().await;
    assert_eq!(h.phase(), Phase::Initialized);
    assert!(h.ports.journal.entries().is_empty());
}

#[tokio::test]
async fn a_new_revision_scales_the_canary_up_and_starts_progressing() {
    let h = Harness::started().await;
    assert_eq!(h.phase(), Phase::Progressing);
    assert!(h.ports.platform.canary_up());
    assert_eq!(h.canary.status.canary_weight, 0);
    assert_eq!(h.canary.status.failed_checks, 0);
}

#[tokio::test]
async fn a_healthy_canary_advances_by_step_weight_then_is_promoted() {
    let mut h = Harness::started().await;
    h.tick_until(Phase::Succeeded, 20).await;
    assert_eq!(h.ports.router.history(), vec![0, 10, 20, 30, 40, 50, 0]);
    assert_eq!(
        h.ports.platform.primary_image(),
        Some("podinfo:6.1".to_owned())
    );
    assert_eq!(h.ports.platform.promotions(), 1);
    assert!(!h.ports.platform.canary_up());
    assert_eq!(
        h.canary.status.last_promoted_spec,
        h.canary.status.last_applied_spec
    );
}

#[tokio::test]
async fn no_step_runs_before_the_interval_has_elapsed() {
    let mut h = Harness::started().await;
    let first = h.ports.reconcile(&h.canary).await.unwrap();
    assert_eq!(h.ports.journal.entries().len(), 1);
    h.canary.status = first.status;
    h.ports.clock.advance(Duration::from_secs(4));
    let early = h.ports.reconcile(&h.canary).await.unwrap();
    assert_eq!(h.ports.journal.entries().len(), 1);
    assert_eq!(early.requeue_after, Duration::from_secs(6));
}

#[tokio::test]
async fn a_failing_metric_counts_failed_checks_then_rolls_back_at_threshold() {
    let mut h = Harness::started().await;
    h.tick().await;
    h.ports.metrics.set("request-success-rate", 95.0);
    for expected in 1..=3 {
        let outcome = h.tick().await;
        assert_eq!(h.canary.status.failed_checks, expected);
        assert_eq!(outcome.events[0].severity, Severity::Warning);
    }
    h.tick().await;
    assert_eq!(h.phase(), Phase::Failed);
    assert_eq!(h.ports.router.weight(), 0);
    assert!(!h.ports.platform.canary_up());
    assert_eq!(
        h.ports.platform.primary_image(),
        Some("podinfo:6.0".to_owned())
    );
}

#[tokio::test]
async fn failed_checks_are_not_reset_by_a_passing_step() {
    let mut h = Harness::started().await;
    h.tick().await;
    h.ports.metrics.set("request-duration", 900.0);
    h.tick().await;
    h.ports.metrics.set("request-duration", 100.0);
    h.tick().await;
    assert_eq!(h.canary.status.failed_checks, 1);
    assert_eq!(h.canary.status.canary_weight, 20);
}

#[tokio::test]
async fn a_metric_without_values_is_a_failed_check() {
    let mut h = Harness::started().await;
    h.tick().await;
    h.ports.metrics.clear("request-duration");
    let outcome = h.tick().await;
    assert_eq!(h.canary.status.failed_checks, 1);
    assert!(
        outcome.events[0].message.contains("no values found"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn the_confirm_rollout_gate_holds_the_run_in_waiting_until_it_opens() {
    let mut h = Harness::started_with(|c| {
        c["spec"]["analysis"]["webhooks"] = serde_json::json!([
            { "name": "approve", "type": "confirm-rollout", "url": "http://gate/" }
        ]);
    })
    .await;
    assert_eq!(h.phase(), Phase::Progressing);
    h.ports.hooks.set_passing("approve", false);
    h.ports.platform.deploy("podinfo:6.2");
    h.tick().await;
    assert_eq!(h.phase(), Phase::Waiting);
    h.tick().await;
    assert_eq!(h.phase(), Phase::Waiting);
    h.ports.hooks.set_passing("approve", true);
    let outcome = h.tick().await;
    assert_eq!(h.phase(), Phase::Progressing);
    assert_eq!(
        outcome.events[0].message,
        "Confirm-rollout check approve passed"
    );
}

#[tokio::test]
async fn a_gate_is_called_with_the_progressing_phase_as_in_flagger() {
    let mut h = Harness::started_with(|c| {
        c["spec"]["analysis"]["webhooks"] = serde_json::json!([
            { "name": "approve", "type": "confirm-rollout", "url": "http://gate/" }
        ]);
    })
    .await;
    h.ports.hooks.set_passing("approve", false);
    h.ports.platform.deploy("podinfo:6.2");
    h.tick().await;
    h.tick().await;
    assert_eq!(h.phase(), Phase::Waiting);
    let phases = h.ports.hooks.payload_phases();
    assert!(phases.len() >= 2, "{phases:?}");
    assert!(
        phases.iter().all(|(_, phase)| *phase == Phase::Progressing),
        "{phases:?}"
    );
}

#[tokio::test]
async fn the_confirm_traffic_increase_gate_holds_the_weight_without_failing() {
    let mut h = Harness::started_with(|c| {
        c["spec"]["analysis"]["webhooks"] = serde_json::json!([
            { "name": "more", "type": "confirm-traffic-increase", "url": "http://gate/" }
        ]);
    })
    .await;
    h.ports.hooks.set_passing("more", false);
    h.tick().await;
    h.tick().await;
    assert_eq!(h.canary.status.canary_weight, 0);
    assert_eq!(h.canary.status.failed_checks, 0);
    h.ports.hooks.set_passing("more", true);
    h.tick().await;
    assert_eq!(h.canary.status.canary_weight, 10);
}

#[tokio::test]
async fn the_confirm_promotion_gate_waits_in_waiting_promotion() {
    let mut h = Harness::started_with(|c| {
        c["spec"]["analysis"]["webhooks"] = serde_json::json!([
            { "name": "ship-it", "type": "confirm-promotion", "url": "http://gate/" }
        ]);
    })
    .await;
    h.ports.hooks.set_passing("ship-it", false);
    h.tick_until(Phase::WaitingPromotion, 10).await;
    h.tick().await;
    assert_eq!(h.phase(), Phase::WaitingPromotion);
    assert_eq!(h.ports.platform.promotions(), 0);
    h.ports.hooks.set_passing("ship-it", true);
    h.tick_until(Phase::Succeeded, 5).await;
    assert_eq!(h.ports.platform.promotions(), 1);
}

#[tokio::test]
async fn an_open_rollback_gate_rolls_the_run_back() {
    let mut h = Harness::started_with(|c| {
        c["spec"]["analysis"]["webhooks"] = serde_json::json!([
            { "name": "abort", "type": "rollback", "url": "http://gate/" }
        ]);
    })
    .await;
    h.ports.hooks.set_passing("abort", false);
    h.tick().await;
    assert_eq!(h.canary.status.canary_weight, 10);
    h.ports.hooks.set_passing("abort", true);
    let outcome = h.tick().await;
    assert_eq!(h.phase(), Phase::Failed);
    assert!(outcome.events[0].message.contains("rollback webhook abort"));
}

#[tokio::test]
async fn a_revision_change_mid_run_routes_to_primary_and_restarts_the_analysis() {
    let mut h = Harness::started().await;
    h.tick().await;
    h.tick().await;
    h.ports.metrics.set("request-success-rate", 90.0);
    h.tick().await;
    assert_eq!(h.canary.status.canary_weight, 20);
    h.ports.platform.deploy("podinfo:6.2");
    let outcome = h.tick().await;
    assert_eq!(h.ports.router.weight(), 0);
    assert_eq!(h.canary.status.canary_weight, 0);
    assert_eq!(h.canary.status.failed_checks, 0);
    assert_eq!(h.phase(), Phase::Progressing);
    assert!(
        outcome.events[0]
            .message
            .starts_with("New revision detected! Restarting")
    );
}

#[tokio::test]
async fn a_canary_not_ready_past_the_progress_deadline_rolls_back() {
    let mut h = Harness::new(|_| {});
    h.tick().await;
    h.ports.platform.set_canary_ready(false);
    h.ports.platform.deploy("podinfo:6.1");
    h.tick().await;
    h.tick().await;
    assert_eq!(h.phase(), Phase::Progressing);
    h.ports.clock.advance(Duration::from_secs(61));
    let outcome = h.tick().await;
    assert_eq!(h.phase(), Phase::Failed);
    assert!(
        outcome.events[0]
            .message
            .contains("progressDeadlineSeconds (60s)")
    );
}

#[tokio::test]
async fn skip_analysis_promotes_without_a_step() {
    let mut h = Harness::started_with(|c| c["spec"]["skipAnalysis"] = true.into()).await;
    h.tick_until(Phase::Succeeded, 5).await;
    assert!(h.ports.journal.entries().is_empty());
    assert_eq!(
        h.ports.platform.primary_image(),
        Some("podinfo:6.1".to_owned())
    );
}

#[tokio::test]
async fn a_suspended_canary_is_left_alone() {
    let mut h = Harness::new(|c| c["spec"]["suspend"] = true.into());
    h.tick().await;
    assert_eq!(h.phase(), Phase::Initializing);
    assert!(h.ports.router.history().is_empty());
}

#[tokio::test]
async fn step_weight_promotion_moves_traffic_back_gradually() {
    let mut h = Harness::started_with(|c| {
        c["spec"]["analysis"]["stepWeightPromotion"] = 20.into();
    })
    .await;
    h.tick_until(Phase::Succeeded, 20).await;
    assert_eq!(
        h.ports.router.history(),
        vec![0, 10, 20, 30, 40, 50, 30, 10, 0]
    );
}

#[tokio::test]
async fn blue_green_counts_iterations_then_promotes() {
    let mut h = Harness::started_with(|c| {
        let analysis = &mut c["spec"]["analysis"];
        analysis["iterations"] = 3.into();
        analysis.as_object_mut().unwrap().remove("stepWeight");
    })
    .await;
    h.tick_until(Phase::Succeeded, 12).await;
    let decisions: Vec<Decision> = h
        .ports
        .journal
        .entries()
        .into_iter()
        .map(|e| e.outcome.unwrap().decision)
        .collect();
    // As in Flagger, the first (pre-rollout) step counts as an iteration.
    assert_eq!(decisions.len(), 4, "three iterations, then promote");
    assert_eq!(decisions.last(), Some(&Decision::Promote));
}

#[tokio::test]
async fn blue_green_serves_everyone_from_the_canary_while_the_primary_is_updated() {
    let mut h = Harness::started_with(|c| {
        let analysis = &mut c["spec"]["analysis"];
        analysis["iterations"] = 2.into();
        analysis.as_object_mut().unwrap().remove("stepWeight");
    })
    .await;
    h.tick_until(Phase::Promoting, 10).await;
    assert_eq!(h.ports.router.weight(), 100, "all traffic on the canary");
    assert_eq!(h.ports.platform.promotions(), 1);
    h.tick_until(Phase::Succeeded, 5).await;
    assert_eq!(h.ports.router.history(), vec![0, 100, 0]);
}

#[tokio::test]
async fn a_policy_failure_counts_as_a_failed_check() {
    let mut h = Harness::started_with(|c| {
        c["spec"]["analysis"]["policy"] = serde_json::json!({ "ref": "/nonexistent/policy.wasm" });
    })
    .await;
    let outcome = h.tick().await;
    assert_eq!(h.canary.status.failed_checks, 1);
    assert_eq!(h.phase(), Phase::Progressing);
    assert!(
        outcome
            .events
            .iter()
            .any(|e| e.message.contains("cannot read policy file")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn each_step_journals_the_digest_of_the_component_that_judged() {
    let mut h = Harness::started().await;
    h.tick().await;
    let checked = h.ports.judge.check(&h.canary).await.unwrap();
    let entries = h.ports.journal.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].policy_digest.as_deref(),
        Some(checked.digest.as_str())
    );
}

#[tokio::test]
async fn a_step_whose_policy_cannot_load_journals_no_digest() {
    let mut h = Harness::started_with(|c| {
        c["spec"]["analysis"]["policy"] = serde_json::json!({ "ref": "/nonexistent/policy.wasm" });
    })
    .await;
    h.tick().await;
    assert_eq!(h.ports.journal.entries()[0].policy_digest, None);
}

#[tokio::test]
async fn a_policy_failure_rolls_back_when_so_configured() {
    let mut h = Harness::started_with(|c| {
        c["spec"]["analysis"]["policy"] =
            serde_json::json!({ "ref": "builtin:threshold", "config": { "bogus": 1 }, "onError": "rollback" });
    })
    .await;
    h.tick().await;
    assert_eq!(h.phase(), Phase::Failed);
}

#[tokio::test]
async fn every_step_is_journaled_with_its_input_and_verdict() {
    let mut h = Harness::started().await;
    h.tick().await;
    h.tick().await;
    let entries = h.ports.journal.entries();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].canary, "podinfo/frontend");
    assert_eq!(entries[1].policy, "builtin:threshold");
    assert_eq!(entries[1].input.state.canary_weight, 10);
    assert_eq!(entries[1].input.metrics[0].canary, Some(99.9));
    assert_eq!(entries[1].input.history.len(), 1);
    assert_eq!(
        entries[1].outcome.as_ref().unwrap().decision,
        Decision::Advance { weight: 20 }
    );
}

#[tokio::test]
async fn a_run_resumes_from_its_persisted_status_and_promotes_once() {
    let mut h = Harness::started().await;
    h.tick().await;
    h.tick().await;
    // A restart: the status goes through its serialized form, as it would
    // through the Kubernetes API, and a new reconcile picks it up.
    let stored = serde_json::to_string(&h.canary.status).unwrap();
    h.canary.status = serde_json::from_str(&stored).unwrap();
    assert_eq!(h.canary.status.canary_weight, 20);
    h.tick_until(Phase::Succeeded, 20).await;
    assert_eq!(h.ports.router.history(), vec![0, 10, 20, 30, 40, 50, 0]);
    assert_eq!(h.ports.platform.promotions(), 1);
}

#[tokio::test]
async fn post_rollout_hooks_run_after_promotion() {
    let mut h = Harness::started_with(|c| {
        c["spec"]["analysis"]["webhooks"] = serde_json::json!([
            { "name": "notify", "type": "post-rollout", "url": "http://hook/" }
        ]);
    })
    .await;
    h.tick_until(Phase::Finalising, 20).await;
    assert!(h.ports.hooks.calls().is_empty());
    h.tick().await;
    assert_eq!(h.ports.hooks.calls(), vec!["notify".to_owned()]);
}

/// The frontend canary with a post-rollout hook `notify`, its run started.
async fn with_post_rollout_hook() -> Harness {
    Harness::started_with(|c| {
        c["spec"]["analysis"]["webhooks"] = serde_json::json!([
            { "name": "notify", "type": "post-rollout", "url": "http://hook/" }
        ]);
    })
    .await
}

#[tokio::test]
async fn a_post_rollout_hook_is_told_the_run_succeeded() {
    let mut h = with_post_rollout_hook().await;
    h.tick_until(Phase::Succeeded, 20).await;
    assert_eq!(
        h.ports.hooks.payload_phases(),
        vec![("notify".to_owned(), Phase::Succeeded)]
    );
}

#[tokio::test]
async fn a_post_rollout_hook_is_told_the_run_failed() {
    let mut h = with_post_rollout_hook().await;
    h.ports.metrics.set("request-success-rate", 90.0);
    h.tick_until(Phase::Failed, 10).await;
    assert_eq!(
        h.ports.hooks.payload_phases(),
        vec![("notify".to_owned(), Phase::Failed)]
    );
}

#[tokio::test]
async fn every_passed_check_is_an_event_as_in_flagger() {
    let mut h = Harness::started_with(|c| {
        c["spec"]["analysis"]["webhooks"] = serde_json::json!([
            { "name": "smoke", "type": "pre-rollout", "url": "http://hook/" },
            { "name": "ship-it", "type": "confirm-promotion", "url": "http://gate/" },
            { "name": "notify", "type": "post-rollout", "url": "http://hook/" }
        ]);
    })
    .await;
    let mut messages = Vec::new();
    for _ in 0..20 {
        let outcome = h.tick().await;
        messages.extend(outcome.events.into_iter().map(|e| e.message));
        if h.phase() == Phase::Succeeded {
            break;
        }
    }
    for expected in [
        "Starting canary analysis for frontend.podinfo",
        "Pre-rollout check smoke passed",
        "Confirm-promotion check ship-it passed",
        "Post-rollout check notify passed",
    ] {
        assert!(
            messages.iter().any(|m| m == expected),
            "no event `{expected}` in {messages:#?}"
        );
    }
}

#[tokio::test]
async fn a_failed_pre_rollout_hook_fails_the_first_step() {
    let mut h = Harness::started_with(|c| {
        c["spec"]["analysis"]["webhooks"] = serde_json::json!([
            { "name": "smoke", "type": "pre-rollout", "url": "http://hook/" }
        ]);
    })
    .await;
    h.ports.hooks.set_passing("smoke", false);
    h.tick().await;
    assert_eq!(h.canary.status.failed_checks, 1);
    assert_eq!(h.canary.status.canary_weight, 0);
}

/// The hostile test guest as the Canary's policy, attacking with `attack`.
fn hostile_policy(attack: &str) -> impl FnOnce(&mut serde_json::Value) {
    let attack = attack.to_owned();
    move |c| {
        c["spec"]["analysis"]["policy"] = serde_json::json!({
            "ref": warbler_test_guests::HOSTILE,
            "config": { "attack": attack },
            "maxHolds": 2,
        });
    }
}

#[tokio::test]
async fn a_policy_that_always_fails_is_rolled_back_at_the_threshold_whatever_it_says() {
    let mut h = Harness::started_with(hostile_policy("panic")).await;
    for expected in 1..=3 {
        h.tick().await;
        assert_eq!(h.canary.status.failed_checks, expected);
        assert_eq!(h.phase(), Phase::Progressing);
    }
    h.tick().await;
    assert_eq!(h.phase(), Phase::Failed);
    assert_eq!(
        h.canary.status.message,
        "rolled back: failed checks threshold reached 3"
    );
    assert_eq!(h.ports.router.weight(), 0);
}

#[tokio::test]
async fn an_advance_to_a_lower_weight_reduces_traffic_and_is_not_an_iteration() {
    let mut h = Harness::started_with(hostile_policy("back-off")).await;
    h.tick().await;
    assert_eq!(
        (h.canary.status.canary_weight, h.canary.status.iterations),
        (40, 1)
    );
    let outcome = h.tick().await;
    assert_eq!(h.canary.status.canary_weight, 20);
    assert_eq!(h.canary.status.iterations, 1, "backing off is no progress");
    assert_eq!(h.canary.status.failed_checks, 0);
    assert_eq!(h.phase(), Phase::Progressing);
    assert_eq!(h.ports.router.history(), vec![0, 40, 20]);
    assert!(
        outcome
            .events
            .iter()
            .any(|e| e.message == "Reduce frontend.podinfo canary weight 20"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_policy_that_holds_forever_fails_a_check_for_each_hold_past_max_holds() {
    let mut h = Harness::started_with(hostile_policy("hold-forever")).await;
    h.tick().await;
    h.tick().await;
    assert_eq!(h.canary.status.failed_checks, 0, "two holds are free");
    let outcome = h.tick().await;
    assert_eq!(h.canary.status.failed_checks, 1);
    assert!(
        outcome
            .events
            .iter()
            .any(|e| e.message.contains("over spec.analysis.policy.maxHolds (2)")),
        "{outcome:?}"
    );
    h.tick_until(Phase::Failed, 4).await;
    assert_eq!(h.ports.router.weight(), 0);
}

#[tokio::test]
async fn the_host_rolls_back_at_the_threshold_before_calling_hooks_or_querying_metrics() {
    let mut h = Harness::started_with(|c| {
        c["spec"]["analysis"]["threshold"] = serde_json::json!(1);
        c["spec"]["analysis"]["webhooks"] = serde_json::json!([
            { "name": "load", "type": "rollout", "url": "http://load/" }
        ]);
    })
    .await;
    h.tick().await;
    h.ports.metrics.set("request-success-rate", 95.0);
    h.tick().await;
    assert_eq!(h.canary.status.failed_checks, 1);
    let calls = h.ports.hooks.calls().len();
    let steps = h.ports.journal.entries().len();
    h.tick().await;
    assert_eq!(h.phase(), Phase::Failed);
    assert_eq!(h.ports.hooks.calls().len(), calls, "no load test fired");
    assert_eq!(h.ports.journal.entries().len(), steps, "nothing judged");
}

#[tokio::test]
async fn no_step_is_judged_while_the_primary_is_down_and_none_counts_as_failed() {
    let mut h = Harness::started().await;
    h.tick().await;
    let weight = h.canary.status.canary_weight;
    let steps = h.ports.journal.entries().len();
    h.ports.platform.set_primary_ready(false);
    for _ in 0..5 {
        let outcome = h.tick().await;
        assert!(
            outcome.events[0]
                .message
                .contains("the primary is not ready"),
            "{outcome:?}"
        );
    }
    assert_eq!(h.phase(), Phase::Progressing);
    assert_eq!(h.canary.status.canary_weight, weight);
    assert_eq!(h.canary.status.failed_checks, 0);
    assert_eq!(h.ports.journal.entries().len(), steps);
    h.ports.platform.set_primary_ready(true);
    h.tick().await;
    assert!(h.canary.status.canary_weight > weight);
}

#[tokio::test]
async fn the_progress_deadline_counts_from_when_the_canary_stopped_being_ready() {
    let mut h = Harness::started().await;
    h.ports.clock.advance(Duration::from_secs(70));
    h.tick().await;
    assert!(h.ports.clock.now_ms() - h.canary.status.run_started_ms.unwrap() > 60_000);
    h.ports.platform.set_canary_ready(false);
    h.tick().await;
    assert_eq!(
        h.phase(),
        Phase::Progressing,
        "one crash is not a missed deadline"
    );
    h.ports.clock.advance(Duration::from_secs(50));
    h.tick().await;
    assert_eq!(h.phase(), Phase::Progressing);
    h.ports.clock.advance(Duration::from_secs(20));
    h.tick().await;
    assert_eq!(h.phase(), Phase::Failed);
    assert!(
        h.canary
            .status
            .message
            .contains("progressDeadlineSeconds (60s)"),
        "{}",
        h.canary.status.message
    );
}

#[tokio::test]
async fn a_canary_ready_again_restarts_the_progress_deadline() {
    let mut h = Harness::started().await;
    h.ports.platform.set_canary_ready(false);
    h.tick().await;
    h.ports.clock.advance(Duration::from_secs(50));
    h.tick().await;
    h.ports.platform.set_canary_ready(true);
    h.tick().await;
    h.ports.platform.set_canary_ready(false);
    h.ports.clock.advance(Duration::from_secs(50));
    h.tick().await;
    assert_eq!(h.phase(), Phase::Progressing);
    assert!(h.canary.status.canary_unready_since_ms.is_some());
}

/// The frontend canary with `shadows` as its shadow policies, its run
/// started.
async fn with_shadows(shadows: serde_json::Value) -> Harness {
    Harness::started_with(|c| c["spec"]["analysis"]["shadowPolicies"] = shadows).await
}

/// Tick to `phase`, collecting every event's message on the way.
async fn events_until(h: &mut Harness, phase: Phase) -> Vec<String> {
    let mut events = Vec::new();
    for _ in 0..20 {
        if h.phase() == phase {
            return events;
        }
        events.extend(h.tick().await.events.into_iter().map(|e| e.message));
    }
    panic!("never reached {phase:?}: {:?}", h.canary.status);
}

#[tokio::test]
async fn a_shadow_that_always_rolls_back_cannot_stop_a_promotion() {
    let mut h = with_shadows(serde_json::json!([{
        "ref": warbler_test_guests::HOSTILE,
        "name": "always-rollback",
        "config": { "attack": "huge-output", "bytes": 1 },
    }]))
    .await;
    let events = events_until(&mut h, Phase::Succeeded).await;
    assert_eq!(h.ports.router.history(), vec![0, 10, 20, 30, 40, 50, 0]);
    assert!(
        events.contains(
            &"Shadow policy always-rollback of frontend.podinfo would have decided otherwise: rollback: x"
                .to_owned()
        ),
        "{events:#?}"
    );
    let entries = h.ports.journal.entries();
    assert!(entries.iter().all(|e| e.shadows.len() == 1
        && e.shadows[0].policy == "always-rollback"
        && matches!(&e.shadows[0].outcome, StepOutcome::Verdict(v) if v.decision == Decision::Rollback { reason: "x".to_owned() })));
    assert_eq!(h.canary.status.shadow_verdicts[0].verdict, "rollback: x");
}

#[tokio::test]
async fn a_shadow_that_traps_cannot_stop_a_promotion_nor_count_a_failed_check() {
    let mut h = with_shadows(serde_json::json!([{
        "ref": warbler_test_guests::HOSTILE,
        "config": { "attack": "panic" },
    }]))
    .await;
    let mut failed_checks = Vec::new();
    while h.phase() != Phase::Succeeded {
        h.tick().await;
        failed_checks.push(h.canary.status.failed_checks);
        assert!(failed_checks.len() < 20, "{:?}", h.canary.status);
    }
    assert!(failed_checks.iter().all(|&n| n == 0), "{failed_checks:?}");
    let entries = h.ports.journal.entries();
    assert!(
        entries.iter().all(|e| matches!(&e.shadows[0].outcome, StepOutcome::Error(why) if why.contains("panics on purpose"))),
        "{entries:#?}"
    );
}

#[tokio::test]
async fn a_shadow_that_agrees_with_the_active_policy_raises_no_event() {
    let mut h = with_shadows(serde_json::json!([{ "ref": "builtin:threshold" }])).await;
    let events = events_until(&mut h, Phase::Succeeded).await;
    assert!(
        !events.iter().any(|e| e.starts_with("Shadow policy")),
        "{events:#?}"
    );
    assert_eq!(
        h.canary.status.shadow_verdicts[0].policy,
        "builtin:threshold"
    );
}
