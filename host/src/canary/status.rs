//! `status` of a Canary: where its current run stands. Everything the
//! reconciler needs to resume after a restart lives here.

use serde::{Deserialize, Serialize};
use warbler_guest_sdk::{PastStep, Phase};

/// `status` of a Canary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStatus {
    /// Flagger's phase.
    #[schemars(schema_with = "super::schema::phase")]
    pub phase: Phase,
    /// Percentage of traffic routed to the canary.
    pub canary_weight: u32,
    /// Failed checks in this run.
    pub failed_checks: u32,
    /// Steps that advanced in this run.
    pub iterations: u32,
    /// Revision (canonical template hash) of the run in progress or the last
    /// run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_spec: Option<String>,
    /// Revision last promoted to the primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_promoted_spec: Option<String>,
    /// When this run started (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_started_ms: Option<i64>,
    /// Analysis steps judged in this run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub steps: u32,
    /// When the last analysis step ran (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step_ms: Option<i64>,
    /// When the phase last changed (Unix ms).
    #[serde(default)]
    pub last_transition_ms: i64,
    /// The reason for the current phase, for `kubectl get` and events.
    #[serde(default)]
    pub message: String,
    /// Since when the canary has been failing to become ready (Unix ms);
    /// `progressDeadlineSeconds` counts from here, not from the run's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_unready_since_ms: Option<i64>,
    /// The policy's holds without a failed check since its last other
    /// decision, for the host's limit on them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consecutive_holds: u32,
    /// The decisions of this run's last steps, oldest first (at most
    /// [`HISTORY_LEN`]); policies see them as `history`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "super::schema::history")]
    pub history: Vec<PastStep>,
    /// What each shadow policy said at the last step, never acted upon.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadow_verdicts: Vec<ShadowVerdict>,
}

/// A shadow policy's answer at the last step, as status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShadowVerdict {
    /// The shadow's name.
    pub policy: String,
    /// Its decision (`advance to 30%`, `rollback: why`) or its failure.
    pub verdict: String,
}

/// `status` of a Canary in a cluster: the run's state, which the reconciler
/// keeps, and what the controller adds for people and tools (`kubectl get`
/// columns, kstatus conditions, the policy that judged).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryResourceStatus {
    /// Where the run stands.
    #[serde(flatten)]
    pub run: CanaryStatus,
    /// When the phase last changed (RFC 3339), as Flagger writes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// The policy that judges this Canary's steps, as referenced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The sha256 of the policy component last loaded for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_digest: Option<String>,
    /// An `oci://` policy pinned to the manifest its reference resolved to
    /// (`oci://…@sha256:…`): a run in flight is judged by it to the end,
    /// across controller restarts, even if its tag moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_policy: Option<String>,
    /// The last step's decision and its reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verdict: Option<String>,
    /// The Canary's `metadata.generation` this status was written for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (the spec is valid and can be run) and `Promoted` (how the
    /// last run stands), with reasons and messages naming fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
}

/// How many past decisions the status keeps for policies.
pub const HISTORY_LEN: usize = 20;

impl Default for CanaryStatus {
    fn default() -> Self {
        CanaryStatus {
            phase: Phase::Initializing,
            canary_weight: 0,
            failed_checks: 0,
            iterations: 0,
            last_applied_spec: None,
            last_promoted_spec: None,
            run_started_ms: None,
            steps: 0,
            last_step_ms: None,
            last_transition_ms: 0,
            message: String::new(),
            canary_unready_since_ms: None,
            consecutive_holds: 0,
            history: Vec::new(),
            shadow_verdicts: Vec::new(),
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl CanaryStatus {
    /// True while a run is in flight (traffic may be on the canary).
    pub fn is_running(&self) -> bool {
        matches!(
            self.phase,
            Phase::Waiting
                | Phase::Progressing
                | Phase::WaitingPromotion
                | Phase::Promoting
                | Phase::Finalising
        )
    }
}
