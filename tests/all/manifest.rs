//! Flagger's Canary manifests parse as Warbler Canaries with only the
//! apiVersion changed; mistakes are named by their field.

use warbler::canary::{API_VERSION, Canary, Manifest, ManifestError, WebhookKind};

const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/flagger-frontend-canary.yaml"
);

fn seed() -> String {
    std::fs::read_to_string(SEED).expect("the seed manifest is in tests/fixtures")
}

#[test]
fn the_seed_manifest_parses_with_only_its_api_version_changed() {
    let yaml = seed().replace("flagger.app/v1beta1", API_VERSION);
    let canary = Canary::from_yaml("frontend.yaml", &yaml).unwrap();
    let analysis = &canary.spec.analysis;
    assert_eq!(canary.key(), "podinfo/frontend");
    assert_eq!(canary.spec.progress_deadline_seconds, 360);
    assert_eq!(analysis.interval.as_secs(), 60);
    assert_eq!(
        (
            analysis.threshold,
            analysis.max_weight,
            analysis.step_weight
        ),
        (3, Some(50), Some(10))
    );
    assert_eq!(analysis.metrics[0].name, "request-success-rate");
    assert_eq!(analysis.metrics[0].threshold_range.unwrap().min, Some(99.0));
    assert_eq!(
        analysis.metrics[1].threshold_range.unwrap().max,
        Some(250.0)
    );
    assert_eq!(analysis.webhooks[0].kind, WebhookKind::Rollout);
    assert_eq!(
        analysis.webhooks[0].metadata["cmd"],
        "hey -z 1m -q 10 -c 2 http://frontend-canary.podinfo:9898/"
    );
    assert_eq!(analysis.webhooks[1].kind, WebhookKind::Event);
}

#[test]
fn the_unchanged_flagger_manifest_is_refused_with_the_fix() {
    let err = Canary::from_yaml("frontend.yaml", &seed()).unwrap_err();
    assert!(matches!(err, ManifestError::FlaggerApiVersion { .. }));
    assert!(
        err.to_string()
            .contains("change it to warbler.dev/v1alpha1"),
        "{err}"
    );
}

#[test]
fn a_misspelled_field_is_named_with_its_path() {
    let yaml = seed()
        .replace("flagger.app/v1beta1", API_VERSION)
        .replace("stepWeight: 10", "stepWeigth: 10");
    let err = Canary::from_yaml("frontend.yaml", &yaml)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("frontend.yaml: spec.analysis.stepWeigth: unknown field `stepWeigth`"),
        "{err}"
    );
}

#[test]
fn a_bad_duration_is_named_with_an_example() {
    let yaml = seed().replace("flagger.app/v1beta1", API_VERSION).replace(
        "interval: 1m\n    threshold",
        "interval: 1 minute\n    threshold",
    );
    let err = Canary::from_yaml("frontend.yaml", &yaml)
        .unwrap_err()
        .to_string();
    assert!(err.contains("spec.analysis.interval"), "{err}");
    assert!(err.contains("like `30s`"), "{err}");
}

const TEMPLATE: &str = r#"apiVersion: warbler.dev/v1alpha1
kind: MetricTemplate
metadata:
  name: not-found-percentage
  namespace: podinfo
spec:
  provider:
    type: prometheus
    address: http://prometheus.monitoring:9090
  query: |
    100 - sum(rate(response_total{namespace="{{ namespace }}", deployment="{{ target }}", status_code!="404"}[{{ interval }}]))
"#;

#[test]
fn a_file_holds_a_canary_and_the_metric_templates_it_uses() {
    let seed = seed().replace("flagger.app/v1beta1", API_VERSION);
    let text = format!("{seed}\n---\n{TEMPLATE}");
    let manifest = Manifest::from_yaml("frontend.yaml", &text).unwrap();
    assert_eq!(manifest.canary.metadata.name, "frontend");
    assert_eq!(manifest.templates.len(), 1);
    let template = &manifest.templates[0];
    assert_eq!(template.metadata.name, "not-found-percentage");
    assert_eq!(template.spec.provider.kind, "prometheus");
    assert!(template.spec.query.contains("{{ target }}"));
}

#[test]
fn an_error_in_a_later_document_names_the_document_and_the_field() {
    let text = format!(
        "{}\n---\n{}",
        seed().replace("flagger.app/v1beta1", API_VERSION),
        TEMPLATE.replace("  query:", "  qeury:")
    );
    let err = Manifest::from_yaml("frontend.yaml", &text).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("frontend.yaml (document 2): spec.qeury: unknown field"),
        "{message}"
    );
}

#[test]
fn a_flagger_metric_template_is_refused_with_the_fix() {
    let text = format!(
        "{}\n---\n{}",
        seed().replace("flagger.app/v1beta1", API_VERSION),
        TEMPLATE.replace(API_VERSION, "flagger.app/v1beta1")
    );
    let err = Manifest::from_yaml("frontend.yaml", &text).unwrap_err();
    assert!(
        matches!(err, ManifestError::FlaggerApiVersion { .. }),
        "{err}"
    );
}

#[test]
fn a_file_without_a_canary_is_refused() {
    let err = Manifest::from_yaml("templates.yaml", TEMPLATE).unwrap_err();
    assert!(err.to_string().contains("no Canary found"), "{err}");
}

/// A Canary naming the shared policy `policy_ref`, followed by `extra`
/// documents.
fn naming(policy_ref: &str, extra: &str) -> String {
    let canary = seed().replace("flagger.app/v1beta1", API_VERSION).replace(
        "    threshold: 3\n",
        &format!("    threshold: 3\n    policy:\n      policyRef: {policy_ref}\n"),
    );
    format!("{canary}\n{extra}")
}

const CLUSTER_POLICY: &str = "---\napiVersion: warbler.dev/v1alpha1\nkind: ClusterAnalysisPolicy\nmetadata: { name: platform }\nspec:\n  ref: oci://registry.example/platform/zscore:2.0\n  config: { maxZ: 3 }\n";

#[test]
fn a_shared_policy_in_the_file_is_adopted_by_the_canary_that_names_it() {
    let yaml = naming(
        "{ kind: ClusterAnalysisPolicy, name: platform }",
        CLUSTER_POLICY,
    );
    let manifest = Manifest::from_yaml("frontend.yaml", &yaml).unwrap();
    let policy = manifest.canary.spec.analysis.policy.unwrap();
    assert_eq!(
        policy.reference.as_deref(),
        Some("oci://registry.example/platform/zscore:2.0")
    );
    assert_eq!(policy.config, Some(serde_json::json!({ "maxZ": 3 })));
}

#[test]
fn a_shared_policy_missing_from_the_file_is_named_with_the_fix() {
    let yaml = naming("{ name: platform }", CLUSTER_POLICY);
    let err = Manifest::from_yaml("frontend.yaml", &yaml).unwrap_err();
    assert!(
        err.to_string().contains(
            "spec.analysis.policy.policyRef: no AnalysisPolicy podinfo/platform in this file; add it"
        ),
        "{err}"
    );
}

/// A Canary with `shadows` (YAML flow mappings) as its shadow policies,
/// followed by `extra` documents.
fn shadowed_by(shadows: &[&str], extra: &str) -> String {
    let list: String = shadows
        .iter()
        .map(|shadow| format!("    - {shadow}\n"))
        .collect();
    let canary = seed().replace("flagger.app/v1beta1", API_VERSION).replace(
        "    threshold: 3\n",
        &format!("    threshold: 3\n    shadowPolicies:\n{list}"),
    );
    format!("{canary}\n{extra}")
}

#[test]
fn a_shadow_policy_naming_a_shared_policy_in_the_file_adopts_it_under_its_name() {
    let yaml = shadowed_by(
        &[
            "{ policyRef: { kind: ClusterAnalysisPolicy, name: platform }, config: { minSamples: 5 } }",
        ],
        CLUSTER_POLICY,
    );
    let manifest = Manifest::from_yaml("frontend.yaml", &yaml).unwrap();
    let shadow = &manifest.canary.spec.analysis.shadow_policies[0];
    assert_eq!(
        shadow.reference.as_deref(),
        Some("oci://registry.example/platform/zscore:2.0")
    );
    assert_eq!(
        shadow.config,
        Some(serde_json::json!({ "maxZ": 3, "minSamples": 5 }))
    );
    assert_eq!(shadow.label(), "platform");
}

#[test]
fn a_shadow_policys_shared_policy_missing_from_the_file_is_named_by_its_field() {
    let yaml = shadowed_by(
        &[
            "{ ref: builtin:compare }",
            "{ policyRef: { name: platform } }",
        ],
        CLUSTER_POLICY,
    );
    let err = Manifest::from_yaml("frontend.yaml", &yaml).unwrap_err();
    assert!(
        err.to_string().contains(
            "spec.analysis.shadowPolicies[1].policyRef: no AnalysisPolicy podinfo/platform in this file; add it"
        ),
        "{err}"
    );
}
