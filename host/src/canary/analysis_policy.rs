//! AnalysisPolicy and ClusterAnalysisPolicy: a policy a platform team
//! publishes once (its module, a default configuration and the signatures
//! it must carry) and every team's Canary names by
//! `analysis.policy.policyRef` instead of repeating it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Canary, Metadata, PolicyVerification, ShadowPolicySpec};

/// `spec` of an AnalysisPolicy; in a cluster, of the
/// `analysispolicies.warbler.dev` custom resource,
/// [`AnalysisPolicyResource`]. A ClusterAnalysisPolicy has the same spec.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, kube::CustomResource,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[kube(
    group = "warbler.dev",
    version = "v1alpha1",
    kind = "AnalysisPolicy",
    root = "AnalysisPolicyResource",
    doc = "A policy shared by the Canaries of one namespace: its module, default configuration and required signatures",
    namespaced,
    printcolumn = r#"{"name":"Ref","type":"string","jsonPath":".spec.ref"}"#
)]
pub struct AnalysisPolicySpec {
    /// The module: `builtin:NAME` or `oci://REGISTRY/REPOSITORY:TAG`
    /// (`@sha256:…` to pin it); in local mode also a file path.
    #[serde(rename = "ref")]
    #[schemars(length(min = 1))]
    pub reference: String,
    /// The configuration a Canary gets when it gives none; a Canary's
    /// `analysis.policy.config` is merged over it (JSON merge patch: its
    /// keys replace these, `null` removes one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub config: Option<Value>,
    /// The signatures an `oci://` module must carry before any Canary runs
    /// it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<PolicyVerification>,
}

/// `spec` of the cluster-scoped `clusteranalysispolicies.warbler.dev`
/// custom resource, [`ClusterAnalysisPolicyResource`]: the same as an
/// AnalysisPolicy's, for the Canaries of every namespace.
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, kube::CustomResource,
)]
#[serde(transparent)]
#[kube(
    group = "warbler.dev",
    version = "v1alpha1",
    kind = "ClusterAnalysisPolicy",
    root = "ClusterAnalysisPolicyResource",
    doc = "A policy shared by the Canaries of every namespace: its module, default configuration and required signatures",
    printcolumn = r#"{"name":"Ref","type":"string","jsonPath":".spec.ref"}"#
)]
pub struct ClusterAnalysisPolicySpec(pub AnalysisPolicySpec);

/// Which kind of shared policy a `policyRef` names.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum PolicyKind {
    /// An AnalysisPolicy in the Canary's namespace (the default).
    #[default]
    AnalysisPolicy,
    /// A ClusterAnalysisPolicy.
    ClusterAnalysisPolicy,
}

/// `spec.analysis.policy.policyRef` (Warbler): a shared policy, by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyObjectRef {
    /// The policy object's name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// `AnalysisPolicy` (in the Canary's namespace, the default) or
    /// `ClusterAnalysisPolicy`.
    #[serde(default)]
    pub kind: PolicyKind,
}

impl PolicyObjectRef {
    /// How messages name the object a Canary in `namespace` refers to.
    pub fn describe(&self, namespace: &str) -> String {
        match self.kind {
            PolicyKind::AnalysisPolicy => format!("AnalysisPolicy {namespace}/{}", self.name),
            PolicyKind::ClusterAnalysisPolicy => format!("ClusterAnalysisPolicy {}", self.name),
        }
    }
}

/// A shared policy as a document of a `warbler run` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisPolicy {
    /// `warbler.dev/v1alpha1`.
    pub api_version: String,
    /// `AnalysisPolicy` or `ClusterAnalysisPolicy`.
    pub kind: String,
    /// Name, and namespace for an AnalysisPolicy.
    pub metadata: Metadata,
    /// The module, its default configuration and required signatures.
    pub spec: AnalysisPolicySpec,
}

impl AnalysisPolicy {
    /// Whether this is the object `reference` names from a Canary in
    /// `namespace`.
    pub fn is(&self, reference: &PolicyObjectRef, namespace: &str) -> bool {
        self.metadata.name == reference.name
            && match reference.kind {
                PolicyKind::AnalysisPolicy => {
                    self.kind == "AnalysisPolicy" && self.metadata.namespace == namespace
                }
                PolicyKind::ClusterAnalysisPolicy => self.kind == "ClusterAnalysisPolicy",
            }
    }
}

impl Canary {
    /// The shared policy the Canary names, if it names one.
    pub fn policy_object(&self) -> Option<&PolicyObjectRef> {
        self.spec.analysis.policy.as_ref()?.policy_ref.as_ref()
    }

    /// Take the module, configuration and signatures from the shared policy
    /// the Canary names: afterwards its `analysis.policy` says everything
    /// itself, as if written inline, so nothing downstream (the judge, the
    /// journal, replay) needs to know a shared policy was involved.
    /// Refused, naming the field, when the Canary also names a module or
    /// signatures of its own.
    pub fn adopt_policy(&mut self, shared: &AnalysisPolicySpec) -> Result<(), String> {
        let Some(policy) = self.spec.analysis.policy.as_mut() else {
            return Ok(());
        };
        if policy.reference.is_some() {
            return Err(
                "spec.analysis.policy: both ref and policyRef are set; keep one (ref names a module, policyRef a shared policy)"
                    .to_owned(),
            );
        }
        if policy.verify.is_some() {
            return Err(
                "spec.analysis.policy.verify: a shared policy's signatures are required by the policy object; move verify there"
                    .to_owned(),
            );
        }
        policy.reference = Some(shared.reference.clone());
        policy.config = merged_config(shared.config.as_ref(), policy.config.as_ref());
        policy.verify = shared.verify.clone();
        policy.policy_ref = None;
        Ok(())
    }
}

impl ShadowPolicySpec {
    /// Take the module, configuration and signatures from the shared policy
    /// this shadow names, as [`Canary::adopt_policy`] does for the active
    /// policy; unless it has a `name` of its own, it keeps the shared
    /// policy's name as its label. `field` names the entry in errors.
    pub fn adopt(&mut self, shared: &AnalysisPolicySpec, field: &str) -> Result<(), String> {
        if self.policy_ref.is_none() {
            return Ok(());
        }
        if self.reference.is_some() {
            return Err(format!(
                "{field}: both ref and policyRef are set; keep one (ref names a module, policyRef a shared policy)"
            ));
        }
        if self.verify.is_some() {
            return Err(format!(
                "{field}.verify: a shared policy's signatures are required by the policy object; move verify there"
            ));
        }
        let reference = self.policy_ref.take().expect("checked above");
        self.name.get_or_insert(reference.name);
        self.reference = Some(shared.reference.clone());
        self.config = merged_config(shared.config.as_ref(), self.config.as_ref());
        self.verify = shared.verify.clone();
        Ok(())
    }
}

/// The shared default with a Canary's own configuration merged over it.
fn merged_config(default: Option<&Value>, own: Option<&Value>) -> Option<Value> {
    match (default, own) {
        (Some(default), Some(own)) => {
            let mut merged = default.clone();
            json_patch::merge(&mut merged, own);
            Some(merged)
        }
        (default, own) => own.or(default).cloned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn canary_with(policy: &str) -> Canary {
        let text = format!(
            "apiVersion: warbler.dev/v1alpha1\nkind: Canary\nmetadata: {{name: web, namespace: team}}\nspec:\n  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}\n  service: {{port: 80}}\n  analysis:\n    policy: {policy}\n"
        );
        Canary::from_yaml("test", &text).unwrap()
    }

    fn shared(config: Option<Value>) -> AnalysisPolicySpec {
        AnalysisPolicySpec {
            reference: "oci://registry.example/policies/zscore:1.0".to_owned(),
            config,
            verify: None,
        }
    }

    #[test]
    fn an_adopted_policy_takes_the_shared_module() {
        let mut canary = canary_with("{policyRef: {name: zscore}}");
        canary.adopt_policy(&shared(None)).unwrap();
        let policy = canary.spec.analysis.policy.unwrap();
        assert_eq!(
            policy.reference.as_deref(),
            Some("oci://registry.example/policies/zscore:1.0")
        );
        assert_eq!(policy.policy_ref, None);
    }

    #[test]
    fn a_canary_without_config_gets_the_shared_default() {
        let mut canary = canary_with("{policyRef: {name: zscore}}");
        canary
            .adopt_policy(&shared(Some(json!({"maxZ": 3, "minSamples": 10}))))
            .unwrap();
        assert_eq!(
            canary.spec.analysis.policy.unwrap().config,
            Some(json!({"maxZ": 3, "minSamples": 10}))
        );
    }

    #[test]
    fn a_canary_config_is_merged_over_the_shared_default() {
        let mut canary = canary_with(
            "{policyRef: {name: zscore}, config: {maxZ: 2.5, minSamples: null, extra: {a: 1}}}",
        );
        canary
            .adopt_policy(&shared(Some(json!({"maxZ": 3, "minSamples": 10}))))
            .unwrap();
        assert_eq!(
            canary.spec.analysis.policy.unwrap().config,
            Some(json!({"maxZ": 2.5, "extra": {"a": 1}}))
        );
    }

    #[test]
    fn the_shared_verification_replaces_none_on_the_canary() {
        let verify = PolicyVerification {
            keys: vec!["-----BEGIN PUBLIC KEY-----".to_owned()],
            minimum: 1,
            repository: None,
        };
        let mut spec = shared(None);
        spec.verify = Some(verify.clone());
        let mut canary = canary_with("{policyRef: {name: zscore}}");
        canary.adopt_policy(&spec).unwrap();
        assert_eq!(canary.spec.analysis.policy.unwrap().verify, Some(verify));
    }

    #[test]
    fn a_canary_with_its_own_verify_cannot_adopt_a_shared_policy() {
        let mut canary = canary_with(
            "{policyRef: {name: zscore}, verify: {keys: [\"-----BEGIN PUBLIC KEY-----\"]}}",
        );
        let err = canary.adopt_policy(&shared(None)).unwrap_err();
        assert!(err.starts_with("spec.analysis.policy.verify:"), "{err}");
    }

    #[test]
    fn a_canary_naming_a_module_and_a_shared_policy_is_refused() {
        let mut canary = canary_with("{ref: builtin:threshold, policyRef: {name: zscore}}");
        let err = canary.adopt_policy(&shared(None)).unwrap_err();
        assert!(err.contains("both ref and policyRef"), "{err}");
    }

    fn shadow(yaml: &str) -> ShadowPolicySpec {
        serde_norway::from_str(yaml).unwrap()
    }

    #[test]
    fn an_adopted_shadow_takes_the_shared_module_and_config_and_keeps_its_name() {
        let mut named = shadow("{policyRef: {name: zscore}, config: {maxZ: 2}}");
        named
            .adopt(&shared(Some(json!({"maxZ": 3, "minSamples": 10}))), "f")
            .unwrap();
        assert_eq!(
            named.reference.as_deref(),
            Some("oci://registry.example/policies/zscore:1.0")
        );
        assert_eq!(named.policy_ref, None);
        assert_eq!(named.config, Some(json!({"maxZ": 2, "minSamples": 10})));
        assert_eq!(named.label(), "zscore");
    }

    #[test]
    fn a_shadow_with_its_own_name_keeps_it_when_adopting() {
        let mut named = shadow("{policyRef: {name: zscore}, name: zscore-strict}");
        named.adopt(&shared(None), "f").unwrap();
        assert_eq!(named.label(), "zscore-strict");
    }

    #[test]
    fn a_shadow_naming_a_module_and_a_shared_policy_is_refused_by_its_field() {
        let mut both = shadow("{ref: builtin:compare, policyRef: {name: zscore}}");
        let err = both
            .adopt(&shared(None), "spec.analysis.shadowPolicies[1]")
            .unwrap_err();
        assert!(
            err.starts_with("spec.analysis.shadowPolicies[1]: both ref and policyRef"),
            "{err}"
        );
    }

    #[test]
    fn a_shadow_with_its_own_verify_cannot_adopt_a_shared_policy() {
        let mut signed =
            shadow("{policyRef: {name: zscore}, verify: {keys: [\"-----BEGIN PUBLIC KEY-----\"]}}");
        let err = signed
            .adopt(&shared(None), "spec.analysis.shadowPolicies[0]")
            .unwrap_err();
        assert!(
            err.starts_with("spec.analysis.shadowPolicies[0].verify:"),
            "{err}"
        );
    }

    #[test]
    fn a_policy_ref_names_a_namespaced_policy_by_default() {
        let canary = canary_with("{policyRef: {name: zscore}}");
        let reference = canary.policy_object().unwrap();
        assert_eq!(reference.kind, PolicyKind::AnalysisPolicy);
        assert_eq!(reference.describe("team"), "AnalysisPolicy team/zscore");
    }

    #[test]
    fn a_cluster_policy_matches_from_any_namespace() {
        let document = AnalysisPolicy {
            api_version: super::super::API_VERSION.to_owned(),
            kind: "ClusterAnalysisPolicy".to_owned(),
            metadata: Metadata {
                name: "zscore".to_owned(),
                namespace: "default".to_owned(),
                uid: None,
            },
            spec: shared(None),
        };
        let cluster = PolicyObjectRef {
            name: "zscore".to_owned(),
            kind: PolicyKind::ClusterAnalysisPolicy,
        };
        let namespaced = PolicyObjectRef {
            name: "zscore".to_owned(),
            kind: PolicyKind::AnalysisPolicy,
        };
        assert!(document.is(&cluster, "team"));
        assert!(!document.is(&namespaced, "default"));
    }
}
