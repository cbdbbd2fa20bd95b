//! The reconciler: Flagger's canary state machine, over ports.
//!
//! One call to [`Reconciler::reconcile`] looks at a Canary's spec and status,
//! does at most one transition through the ports, and returns the new status,
//! the events to record and when to come back. It keeps nothing between calls:
//! everything needed to resume after a restart is in the status, and every
//! port call is safe to repeat (setting a weight, scaling, copying a spec), so
//! a controller killed between a port call and the status write redoes the
//! same transition instead of skipping or doubling one.

mod analysis;

pub use analysis::{DEFAULT_POLICY, policy_config, policy_label, policy_ref};
#[cfg(test)]
mod tests;

use std::time::Duration;

use warbler_guest_sdk::Phase;

use crate::canary::{Canary, CanaryStatus, WebhookKind, revision_of};
use crate::ports::{
    Clock, Hooks, Journal, Judge, MetricSource, Platform, PortError, Readiness, Router,
};

/// The ports a reconciler drives.
pub struct Reconciler<P, R, M, H, G, J, C> {
    /// Workloads.
    pub platform: P,
    /// Traffic weights.
    pub router: R,
    /// Metric providers.
    pub metrics: M,
    /// Webhooks.
    pub hooks: H,
    /// The policy.
    pub judge: G,
    /// The step journal.
    pub journal: J,
    /// The time.
    pub clock: C,
}

/// How important an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Severity {
    /// Normal progress.
    Info,
    /// Something failed or is stuck.
    Warning,
}

/// Something that happened, for Kubernetes events, event webhooks and logs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    /// How important it is.
    pub severity: Severity,
    /// What happened, in Flagger's words where Flagger has them.
    pub message: String,
}

/// The result of one reconcile.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The status to write.
    pub status: CanaryStatus,
    /// What happened.
    pub events: Vec<Event>,
    /// When to reconcile again.
    pub requeue_after: Duration,
}

/// The work of one reconcile: the status being changed and the events so far.
pub(crate) struct Step<'a> {
    pub(crate) canary: &'a Canary,
    pub(crate) status: CanaryStatus,
    pub(crate) now_ms: i64,
    events: Vec<Event>,
}

impl<'a> Step<'a> {
    fn new(canary: &'a Canary, now_ms: i64) -> Self {
        Step {
            canary,
            status: canary.status.clone(),
            now_ms,
            events: Vec::new(),
        }
    }

    pub(crate) fn info(&mut self, message: String) {
        self.events.push(Event {
            severity: Severity::Info,
            message,
        });
    }

    pub(crate) fn warn(&mut self, message: String) {
        self.events.push(Event {
            severity: Severity::Warning,
            message,
        });
    }

    pub(crate) fn set_phase(&mut self, phase: Phase, message: impl Into<String>) {
        if self.status.phase != phase {
            self.status.phase = phase;
            self.status.last_transition_ms = self.now_ms;
        }
        self.status.message = message.into();
    }

    pub(crate) fn interval(&self) -> Duration {
        self.canary.spec.analysis.interval
    }

    /// Come back soon: something is being waited for (readiness, a gate).
    pub(crate) fn soon(&self) -> Duration {
        self.interval().min(Duration::from_secs(10))
    }

    pub(crate) fn done(self, requeue_after: Duration) -> Outcome {
        Outcome {
            status: self.status,
            events: self.events,
            requeue_after,
        }
    }
}

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
    /// Reconcile `canary` once.
    pub async fn reconcile(&self, canary: &Canary) -> Result<Outcome, PortError> {
        let mut step = Step::new(canary, self.clock.now_ms());
        if canary.spec.suspend {
            step.status.message = "suspended: unset spec.suspend to resume".to_owned();
            let wait = step.interval();
            return Ok(step.done(wait));
        }
        let target = &canary.spec.target_ref;
        let Some(template) = self.platform.target_template(canary).await? else {
            step.warn(format!(
                "target {} {} not found; create it or fix spec.targetRef",
                target.kind, target.name
            ));
            let wait = step.soon();
            return Ok(step.done(wait));
        };
        let revision = revision_of(&template);
        if step.status.phase == Phase::Initializing {
            return self.initialize(step, revision).await;
        }
        if matches!(
            step.status.phase,
            Phase::Waiting | Phase::Progressing | Phase::WaitingPromotion
        ) && let Some(name) = self.open_gate(canary, WebhookKind::Rollback).await
        {
            return self
                .roll_back(step, format!("rollback webhook {name} asked for it"))
                .await;
        }
        if step.status.last_applied_spec.as_deref() != Some(revision.as_str()) {
            return self.start_run(step, revision).await;
        }
        match step.status.phase {
            Phase::Waiting => self.confirm_rollout(step).await,
            Phase::Progressing | Phase::WaitingPromotion => self.analyse(step).await,
            Phase::Promoting => self.promoting(step).await,
            Phase::Finalising => self.finalise(step).await,
            Phase::Initializing | Phase::Initialized | Phase::Succeeded | Phase::Failed => {
                let wait = step.interval();
                Ok(step.done(wait))
            }
        }
    }

    /// Create the primary and route everything to it.
    async fn initialize(&self, mut step: Step<'_>, revision: String) -> Result<Outcome, PortError> {
        let canary = step.canary;
        match self.platform.ensure_primary(canary).await? {
            Readiness::NotReady(why) => {
                step.set_phase(
                    Phase::Initializing,
                    format!("waiting for the primary: {why}"),
                );
                let wait = step.soon();
                Ok(step.done(wait))
            }
            Readiness::Ready => {
                self.router.set_canary_weight(canary, 0).await?;
                self.platform.scale_canary(canary, false).await?;
                step.status.canary_weight = 0;
                step.status.last_applied_spec = Some(revision.clone());
                step.status.last_promoted_spec = Some(revision);
                step.set_phase(Phase::Initialized, "primary ready, all traffic on it");
                step.info(format!(
                    "Initialization done! {}.{}",
                    canary.metadata.name, canary.metadata.namespace
                ));
                let wait = step.interval();
                Ok(step.done(wait))
            }
        }
    }

    /// A new revision: reset the run, scale the canary up, pass the
    /// confirm-rollout gate or wait at it.
    async fn start_run(&self, mut step: Step<'_>, revision: String) -> Result<Outcome, PortError> {
        let canary = step.canary;
        if step.status.is_running() {
            self.router.set_canary_weight(canary, 0).await?;
            step.warn(format!(
                "New revision detected! Restarting analysis for {}.{}",
                canary.metadata.name, canary.metadata.namespace
            ));
        } else {
            step.info(format!(
                "New revision detected! Scaling up {}.{}",
                canary.spec.target_ref.name, canary.metadata.namespace
            ));
        }
        self.platform.scale_canary(canary, true).await?;
        let status = &mut step.status;
        status.canary_weight = 0;
        status.failed_checks = 0;
        status.iterations = 0;
        status.history.clear();
        status.consecutive_holds = 0;
        status.canary_unready_since_ms = None;
        status.run_started_ms = Some(step.now_ms);
        status.steps = 0;
        status.last_step_ms = None;
        status.last_applied_spec = Some(revision);
        self.confirm_rollout(step).await
    }

    /// Pass the confirm-rollout gate into Progressing, or wait at it.
    async fn confirm_rollout(&self, mut step: Step<'_>) -> Result<Outcome, PortError> {
        let canary = step.canary;
        if let Some(name) = self.closed_gate(canary, WebhookKind::ConfirmRollout).await {
            if step.status.phase != Phase::Waiting {
                step.info(format!(
                    "Halt {}.{} advancement waiting for approval {name}",
                    canary.metadata.name, canary.metadata.namespace
                ));
            }
            step.set_phase(Phase::Waiting, format!("waiting for approval from {name}"));
            let wait = step.interval();
            return Ok(step.done(wait));
        }
        if step.status.phase == Phase::Waiting {
            for hook in hooks_of(canary, WebhookKind::ConfirmRollout) {
                step.info(format!("Confirm-rollout check {} passed", hook.name));
            }
        }
        step.set_phase(Phase::Progressing, "waiting for the canary to be ready");
        let wait = step.soon();
        Ok(step.done(wait))
    }

    /// After promotion: wait for the primary, then move traffic back to it.
    async fn promoting(&self, mut step: Step<'_>) -> Result<Outcome, PortError> {
        let canary = step.canary;
        if let Readiness::NotReady(why) = self.platform.primary_readiness(canary).await? {
            step.status.message = format!("waiting for the promoted primary: {why}");
            let wait = step.soon();
            return Ok(step.done(wait));
        }
        let weight = match canary.spec.analysis.step_weight_promotion {
            Some(step_down) if step_down > 0 => step.status.canary_weight.saturating_sub(step_down),
            _ => 0,
        };
        self.router.set_canary_weight(canary, weight).await?;
        step.status.canary_weight = weight;
        if weight > 0 {
            step.status.message = format!("promoting: canary weight {weight}");
            let wait = step.interval();
            return Ok(step.done(wait));
        }
        step.info(format!(
            "Routing all traffic to primary {}-primary",
            canary.spec.target_ref.name
        ));
        step.set_phase(Phase::Finalising, "all traffic on the promoted primary");
        let wait = step.soon();
        Ok(step.done(wait))
    }

    /// Scale the canary down: the run succeeded.
    async fn finalise(&self, mut step: Step<'_>) -> Result<Outcome, PortError> {
        let canary = step.canary;
        self.platform.scale_canary(canary, false).await?;
        step.status.last_promoted_spec = step.status.last_applied_spec.clone();
        step.set_phase(
            Phase::Succeeded,
            "canary analysis completed successfully, promotion finished",
        );
        step.info(format!(
            "Promotion completed! Scaling down {}.{}",
            canary.spec.target_ref.name, canary.metadata.namespace
        ));
        self.run_post_rollout(&mut step).await;
        let wait = step.interval();
        Ok(step.done(wait))
    }

    /// Abort the run: all traffic to the primary, canary scaled down.
    pub(crate) async fn roll_back(
        &self,
        mut step: Step<'_>,
        reason: String,
    ) -> Result<Outcome, PortError> {
        let canary = step.canary;
        self.router.set_canary_weight(canary, 0).await?;
        self.platform.scale_canary(canary, false).await?;
        step.status.canary_weight = 0;
        step.warn(format!(
            "Rolling back {}.{} {reason}",
            canary.metadata.name, canary.metadata.namespace
        ));
        step.warn(format!(
            "Canary failed! Scaling down {}.{}",
            canary.spec.target_ref.name, canary.metadata.namespace
        ));
        step.set_phase(Phase::Failed, format!("rolled back: {reason}"));
        self.run_post_rollout(&mut step).await;
        let wait = step.interval();
        Ok(step.done(wait))
    }

    /// Call the post-rollout hooks with the phase the run ended in.
    async fn run_post_rollout(&self, step: &mut Step<'_>) {
        let mut ended = step.canary.clone();
        ended.status = step.status.clone();
        for hook in hooks_of(step.canary, WebhookKind::PostRollout) {
            let result = self.hooks.call(&ended, hook).await;
            if result.passed {
                step.info(format!("Post-rollout check {} passed", hook.name));
            } else {
                step.warn(format!(
                    "Post-rollout hook {} failed: {}",
                    hook.name, result.message
                ));
            }
        }
    }

    /// The first hook of `kind` that does not pass, if any (a closed gate).
    pub(crate) async fn closed_gate(&self, canary: &Canary, kind: WebhookKind) -> Option<String> {
        for hook in hooks_of(canary, kind) {
            if !self.hooks.call(canary, hook).await.passed {
                return Some(hook.name.clone());
            }
        }
        None
    }

    /// The first hook of `kind` that passes, if any (an open gate).
    async fn open_gate(&self, canary: &Canary, kind: WebhookKind) -> Option<String> {
        for hook in hooks_of(canary, kind) {
            if self.hooks.call(canary, hook).await.passed {
                return Some(hook.name.clone());
            }
        }
        None
    }
}

/// The Canary's webhooks of `kind`, in spec order.
pub fn hooks_of(
    canary: &Canary,
    kind: WebhookKind,
) -> impl Iterator<Item = &crate::canary::WebhookSpec> {
    canary
        .spec
        .analysis
        .webhooks
        .iter()
        .filter(move |hook| hook.kind == kind)
}
