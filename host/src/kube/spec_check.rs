//! What the controller checks of a Canary before it moves any traffic,
//! beyond what the CRD's schema refuses at `kubectl apply`: the same checks
//! as `warbler run`, a provider it can drive, and Flagger's fields it does
//! not implement. Each failure names the field.

use std::time::Duration;

use serde_json::Value;

use super::router::Provider;
use crate::canary::Canary;

/// The shortest analysis interval in a cluster, as Flagger's docs advise:
/// below it metric windows hold too few scrapes.
pub const MIN_CLUSTER_INTERVAL: Duration = Duration::from_secs(10);

/// Whether a Canary sets a field.
type IsSet = fn(&Canary) -> bool;

/// Flagger fields that would change where traffic goes, which Warbler does
/// not implement: a Canary setting one is not run rather than run
/// differently from what it asks.
const REFUSED: &[(&str, IsSet)] = &[
    ("spec.autoscalerRef.primaryScalerQueries", |c| {
        c.spec
            .autoscaler_ref
            .as_ref()
            .is_some_and(|a| a.primary_scaler_queries.is_some())
    }),
    ("spec.ingressRef", |c| c.spec.ingress_ref.is_some()),
    ("spec.routeRef", |c| c.spec.route_ref.is_some()),
    ("spec.upstreamRef", |c| c.spec.upstream_ref.is_some()),
    ("spec.service.gateways", |c| {
        c.spec.service.gateways.is_some()
    }),
    ("spec.service.delegation", |c| {
        c.spec.service.delegation.is_some()
    }),
    ("spec.service.trafficPolicy", |c| {
        c.spec.service.traffic_policy.is_some()
    }),
    ("spec.service.match", |c| c.spec.service.r#match.is_some()),
    ("spec.service.rewrite", |c| c.spec.service.rewrite.is_some()),
    ("spec.service.retries", |c| c.spec.service.retries.is_some()),
    ("spec.service.headers", |c| c.spec.service.headers.is_some()),
    ("spec.service.corsPolicy", |c| {
        c.spec.service.cors_policy.is_some()
    }),
    ("spec.service.mirror", |c| c.spec.service.mirror.is_some()),
    ("spec.service.backends", |c| {
        c.spec.service.backends.is_some()
    }),
    ("spec.service.apex", |c| c.spec.service.apex.is_some()),
    ("spec.service.primary", |c| c.spec.service.primary.is_some()),
    ("spec.service.canary", |c| c.spec.service.canary.is_some()),
    ("spec.service.timeout", |c| c.spec.service.timeout.is_some()),
    ("spec.service.portDiscovery", |c| {
        c.spec.service.port_discovery == Some(true)
    }),
    ("spec.analysis.mirror", |c| c.spec.analysis.mirror),
    ("spec.analysis.mirrorWeight", |c| {
        c.spec.analysis.mirror_weight.is_some()
    }),
    ("spec.analysis.match", |c| c.spec.analysis.r#match.is_some()),
    ("spec.analysis.sessionAffinity", |c| {
        c.spec.analysis.session_affinity.is_some()
    }),
];

/// Check `canary` for a run by this controller. `Ok` carries notices worth
/// a warning (fields kept but without effect); `Err` why it cannot run.
pub fn check_spec(
    canary: &Canary,
    provider: Result<Provider, String>,
) -> Result<Vec<String>, String> {
    let target = &canary.spec.target_ref;
    if target.kind != "Deployment" {
        return Err(format!(
            "spec.targetRef.kind: {} is not supported yet; Warbler rolls out Deployments",
            target.kind
        ));
    }
    if !matches!(target.api_version.as_str(), "" | "apps/v1") {
        return Err(format!(
            "spec.targetRef.apiVersion: {} is not apps/v1; set it to apps/v1",
            target.api_version
        ));
    }
    if let Some(autoscaler) = &canary.spec.autoscaler_ref
        && (autoscaler.kind != "HorizontalPodAutoscaler"
            || autoscaler.api_version != "autoscaling/v2")
    {
        return Err(format!(
            "spec.autoscalerRef: {} {} is not supported; Warbler copies a HorizontalPodAutoscaler (autoscaling/v2) for the primary",
            autoscaler.api_version, autoscaler.kind
        ));
    }
    provider?;
    let refused: Vec<&str> = REFUSED
        .iter()
        .filter(|(_, set)| set(canary))
        .map(|(field, _)| *field)
        .collect();
    if !refused.is_empty() {
        return Err(format!(
            "{} {} not implemented by Warbler; remove {} to run this Canary (see docs/flagger-compatibility.md)",
            refused.join(", "),
            if refused.len() == 1 { "is" } else { "are" },
            if refused.len() == 1 { "it" } else { "them" },
        ));
    }
    let mut notices = canary.check(MIN_CLUSTER_INTERVAL)?;
    if canary
        .spec
        .analysis
        .alerts
        .as_ref()
        .is_some_and(|a| a != &Value::Null)
    {
        notices.push(
            "spec.analysis.alerts is not implemented by Warbler and has no effect; use an event webhook for notifications".to_owned(),
        );
    }
    Ok(notices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canary(spec: &str) -> Canary {
        let text = format!(
            "apiVersion: warbler.dev/v1alpha1\nkind: Canary\nmetadata: {{name: frontend, namespace: podinfo}}\nspec:\n  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: frontend}}\n{spec}"
        );
        Canary::from_yaml("test", &text).unwrap()
    }

    const PLAIN: &str = "  service: {port: 9898}\n  analysis: {interval: 1m, metrics: [{name: request-success-rate}]}\n";

    #[test]
    fn a_flagger_canary_with_implemented_fields_can_run() {
        assert_eq!(
            check_spec(&canary(PLAIN), Ok(Provider::TrafficSplit)),
            Ok(vec![])
        );
    }

    #[test]
    fn an_unimplemented_routing_field_is_refused_by_name() {
        let spec = "  service: {port: 9898, retries: {attempts: 3}}\n  analysis: {interval: 1m, match: [{headers: {x: {exact: y}}}]}\n";
        let err = check_spec(&canary(spec), Ok(Provider::TrafficSplit)).unwrap_err();
        assert!(
            err.contains("spec.service.retries, spec.analysis.match are not implemented"),
            "{err}"
        );
    }

    #[test]
    fn an_interval_under_ten_seconds_is_refused_in_a_cluster() {
        let spec = "  service: {port: 9898}\n  analysis: {interval: 5s}\n";
        let err = check_spec(&canary(spec), Ok(Provider::TrafficSplit)).unwrap_err();
        assert!(err.starts_with("spec.analysis.interval"), "{err}");
    }

    #[test]
    fn alerts_are_kept_with_a_notice() {
        let spec = "  service: {port: 9898}\n  analysis: {interval: 1m, alerts: [{name: slack}], metrics: [{name: request-duration}]}\n";
        let notices = check_spec(&canary(spec), Ok(Provider::TrafficSplit)).unwrap();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(
            notices[0].starts_with("spec.analysis.alerts"),
            "{notices:?}"
        );
    }

    #[test]
    fn a_horizontal_pod_autoscaler_can_run() {
        let spec = "  autoscalerRef: {apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, name: frontend, primaryScalerReplicas: {minReplicas: 2}}\n  service: {port: 9898}\n  analysis: {interval: 1m, metrics: [{name: request-success-rate}]}\n";
        assert_eq!(
            check_spec(&canary(spec), Ok(Provider::TrafficSplit)),
            Ok(vec![])
        );
    }

    #[test]
    fn a_keda_scaled_object_is_refused_by_name() {
        let spec = "  autoscalerRef: {apiVersion: keda.sh/v1alpha1, kind: ScaledObject, name: frontend}\n  service: {port: 9898}\n  analysis: {interval: 1m}\n";
        let err = check_spec(&canary(spec), Ok(Provider::TrafficSplit)).unwrap_err();
        assert!(
            err.starts_with("spec.autoscalerRef: keda.sh/v1alpha1 ScaledObject"),
            "{err}"
        );
    }

    #[test]
    fn a_daemon_set_target_is_refused() {
        let text = "apiVersion: warbler.dev/v1alpha1\nkind: Canary\nmetadata: {name: a}\nspec:\n  targetRef: {apiVersion: apps/v1, kind: DaemonSet, name: a}\n  service: {port: 80}\n  analysis: {}\n";
        let err = check_spec(
            &Canary::from_yaml("t", text).unwrap(),
            Ok(Provider::HttpRoute),
        )
        .unwrap_err();
        assert!(err.starts_with("spec.targetRef.kind"), "{err}");
    }
}
