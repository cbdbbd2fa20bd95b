//! The Canary spec: Flagger's `flagger.app/v1beta1` fields, unchanged, plus
//! `analysis.policy`. Unknown fields are refused so a typo is an error that
//! names the field, not a setting silently ignored.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use warbler_guest_sdk::WebhookKind;

use super::CanaryResourceStatus;
use super::duration::{serde_go, serde_go_option};

/// `spec` of a Canary. In a cluster it is the spec of the
/// `canaries.warbler.dev` custom resource, [`CanaryResource`], whose schema
/// is derived from these types (`warbler crd` prints it).
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, kube::CustomResource,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[kube(
    group = "warbler.dev",
    version = "v1alpha1",
    kind = "Canary",
    root = "CanaryResource",
    doc = "A release rolled out step by step: Flagger's Canary, judged by a WebAssembly policy",
    namespaced,
    status = "CanaryResourceStatus",
    shortname = "canary",
    category = "all",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Weight","type":"integer","jsonPath":".status.canaryWeight"}"#,
    printcolumn = r#"{"name":"FailedChecks","type":"integer","jsonPath":".status.failedChecks"}"#,
    printcolumn = r#"{"name":"Policy","type":"string","jsonPath":".status.policy"}"#,
    printcolumn = r#"{"name":"LastTransitionTime","type":"string","jsonPath":".status.lastTransitionTime"}"#
)]
pub struct CanarySpec {
    /// The workload to release (`Deployment` or `DaemonSet`; in local mode,
    /// `Upstreams` or `Processes`).
    pub target_ref: TargetRef,
    /// Flagger's service mesh or ingress provider, e.g. `linkerd`,
    /// `gatewayapi:v1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The HorizontalPodAutoscaler scaling the target; the primary gets a
    /// copy of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaler_ref: Option<AutoscalerRef>,
    /// Ingress object for NGINX-style providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub ingress_ref: Option<Value>,
    /// Route object for Gateway API-style providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub route_ref: Option<Value>,
    /// Upstream object for Gloo-style providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub upstream_ref: Option<Value>,
    /// The Kubernetes services fronting primary and canary.
    pub service: ServiceSpec,
    /// The analysis that decides each step.
    pub analysis: AnalysisSpec,
    /// Seconds a canary may take to become ready before the run rolls back.
    #[serde(default = "default_progress_deadline")]
    pub progress_deadline_seconds: u32,
    /// Promote without analysis.
    #[serde(default)]
    pub skip_analysis: bool,
    /// Stop reconciling this Canary until unset.
    #[serde(default)]
    pub suspend: bool,
    /// Restore the target to its original state when the Canary is deleted.
    #[serde(default)]
    pub revert_on_deletion: bool,
    /// Run on this machine instead of a cluster (Warbler's `warbler run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub local: Option<super::LocalSpec>,
}

fn default_progress_deadline() -> u32 {
    600
}

/// What is being released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetRef {
    /// The target's API version, e.g. `apps/v1`.
    #[serde(default)]
    pub api_version: String,
    /// The target's kind.
    pub kind: String,
    /// The target's name.
    pub name: String,
}

/// `spec.service`: Flagger's service and routing settings. Fields Warbler's
/// routers do not read are kept as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)] // Flagger's documented fields, kept verbatim.
pub struct ServiceSpec {
    /// The port the services listen on.
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub target_port: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_discovery: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub gateways: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub gateway_refs: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub hosts: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub traffic_policy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub r#match: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub rewrite: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub retries: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub headers: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub cors_policy: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub mirror: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub backends: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub apex: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub primary: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub canary: Option<Value>,
}

/// `spec.autoscalerRef`, as Flagger's: the target's autoscaler, which the
/// primary gets a copy of (`<name>-primary`, scaling `<target>-primary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutoscalerRef {
    /// `autoscaling/v2`.
    #[serde(default = "default_autoscaler_api_version")]
    pub api_version: String,
    /// `HorizontalPodAutoscaler` (Flagger also takes KEDA's
    /// `ScaledObject`, which Warbler refuses by name).
    pub kind: String,
    /// The autoscaler's name, in the Canary's namespace.
    pub name: String,
    /// KEDA queries for the primary's scaler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub primary_scaler_queries: Option<Value>,
    /// Bounds for the primary's autoscaler instead of the target's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_scaler_replicas: Option<ScalerReplicas>,
}

fn default_autoscaler_api_version() -> String {
    "autoscaling/v2".to_owned()
}

/// `spec.autoscalerRef.primaryScalerReplicas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScalerReplicas {
    /// The primary's minimum replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub min_replicas: Option<i32>,
    /// The primary's maximum replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_replicas: Option<i32>,
}

/// `spec.analysis`. The CRD's rules refuse, at `kubectl apply`, what the
/// API server can check; the controller checks the rest and says so in a
/// condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "!has(self.interval) || duration(self.interval) >= duration('10s')",
        "message": "interval must be at least 10s in a cluster (local mode allows 1s)",
        "fieldPath": ".interval",
    },
    {
        "rule": "!has(self.maxWeight) || self.maxWeight <= 100",
        "message": "maxWeight is a percentage of traffic: at most 100",
        "fieldPath": ".maxWeight",
    },
    {
        "rule": "!has(self.stepWeight) || self.stepWeight <= (has(self.maxWeight) ? self.maxWeight : 100)",
        "message": "stepWeight must not be over maxWeight (100 when unset)",
        "fieldPath": ".stepWeight",
    },
    {
        "rule": "!has(self.stepWeights) || self.stepWeights.all(w, w <= 100)",
        "message": "stepWeights are percentages of traffic: each at most 100",
        "fieldPath": ".stepWeights",
    },
    {
        "rule": "!has(self.stepWeights) || self.stepWeights.isSorted()",
        "message": "list stepWeights in increasing order",
        "fieldPath": ".stepWeights",
    },
]))]
pub struct AnalysisSpec {
    /// Time between two analysis steps.
    #[serde(with = "serde_go", default = "default_interval")]
    #[schemars(schema_with = "super::schema::duration")]
    pub interval: Duration,
    /// Failed checks tolerated before rollback.
    #[serde(default = "default_threshold")]
    pub threshold: u32,
    /// Weight at which the canary is promoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_weight: Option<u32>,
    /// Weight added at each passing step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_weight: Option<u32>,
    /// Explicit weight ladder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub step_weights: Vec<u32>,
    /// Weight moved back to the primary per step while promoting; all at
    /// once when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_weight_promotion: Option<u32>,
    /// Passing steps before promotion (blue/green, A/B).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u32>,
    /// Mirror traffic to the canary before shifting it.
    #[serde(default)]
    pub mirror: bool,
    /// Percentage of traffic mirrored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror_weight: Option<u32>,
    /// Ready replicas the primary needs, as a percentage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_ready_threshold: Option<u32>,
    /// Ready replicas the canary needs, as a percentage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary_ready_threshold: Option<u32>,
    /// A/B header and cookie matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub r#match: Option<Value>,
    /// Session affinity for A/B.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub session_affinity: Option<Value>,
    /// Alert providers for events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub alerts: Option<Value>,
    /// The metrics checked at each step; each has its own name.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]), length(max = 50))]
    pub metrics: Vec<MetricSpec>,
    /// The webhooks called around and during the run; each has its own
    /// name.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]), length(max = 50))]
    pub webhooks: Vec<WebhookSpec>,
    /// The policy that decides each step (Warbler); Flagger's threshold
    /// analysis when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySpec>,
    /// Policies judged at every step beside `policy`, on the same input,
    /// whose verdicts are recorded (journal, status, events) and never acted
    /// upon (Warbler): a new policy tried on live rollouts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5))]
    pub shadow_policies: Vec<ShadowPolicySpec>,
}

/// An entry of `spec.analysis.shadowPolicies` (Warbler).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "has(self.ref) != has(self.policyRef)",
        "message": "name the shadow policy once: either ref (its module) or policyRef (a shared AnalysisPolicy or ClusterAnalysisPolicy)",
    },
    {
        "rule": "!has(self.policyRef) || !has(self.verify)",
        "message": "a shared policy's signatures are required by the policy object: set verify there, not on the Canary",
        "fieldPath": ".verify",
    },
]))]
pub struct ShadowPolicySpec {
    /// The module: `builtin:NAME`, a file path (local mode) or an OCI
    /// reference. Either this or `policyRef`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub reference: Option<String>,
    /// A shared AnalysisPolicy or ClusterAnalysisPolicy to try: its module,
    /// default configuration and signatures. Either this or `ref`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_ref: Option<super::PolicyObjectRef>,
    /// How the journal, status and events name it; its `ref`, or the
    /// shared policy's name, when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its own configuration (merged over a shared policy's). A policy
    /// that refuses it fails at each step, which changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub config: Option<Value>,
    /// The signatures an `oci://` shadow policy must carry before it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<PolicyVerification>,
}

impl ShadowPolicySpec {
    /// How the journal, status and events name it.
    pub fn label(&self) -> &str {
        self.name
            .as_deref()
            .or(self.reference.as_deref())
            .or(self.policy_ref.as_ref().map(|shared| shared.name.as_str()))
            .unwrap_or_default()
    }

    /// Its configuration as the JSON text policies receive.
    pub fn config_text(&self) -> String {
        self.config
            .as_ref()
            .map_or_else(|| "null".to_owned(), Value::to_string)
    }
}

fn default_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_threshold() -> u32 {
    1
}

/// A metric of `spec.analysis.metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "self.name in ['request-success-rate', 'request-duration'] || has(self.query) || has(self.templateRef)",
    "message": "a metric that is not built in (request-success-rate, request-duration) needs a query or a templateRef",
}]))]
pub struct MetricSpec {
    /// The metric's name: a built-in (`request-success-rate`,
    /// `request-duration`) or any name with a `query` or `templateRef`.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The acceptable range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_range: Option<RangeSpec>,
    /// Flagger's deprecated single threshold: a minimum for
    /// `request-success-rate`, a maximum for anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The window the query covers.
    #[serde(
        default,
        with = "serde_go_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "super::schema::duration")]
    pub interval: Option<Duration>,
    /// An inline PromQL query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// A MetricTemplate holding the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_ref: Option<TemplateRef>,
    /// Values for `{{ variables.NAME }}` in the template.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub template_variables: BTreeMap<String, String>,
}

/// Minimum and maximum, both optional and inclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RangeSpec {
    /// Lowest acceptable value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest acceptable value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// A reference to a MetricTemplate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TemplateRef {
    /// The template's name.
    pub name: String,
    /// Its namespace; the Canary's when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A webhook of `spec.analysis.webhooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookSpec {
    /// The webhook's name.
    pub name: String,
    /// When it is called; `rollout` when unset.
    #[serde(default = "default_webhook_type", rename = "type")]
    #[schemars(schema_with = "super::schema::webhook_type")]
    pub kind: WebhookKind,
    /// Where it is sent.
    pub url: String,
    /// How long to wait for an answer; 60s when unset.
    #[serde(
        default,
        with = "serde_go_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "super::schema::duration")]
    pub timeout: Option<Duration>,
    /// Retries after a failed call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Free-form metadata sent in the payload (the load tester reads `cmd`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Do not alert when this webhook fails.
    #[serde(default)]
    pub mute_alert: bool,
}

fn default_webhook_type() -> WebhookKind {
    WebhookKind::Rollout
}

/// `spec.analysis.policy` (Warbler): which policy decides, and its config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "has(self.ref) != has(self.policyRef)",
        "message": "name the policy once: either ref (its module) or policyRef (a shared AnalysisPolicy or ClusterAnalysisPolicy)",
    },
    {
        "rule": "!has(self.policyRef) || !has(self.verify)",
        "message": "a shared policy's signatures are required by the policy object: set verify there, not on the Canary",
        "fieldPath": ".verify",
    },
]))]
pub struct PolicySpec {
    /// The module: `builtin:NAME`, a file path (local mode) or an OCI
    /// reference. Either this or `policyRef`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// A shared AnalysisPolicy or ClusterAnalysisPolicy that gives the
    /// module, a default configuration and the signatures it must carry.
    /// Either this or `ref`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_ref: Option<super::PolicyObjectRef>,
    /// The policy's own configuration, checked by the policy before the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub config: Option<Value>,
    /// What a policy failure (trap, budget, refusal) does to the step.
    #[serde(default)]
    pub on_error: OnPolicyError,
    /// Holds without a failed check the policy may make in a row; each
    /// further hold counts as a failed check, so a policy that never
    /// decides cannot keep a canary at its weight forever.
    #[serde(default = "default_max_holds")]
    pub max_holds: u32,
    /// The signatures an `oci://` policy must carry before it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<PolicyVerification>,
}

/// `spec.analysis.policy.verify` (Warbler): cosign-compatible keyed
/// signatures the policy must carry; an unsigned or wrongly signed policy is
/// refused before it runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyVerification {
    /// Public keys (PEM, ECDSA P-256): each signer's `cosign.pub`.
    #[schemars(length(min = 1))]
    pub keys: Vec<String>,
    /// How many of the keys must have signed the policy.
    #[serde(default = "default_minimum_signers")]
    #[schemars(range(min = 1))]
    pub minimum: u32,
    /// `REGISTRY/REPOSITORY` holding the signatures, when it is not the
    /// policy's own (cosign's `COSIGN_REPOSITORY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
}

fn default_minimum_signers() -> u32 {
    1
}

impl PolicyVerification {
    /// The keys and minimum as the registry checks them; an error names
    /// the field.
    pub fn trusted_keys(&self) -> Result<crate::oci::TrustedKeys, String> {
        let keys = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, pem)| {
                crate::oci::TrustedKey::from_pem(
                    &format!("spec.analysis.policy.verify.keys[{i}]"),
                    pem,
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| err.to_string())?;
        crate::oci::TrustedKeys::new(keys, self.minimum as usize, self.repository.clone())
            .map_err(|err| format!("spec.analysis.policy.verify: {err}"))
    }
}

/// [`PolicySpec::max_holds`] when unset: ten intervals of waiting for data
/// (ten minutes at Flagger's usual 1m interval).
pub const DEFAULT_MAX_HOLDS: u32 = 10;

fn default_max_holds() -> u32 {
    DEFAULT_MAX_HOLDS
}

/// What a policy failure does to the step.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum OnPolicyError {
    /// Count a failed check, as a failed metric would (the default).
    #[default]
    FailCheck,
    /// Roll back at once.
    Rollback,
}
