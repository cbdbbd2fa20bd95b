//! The status the controller writes: the reconciler's run state, plus what
//! people and tools read (`kubectl get` columns, kstatus conditions, the
//! policy and its last verdict).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use warbler_guest_sdk::Phase;

use crate::canary::{CanaryResourceStatus, CanaryStatus};

/// Whether the Canary can be run, for the `Ready` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runnable {
    /// It can; the message says anything worth knowing.
    Yes(String),
    /// It cannot: `reason` (PascalCase) and a message naming the field.
    No {
        /// Why, for machines: `InvalidSpec`, `PolicyRefused`, ...
        reason: &'static str,
        /// Why, for people, with the field and the fix.
        message: String,
    },
}

/// What the status is written from.
pub struct StatusFacts<'a> {
    /// The run state after this reconcile.
    pub run: CanaryStatus,
    /// The status before it (for conditions' transition times).
    pub previous: Option<&'a CanaryResourceStatus>,
    /// Whether the Canary can run.
    pub runnable: Runnable,
    /// The policy reference.
    pub policy: String,
    /// The loaded policy's sha256, when known.
    pub policy_digest: Option<String>,
    /// The `oci://` policy pinned to its manifest digest, when known.
    pub resolved_policy: Option<String>,
    /// The Canary's generation.
    pub generation: Option<i64>,
    /// Now, Unix ms.
    pub now_ms: i64,
}

/// The full status to apply.
pub fn resource_status(facts: StatusFacts<'_>) -> CanaryResourceStatus {
    let previous_conditions = facts
        .previous
        .map(|status| status.conditions.as_slice())
        .unwrap_or_default();
    let (ready_status, ready_reason, ready_message) = match &facts.runnable {
        Runnable::Yes(message) => ("True", "Runnable", message.clone()),
        Runnable::No { reason, message } => ("False", *reason, message.clone()),
    };
    let (promoted_status, promoted_reason) = promoted(facts.run.phase);
    let promoted_message = facts.run.message.clone();
    let conditions = vec![
        condition(
            previous_conditions,
            "Ready",
            ready_status,
            ready_reason,
            ready_message,
            facts.generation,
            facts.now_ms,
        ),
        condition(
            previous_conditions,
            "Promoted",
            promoted_status,
            promoted_reason,
            promoted_message,
            facts.generation,
            facts.now_ms,
        ),
    ];
    let last_verdict = facts
        .run
        .history
        .last()
        .map(|step| step.decision.to_string())
        .or_else(|| {
            facts
                .previous
                .and_then(|status| status.last_verdict.clone())
        });
    let last_transition_time =
        (facts.run.last_transition_ms > 0).then(|| rfc3339(facts.run.last_transition_ms));
    // What was resolved for another reference says nothing of this one.
    let previous = facts
        .previous
        .filter(|status| status.policy.as_deref() == Some(facts.policy.as_str()));
    CanaryResourceStatus {
        resolved_policy: facts
            .resolved_policy
            .or_else(|| previous.and_then(|status| status.resolved_policy.clone())),
        run: facts.run,
        last_transition_time,
        policy: Some(facts.policy),
        policy_digest: facts.policy_digest.or_else(|| {
            facts
                .previous
                .and_then(|status| status.policy_digest.clone())
        }),
        last_verdict,
        observed_generation: facts.generation,
        conditions,
    }
}

/// The `Promoted` condition of a phase, as Flagger reports it.
fn promoted(phase: Phase) -> (&'static str, &'static str) {
    match phase {
        Phase::Initializing => ("Unknown", "Initializing"),
        Phase::Initialized => ("True", "Initialized"),
        Phase::Waiting => ("Unknown", "Waiting"),
        Phase::Progressing => ("Unknown", "Progressing"),
        Phase::WaitingPromotion => ("Unknown", "WaitingPromotion"),
        Phase::Promoting => ("Unknown", "Promoting"),
        Phase::Finalising => ("Unknown", "Finalising"),
        Phase::Succeeded => ("True", "Succeeded"),
        Phase::Failed => ("False", "Failed"),
    }
}

/// A condition whose transition time moves only when its status does.
fn condition(
    previous: &[Condition],
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now_ms: i64,
) -> Condition {
    let since = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| Time(timestamp(now_ms)));
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        // The API server caps a condition's message at 32 KiB.
        message: truncate(message, 4096),
        observed_generation: generation,
        last_transition_time: since,
    }
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// `ms` as RFC 3339 to the second, as Kubernetes writes times.
pub fn rfc3339(ms: i64) -> String {
    let seconds = Timestamp::from_second(ms.div_euclid(1000)).unwrap_or(Timestamp::UNIX_EPOCH);
    seconds.to_string()
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use warbler_guest_sdk::{Decision, PastStep};

    use super::*;

    fn facts(run: CanaryStatus, previous: Option<&CanaryResourceStatus>) -> StatusFacts<'_> {
        StatusFacts {
            run,
            previous,
            runnable: Runnable::Yes(String::new()),
            policy: "builtin:threshold".to_owned(),
            policy_digest: None,
            resolved_policy: None,
            generation: Some(3),
            now_ms: 1_764_000_000_000,
        }
    }

    #[test]
    fn a_failed_run_is_not_promoted() {
        let run = CanaryStatus {
            phase: Phase::Failed,
            ..CanaryStatus::default()
        };
        let status = resource_status(facts(run, None));
        let promoted = status
            .conditions
            .iter()
            .find(|c| c.type_ == "Promoted")
            .unwrap();
        assert_eq!(
            (promoted.status.as_str(), promoted.reason.as_str()),
            ("False", "Failed")
        );
    }

    #[test]
    fn a_condition_keeps_its_transition_time_while_its_status_holds() {
        let first = resource_status(facts(CanaryStatus::default(), None));
        let mut later = facts(CanaryStatus::default(), Some(&first));
        later.now_ms += 60_000;
        let second = resource_status(later);
        assert_eq!(first.conditions, second.conditions);
    }

    #[test]
    fn the_last_verdict_is_the_last_steps_decision() {
        let run = CanaryStatus {
            history: vec![PastStep {
                revision: "r".to_owned(),
                iteration: 1,
                canary_weight: 10,
                at_ms: 0,
                decision: Decision::Advance { weight: 20 },
                score: None,
            }],
            ..CanaryStatus::default()
        };
        assert_eq!(
            resource_status(facts(run, None)).last_verdict.as_deref(),
            Some("advance to 20%")
        );
    }

    #[test]
    fn the_resolved_policy_is_kept_while_the_reference_is_the_same() {
        let pinned = format!("oci://registry.test/p@sha256:{}", "a".repeat(64));
        let mut first = facts(CanaryStatus::default(), None);
        first.policy = "oci://registry.test/p:1".to_owned();
        first.resolved_policy = Some(pinned.clone());
        let first = resource_status(first);
        let mut same = facts(CanaryStatus::default(), Some(&first));
        same.policy = "oci://registry.test/p:1".to_owned();
        assert_eq!(
            resource_status(same).resolved_policy.as_deref(),
            Some(pinned.as_str())
        );
        let mut changed = facts(CanaryStatus::default(), Some(&first));
        changed.policy = "oci://registry.test/p:2".to_owned();
        assert_eq!(resource_status(changed).resolved_policy, None);
    }

    #[test]
    fn times_are_written_to_the_second_in_utc() {
        assert_eq!(rfc3339(1_764_000_000_123), "2025-11-24T16:00:00Z");
    }
}
