//! One analysis step: readiness, interval, hooks, metrics, the policy's
//! verdict, and applying it.

use warbler_guest_sdk::{
    Analysis, CanaryRef, Decision, Input, Metric, PastStep, Phase, RolloutState, ThresholdRange,
    Verdict,
};

use super::{Outcome, Reconciler, Step, hooks_of};
use crate::canary::{
    Canary, DEFAULT_MAX_HOLDS, HISTORY_LEN, MetricSpec, OnPolicyError, ShadowVerdict, WebhookKind,
};
use crate::ports::{
    Clock, Hooks, Journal, JournalEntry, Judge, MetricSource, Platform, PortError, Readiness,
    Router, ShadowOutcome,
};

/// The policy used when a Canary names none: Flagger's analysis.
pub const DEFAULT_POLICY: &str = "builtin:threshold";

impl<P, R, M, H, G, J, C> Reconciler<P, R, M, H, G, J, C>
where
    P: Platform,
    R: Router,
    M: MetricSource,
    H: Hooks,
    G: Judge,
    J: Journal,
    C: Clock,
{
    /// Progressing or WaitingPromotion: run a step when the interval is due.
    pub(super) async fn analyse(&self, mut step: Step<'_>) -> Result<Outcome, PortError> {
        let canary = step.canary;
        if let Readiness::NotReady(why) = self.platform.primary_readiness(canary).await? {
            // As Flagger: no step is judged against a primary that is down,
            // and waiting for it is not the canary's failure.
            step.warn(format!(
                "Halt advancement {}-primary.{}: the primary is not ready: {why}",
                canary.spec.target_ref.name, canary.metadata.namespace
            ));
            step.status.message = format!("waiting for the primary: {why}");
            let wait = step.soon();
            return Ok(step.done(wait));
        }
        if let Readiness::NotReady(why) = self.platform.canary_readiness(canary).await? {
            let deadline_ms = i64::from(canary.spec.progress_deadline_seconds) * 1000;
            let since = *step
                .status
                .canary_unready_since_ms
                .get_or_insert(step.now_ms);
            if step.now_ms - since > deadline_ms {
                let reason = format!(
                    "canary not ready for more than progressDeadlineSeconds ({}s): {why}",
                    canary.spec.progress_deadline_seconds
                );
                return self.roll_back(step, reason).await;
            }
            step.status.message = format!("waiting for the canary: {why}");
            let wait = step.soon();
            return Ok(step.done(wait));
        }
        step.status.canary_unready_since_ms = None;
        if canary.spec.skip_analysis {
            step.info(format!(
                "Analysis skipped for {}, promoting",
                canary.metadata.name
            ));
            return self.promote(step).await;
        }
        let interval_ms = step.interval().as_millis() as i64;
        if let Some(last) = step.status.last_step_ms {
            let due = last + interval_ms;
            if step.now_ms < due {
                let wait = std::time::Duration::from_millis((due - step.now_ms) as u64);
                return Ok(step.done(wait));
            }
        }
        // The host's rule, whatever the policy would say: failed checks
        // (policy failures included) reaching the threshold roll back, and,
        // as Flagger, before any hook is called or metric queried.
        let threshold = canary.spec.analysis.threshold.max(1);
        if step.status.failed_checks >= threshold {
            let reason = format!(
                "failed checks threshold reached {}",
                step.status.failed_checks
            );
            return self.roll_back(step, reason).await;
        }
        step.status.last_step_ms = Some(step.now_ms);
        step.status.steps += 1;

        if step.status.canary_weight == 0 && step.status.iterations == 0 {
            step.info(format!(
                "Starting canary analysis for {}.{}",
                canary.spec.target_ref.name, canary.metadata.namespace
            ));
        }
        let mut input = self.snapshot(&step).await;
        let run_started_ms = step.status.run_started_ms.unwrap_or_default();
        if self.judge.reads_earlier_steps(canary).await {
            input.earlier_steps = self
                .journal
                .earlier_steps(&canary.key(), run_started_ms, step.status.steps)
                .await?;
        }
        let passed_pre_rollout = input
            .webhooks
            .iter()
            .filter(|hook| hook.kind == WebhookKind::PreRollout && hook.passed);
        for hook in passed_pre_rollout {
            step.info(format!("Pre-rollout check {} passed", hook.name));
        }
        let policy = policy_label(canary);
        let outcome = self.judge.judge(canary, &input).await;
        let shadows = self.shadows(&mut step, &input, &outcome).await;
        // Each step's entry records its own metrics: repeating the earlier
        // steps' would grow the journal with the square of a run's length.
        input.earlier_steps.clear();
        self.journal
            .append(&JournalEntry {
                canary: canary.key(),
                policy: policy.clone(),
                policy_digest: self.judge.policy_digest(canary),
                run_started_ms,
                step: step.status.steps,
                at_ms: step.now_ms,
                input,
                shadows,
                outcome: outcome.clone(),
            })
            .await?;
        let verdict = match outcome {
            Ok(verdict) => verdict,
            Err(failure) => {
                let reason = format!("policy {policy} failed: {failure}");
                let on_error = canary.spec.analysis.policy.as_ref().map(|p| p.on_error);
                if on_error == Some(OnPolicyError::Rollback) {
                    return self.roll_back(step, reason).await;
                }
                Verdict::fail(reason)
            }
        };
        self.apply(step, verdict).await
    }

    /// Judge the step with each shadow policy, on the same input with the
    /// shadow's own configuration. Nothing acts on their verdicts: they are
    /// kept in the status, and a shadow that decides otherwise than the
    /// active policy (or fails) says so in an event.
    async fn shadows(
        &self,
        step: &mut Step<'_>,
        input: &Input,
        active: &Result<Verdict, String>,
    ) -> Vec<ShadowOutcome> {
        let canary = step.canary;
        let (mut outcomes, mut verdicts) = (Vec::new(), Vec::new());
        for shadow in &canary.spec.analysis.shadow_policies {
            let mut own = input.clone();
            own.config = shadow.config_text();
            let outcome = self.judge.judge_shadow(shadow, &own).await;
            let label = shadow.label();
            let said = match &outcome {
                Ok(verdict) => verdict.decision.to_string(),
                Err(failure) => format!("failed: {failure}"),
            };
            let agrees = match (&outcome, active) {
                (Ok(shadow), Ok(active)) => shadow.decision == active.decision,
                _ => false,
            };
            if !agrees {
                step.info(format!(
                    "Shadow policy {label} of {}.{} would have decided otherwise: {said}",
                    canary.metadata.name, canary.metadata.namespace
                ));
            }
            verdicts.push(ShadowVerdict {
                policy: label.to_owned(),
                verdict: said,
            });
            outcomes.push(ShadowOutcome {
                policy: label.to_owned(),
                outcome: outcome.into(),
            });
        }
        step.status.shadow_verdicts = verdicts;
        outcomes
    }

    /// Gather this step's facts into the policy's input.
    async fn snapshot(&self, step: &Step<'_>) -> Input {
        let canary = step.canary;
        let status = &step.status;
        let first_step = status.canary_weight == 0 && status.iterations == 0;
        let kind = if first_step {
            WebhookKind::PreRollout
        } else {
            WebhookKind::Rollout
        };
        let mut webhooks = Vec::new();
        for hook in hooks_of(canary, kind) {
            webhooks.push(self.hooks.call(canary, hook).await);
        }
        let analysis = &canary.spec.analysis;
        let mut metrics = Vec::new();
        for spec in &analysis.metrics {
            let measured = self.metrics.measure(canary, spec, step.now_ms).await;
            metrics.push(Metric {
                name: spec.name.clone(),
                canary: measured.canary,
                primary: measured.primary,
                canary_series: measured.canary_series,
                primary_series: measured.primary_series,
                threshold_range: threshold_range(spec),
                interval_seconds: spec.interval.unwrap_or(analysis.interval).as_secs() as u32,
                note: measured.note,
            });
        }
        Input {
            canary: CanaryRef {
                name: canary.metadata.name.clone(),
                namespace: canary.metadata.namespace.clone(),
                revision: status.last_applied_spec.clone().unwrap_or_default(),
            },
            analysis: Analysis {
                interval_seconds: analysis.interval.as_secs() as u32,
                threshold: analysis.threshold,
                step_weight: analysis.step_weight,
                step_weights: analysis.step_weights.clone(),
                max_weight: analysis.max_weight,
                iterations: analysis.iterations,
            },
            state: RolloutState {
                phase: status.phase,
                canary_weight: status.canary_weight,
                failed_checks: status.failed_checks,
                iteration: status.iterations,
                elapsed_seconds: status
                    .run_started_ms
                    .map(|started| ((step.now_ms - started).max(0) / 1000) as u64)
                    .unwrap_or_default(),
            },
            metrics,
            webhooks,
            history: status.history.clone(),
            now_ms: step.now_ms,
            config: policy_config(canary),
            earlier_steps: Vec::new(),
        }
    }

    /// Carry out a verdict.
    async fn apply(&self, mut step: Step<'_>, verdict: Verdict) -> Result<Outcome, PortError> {
        let canary = step.canary;
        let name = &canary.metadata.name;
        let namespace = &canary.metadata.namespace;
        remember(&mut step, &verdict);
        if !matches!(verdict.decision, Decision::Hold { .. }) {
            step.status.consecutive_holds = 0;
        }
        match verdict.decision {
            Decision::Advance { weight } if weight > step.status.canary_weight => {
                if let Some(gate) = self
                    .closed_gate(canary, WebhookKind::ConfirmTrafficIncrease)
                    .await
                {
                    step.status.message =
                        format!("waiting for traffic increase approval from {gate}");
                    step.info(format!(
                        "Halt {name}.{namespace} advancement waiting for traffic increase approval {gate}"
                    ));
                } else {
                    self.router.set_canary_weight(canary, weight).await?;
                    step.status.canary_weight = weight;
                    step.status.iterations += 1;
                    step.status.message = format!("canary weight {weight}");
                    step.info(format!("Advance {name}.{namespace} canary weight {weight}"));
                }
            }
            // A policy may back off; traffic going down is not progress, so
            // it is not an iteration and needs no gate.
            Decision::Advance { weight } if weight < step.status.canary_weight => {
                self.router.set_canary_weight(canary, weight).await?;
                step.status.canary_weight = weight;
                step.status.message = format!("canary weight reduced to {weight}");
                step.info(format!("Reduce {name}.{namespace} canary weight {weight}"));
            }
            Decision::Advance { .. } => {
                step.status.iterations += 1;
                let total = canary.spec.analysis.iterations.unwrap_or(0);
                let done = step.status.iterations;
                step.status.message = format!("iteration {done}/{total}");
                step.info(format!(
                    "Advance {name}.{namespace} canary iteration {done}/{total}"
                ));
            }
            Decision::Hold { reason, failed } => {
                step.status.consecutive_holds = if failed {
                    0
                } else {
                    step.status.consecutive_holds + 1
                };
                let max_holds = max_holds(canary);
                if failed || step.status.consecutive_holds > max_holds {
                    step.status.failed_checks += 1;
                    step.warn(reason.clone());
                    if !failed {
                        step.warn(format!(
                            "{name}.{namespace} held {} steps in a row, over spec.analysis.policy.maxHolds ({max_holds}): the hold counts as a failed check",
                            step.status.consecutive_holds
                        ));
                    }
                } else {
                    step.info(reason.clone());
                }
                step.status.message = reason;
            }
            Decision::Promote => return self.promote(step).await,
            Decision::Rollback { reason } => return self.roll_back(step, reason).await,
        }
        let wait = step.interval();
        Ok(step.done(wait))
    }

    /// Pass the confirm-promotion gate, then copy the canary to the primary.
    async fn promote(&self, mut step: Step<'_>) -> Result<Outcome, PortError> {
        let canary = step.canary;
        let name = &canary.metadata.name;
        let namespace = &canary.metadata.namespace;
        if let Some(gate) = self
            .closed_gate(canary, WebhookKind::ConfirmPromotion)
            .await
        {
            if step.status.phase != Phase::WaitingPromotion {
                step.info(format!(
                    "Halt {name}.{namespace} advancement waiting for promotion approval {gate}"
                ));
            }
            step.set_phase(
                Phase::WaitingPromotion,
                format!("waiting for promotion approval from {gate}"),
            );
            let wait = step.interval();
            return Ok(step.done(wait));
        }
        for hook in hooks_of(canary, WebhookKind::ConfirmPromotion) {
            step.info(format!("Confirm-promotion check {} passed", hook.name));
        }
        // Blue/green, as Flagger: the canary that passed every iteration
        // takes all the traffic while the primary is updated, so no user is
        // served by a primary mid-rollout; promoting routes it back.
        if canary.spec.analysis.iterations.is_some_and(|n| n > 0) && step.status.canary_weight < 100
        {
            self.router.set_canary_weight(canary, 100).await?;
            step.status.canary_weight = 100;
            step.info("Routing all traffic to canary".to_owned());
        }
        self.platform.promote(canary).await?;
        let target = &canary.spec.target_ref.name;
        step.info(format!(
            "Copying {target}.{namespace} template spec to {target}-primary.{namespace}"
        ));
        step.set_phase(Phase::Promoting, "copying the canary's spec to the primary");
        let wait = step.soon();
        Ok(step.done(wait))
    }
}

/// The module of the policy a Canary names, or the default. `Err` says
/// which shared policy (`policyRef`) the Canary names and could not adopt:
/// its steps fail safe until the policy object is back.
pub fn policy_ref(canary: &Canary) -> Result<&str, String> {
    let Some(policy) = canary.spec.analysis.policy.as_ref() else {
        return Ok(DEFAULT_POLICY);
    };
    match (&policy.reference, &policy.policy_ref) {
        (Some(reference), _) => Ok(reference),
        (None, Some(shared)) => Err(format!(
            "{} is not available; create it or fix spec.analysis.policy.policyRef",
            shared.describe(&canary.metadata.namespace)
        )),
        (None, None) => {
            Err("spec.analysis.policy names no policy; set ref or policyRef".to_owned())
        }
    }
}

/// How logs, events and the journal name the policy a Canary names.
pub fn policy_label(canary: &Canary) -> String {
    match policy_ref(canary) {
        Ok(reference) => reference.to_owned(),
        Err(_) => canary
            .policy_object()
            .map(|shared| shared.describe(&canary.metadata.namespace))
            .unwrap_or_default(),
    }
}

/// How many holds without a failed check the host allows in a row.
fn max_holds(canary: &Canary) -> u32 {
    canary
        .spec
        .analysis
        .policy
        .as_ref()
        .map_or(DEFAULT_MAX_HOLDS, |p| p.max_holds)
}

/// The policy's configuration as the JSON text policies receive (`null`
/// when the Canary gives none).
pub fn policy_config(canary: &Canary) -> String {
    canary
        .spec
        .analysis
        .policy
        .as_ref()
        .and_then(|p| p.config.as_ref())
        .map(|c| c.to_string())
        .unwrap_or_else(|| "null".to_owned())
}

/// A metric's range; Flagger's deprecated `threshold` is a minimum for the
/// success rate and a maximum for everything else.
fn threshold_range(spec: &MetricSpec) -> ThresholdRange {
    if let Some(range) = spec.threshold_range {
        return ThresholdRange {
            min: range.min,
            max: range.max,
        };
    }
    match spec.threshold {
        Some(min) if spec.name == "request-success-rate" => ThresholdRange {
            min: Some(min),
            max: None,
        },
        Some(max) => ThresholdRange {
            min: None,
            max: Some(max),
        },
        None => ThresholdRange::default(),
    }
}

/// Keep the verdict in the run's bounded history.
fn remember(step: &mut Step<'_>, verdict: &Verdict) {
    let status = &mut step.status;
    status.history.push(PastStep {
        revision: status.last_applied_spec.clone().unwrap_or_default(),
        iteration: status.iterations,
        canary_weight: status.canary_weight,
        at_ms: step.now_ms,
        decision: verdict.decision.clone(),
        score: verdict.score,
    });
    let excess = status.history.len().saturating_sub(HISTORY_LEN);
    status.history.drain(..excess);
}
