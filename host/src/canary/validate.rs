//! Checks of a Canary that its file alone can settle, made before any
//! traffic moves. Each error names the field and says how to fix it.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Canary, Manifest};

/// A Kubernetes name: a DNS-1123 subdomain (`dots`) or label, of lowercase
/// letters, digits and `-`, starting and ending with a letter or digit.
fn check_name(field: &str, name: &str, max: usize, dots: bool) -> Result<(), String> {
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (dots && c == '.');
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.len() <= max
        && name.chars().all(allowed)
        && ends(name.chars().next())
        && ends(name.chars().last())
    {
        return Ok(());
    }
    Err(format!(
        "{field}: {name:?} is not a Kubernetes name; use at most {max} lowercase letters, digits and '-'{}, starting and ending with a letter or digit",
        if dots { " or '.'" } else { "" }
    ))
}

/// The metric names Warbler measures without a query (Flagger's built-ins).
pub const BUILTIN_METRICS: [&str; 2] = ["request-success-rate", "request-duration"];

impl Canary {
    /// Check what the schema cannot: weights within 0–100 and consistent,
    /// metric names unique and answerable, an interval of at least
    /// `min_interval`. Returns notices worth showing (an analysis without
    /// metrics) or the first error.
    pub fn check(&self, min_interval: Duration) -> Result<Vec<String>, String> {
        // Kubernetes' own rules: names become folders, journal files and
        // links, so one like `../x` or `<b>` must never get that far.
        check_name("metadata.name", &self.metadata.name, 253, true)?;
        check_name("metadata.namespace", &self.metadata.namespace, 63, false)?;
        let analysis = &self.spec.analysis;
        if analysis.interval < min_interval {
            return Err(format!(
                "spec.analysis.interval: {} is under the minimum of {}; raise it",
                super::format_duration(analysis.interval),
                super::format_duration(min_interval)
            ));
        }
        let max_weight = analysis.max_weight.unwrap_or(100);
        if max_weight > 100 {
            return Err(format!(
                "spec.analysis.maxWeight: {max_weight} is over 100; weights are percentages of traffic"
            ));
        }
        if let Some(step) = analysis.step_weight
            && step > max_weight
        {
            return Err(format!(
                "spec.analysis.stepWeight: {step} is over maxWeight ({max_weight}); lower it or raise maxWeight"
            ));
        }
        if let Some((index, weight)) = analysis
            .step_weights
            .iter()
            .enumerate()
            .find(|(_, w)| **w > 100)
        {
            return Err(format!(
                "spec.analysis.stepWeights[{index}]: {weight} is over 100; weights are percentages of traffic"
            ));
        }
        if let Some(index) = analysis
            .step_weights
            .windows(2)
            .position(|pair| pair[1] <= pair[0])
        {
            return Err(format!(
                "spec.analysis.stepWeights[{}]: {} does not rise above the weight before it; list the weights in increasing order",
                index + 1,
                analysis.step_weights[index + 1]
            ));
        }
        let mut seen = BTreeMap::new();
        for (index, metric) in analysis.metrics.iter().enumerate() {
            if let Some(first) = seen.insert(metric.name.as_str(), index) {
                return Err(format!(
                    "spec.analysis.metrics[{index}].name: `{}` is also the name of metrics[{first}]; give each metric its own name",
                    metric.name
                ));
            }
            if metric.template_ref.is_none()
                && metric.query.is_none()
                && !BUILTIN_METRICS.contains(&metric.name.as_str())
            {
                return Err(format!(
                    "spec.analysis.metrics[{index}]: `{}` is not a built-in metric ({}); give it a templateRef or a query",
                    metric.name,
                    BUILTIN_METRICS.join(", ")
                ));
            }
        }
        if let Some(policy) = &analysis.policy {
            let reference = match (&policy.reference, &policy.policy_ref) {
                (Some(reference), None) => reference,
                (None, Some(shared)) => {
                    return Err(format!(
                        "spec.analysis.policy.policyRef: {} was not found; create it or fix the name",
                        shared.describe(&self.metadata.namespace)
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err("spec.analysis.policy: both ref and policyRef are set; keep one (ref names a module, policyRef a shared policy)".to_owned());
                }
                (None, None) => {
                    return Err("spec.analysis.policy: name the policy with ref (`builtin:threshold`, `oci://…`) or policyRef (a shared AnalysisPolicy)".to_owned());
                }
            };
            if let Some(verify) = &policy.verify {
                if !reference.starts_with(crate::oci::SCHEME) {
                    return Err(format!(
                        "spec.analysis.policy.verify: `{reference}` is not an oci:// policy, and only those carry signatures; remove verify, or push the policy (`warbler policy push`) and sign it"
                    ));
                }
                verify.trusted_keys()?;
            }
        }
        let mut labels = BTreeMap::new();
        for (index, shadow) in analysis.shadow_policies.iter().enumerate() {
            if let Some(first) = labels.insert(shadow.label(), index) {
                return Err(format!(
                    "spec.analysis.shadowPolicies[{index}]: `{}` also names shadowPolicies[{first}]; give one of them a `name` of its own",
                    shadow.label()
                ));
            }
            match (&shadow.reference, &shadow.policy_ref) {
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "spec.analysis.shadowPolicies[{index}]: both ref and policyRef are set; keep one (ref names a module, policyRef a shared policy)"
                    ));
                }
                (None, None) => {
                    return Err(format!(
                        "spec.analysis.shadowPolicies[{index}]: name the policy with ref (`builtin:compare`, `oci://…`) or policyRef (a shared AnalysisPolicy)"
                    ));
                }
                (Some(reference), None)
                    if shadow.verify.is_some() && !reference.starts_with(crate::oci::SCHEME) =>
                {
                    return Err(format!(
                        "spec.analysis.shadowPolicies[{index}].verify: `{reference}` is not an oci:// policy, and only those carry signatures; remove verify"
                    ));
                }
                // A shared policy that could not be read: the shadow fails
                // at each step instead of holding up the rollout.
                _ => {}
            }
        }
        let mut notices = Vec::new();
        if analysis.metrics.is_empty() {
            notices.push(
                "spec.analysis.metrics is empty: steps are decided by the webhooks and the policy alone"
                    .to_owned(),
            );
        }
        Ok(notices)
    }
}

impl Manifest {
    /// [`Canary::check`], and every `templateRef` found among the file's
    /// MetricTemplates.
    pub fn check(&self, min_interval: Duration) -> Result<Vec<String>, String> {
        let notices = self.canary.check(min_interval)?;
        for (index, metric) in self.canary.spec.analysis.metrics.iter().enumerate() {
            let Some(reference) = &metric.template_ref else {
                continue;
            };
            let namespace = reference
                .namespace
                .as_deref()
                .unwrap_or(&self.canary.metadata.namespace);
            let found = self
                .templates
                .iter()
                .any(|t| t.metadata.name == reference.name && t.metadata.namespace == namespace);
            if !found {
                return Err(format!(
                    "spec.analysis.metrics[{index}].templateRef: no MetricTemplate `{}` in namespace `{namespace}` in this file; add it as a document after the Canary (`---`) or fix the name",
                    reference.name
                ));
            }
        }
        Ok(notices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn manifest(analysis: &str, extra: &str) -> Manifest {
        let yaml = format!(
            "apiVersion: {}\nkind: Canary\nmetadata: {{ name: app, namespace: test }}\nspec:\n  targetRef: {{ kind: Deployment, name: app }}\n  service: {{ port: 80 }}\n  analysis:\n{analysis}{extra}",
            super::super::API_VERSION
        );
        Manifest::from_yaml("test.yaml", &yaml).unwrap()
    }

    fn error(analysis: &str) -> String {
        manifest(analysis, "").check(SECOND).unwrap_err()
    }

    fn named(name: &str, namespace: &str) -> Result<Vec<String>, String> {
        let mut manifest = manifest("    interval: 1m\n", "");
        manifest.canary.metadata.name = name.to_owned();
        manifest.canary.metadata.namespace = namespace.to_owned();
        manifest.canary.check(SECOND)
    }

    #[test]
    fn a_name_that_would_climb_out_of_the_state_folder_is_refused() {
        let err = named("../../etc", "test").unwrap_err();
        assert!(
            err.starts_with("metadata.name: \"../../etc\" is not a Kubernetes name; use at most 253 lowercase letters"),
            "{err}"
        );
    }

    #[test]
    fn a_name_holding_markup_is_refused() {
        assert!(named("a<script>", "test").is_err());
    }

    #[test]
    fn a_namespace_is_a_label_without_dots() {
        let err = named("app", "team.apps").unwrap_err();
        assert!(
            err.starts_with("metadata.namespace: \"team.apps\""),
            "{err}"
        );
    }

    #[test]
    fn a_dotted_lowercase_name_is_a_kubernetes_name() {
        assert!(named("frontend.v2-canary", "apps-1").is_ok());
    }

    #[test]
    fn signatures_required_of_a_policy_that_is_not_in_a_registry_are_refused() {
        let err = error("    policy:\n      ref: builtin:threshold\n      verify: { keys: [x] }\n");
        assert!(
            err.starts_with(
                "spec.analysis.policy.verify: `builtin:threshold` is not an oci:// policy"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_verification_key_that_is_not_pem_is_refused_naming_its_index() {
        let err = error(
            "    policy:\n      ref: oci://registry.test/p:1\n      verify: { keys: [not-a-key] }\n",
        );
        assert!(
            err.starts_with("verification key spec.analysis.policy.verify.keys[0]: not PEM"),
            "{err}"
        );
    }

    #[test]
    fn a_max_weight_over_100_is_refused_naming_the_field() {
        let err = error("    maxWeight: 150\n    stepWeight: 10\n");
        assert!(err.starts_with("spec.analysis.maxWeight: 150"), "{err}");
    }

    #[test]
    fn a_step_weight_over_the_max_weight_is_refused() {
        let err = error("    maxWeight: 20\n    stepWeight: 30\n");
        assert!(err.starts_with("spec.analysis.stepWeight: 30"), "{err}");
    }

    #[test]
    fn step_weights_must_rise_and_stay_within_100() {
        assert!(error("    stepWeights: [10, 5]\n").starts_with("spec.analysis.stepWeights[1]"));
        assert!(error("    stepWeights: [10, 120]\n").starts_with("spec.analysis.stepWeights[1]"));
    }

    #[test]
    fn an_interval_under_the_minimum_is_refused() {
        for interval in ["0s", "1ms", "999ms"] {
            let err = error(&format!("    interval: {interval}\n    stepWeight: 10\n"));
            assert!(err.starts_with("spec.analysis.interval"), "{err}");
        }
    }

    #[test]
    fn duplicate_metric_names_are_refused() {
        let err = error(
            "    stepWeight: 10\n    metrics:\n    - { name: request-duration }\n    - { name: request-duration }\n",
        );
        assert!(err.starts_with("spec.analysis.metrics[1].name"), "{err}");
    }

    #[test]
    fn two_shadow_policies_of_the_same_name_are_refused() {
        let err = error(
            "    stepWeight: 10\n    shadowPolicies:\n    - { ref: builtin:compare }\n    - { ref: builtin:compare, config: { alpha: 0.01 } }\n",
        );
        assert!(
            err.starts_with(
                "spec.analysis.shadowPolicies[1]: `builtin:compare` also names shadowPolicies[0]"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_shadow_policy_naming_no_policy_is_refused_with_the_fix() {
        let err = error("    stepWeight: 10\n    shadowPolicies:\n    - { name: nothing }\n");
        assert!(
            err.starts_with("spec.analysis.shadowPolicies[0]: name the policy with ref"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_metric_without_a_query_is_refused() {
        let err = error("    stepWeight: 10\n    metrics:\n    - { name: error-budget }\n");
        assert!(
            err.contains("metrics[0]: `error-budget` is not a built-in"),
            "{err}"
        );
    }

    #[test]
    fn a_template_ref_must_name_a_template_in_the_file() {
        let analysis = "    stepWeight: 10\n    metrics:\n    - { name: errors, templateRef: { name: errors } }\n";
        let err = manifest(analysis, "").check(SECOND).unwrap_err();
        assert!(
            err.starts_with("spec.analysis.metrics[0].templateRef"),
            "{err}"
        );
        let template = format!(
            "---\napiVersion: {}\nkind: MetricTemplate\nmetadata: {{ name: errors, namespace: test }}\nspec: {{ provider: {{ type: prometheus }}, query: up }}\n",
            super::super::API_VERSION
        );
        assert_eq!(manifest(analysis, &template).check(SECOND), Ok(Vec::new()));
    }

    #[test]
    fn an_analysis_without_metrics_is_allowed_and_announced() {
        let notices = manifest("    stepWeight: 10\n", "").check(SECOND).unwrap();
        assert_eq!(notices.len(), 1);
        assert!(notices[0].contains("metrics is empty"));
    }
}
