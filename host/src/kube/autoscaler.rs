//! The primary's HorizontalPodAutoscaler, Flagger's way: a copy of the
//! target's HPA (`spec.autoscalerRef`) named `<hpa>-primary` that scales
//! `<target>-primary`, with `primaryScalerReplicas` as its bounds when set.
//!
//! The target keeps its own HPA. Scaling the target to zero between runs is
//! safe with it: the autoscaler leaves a workload at zero replicas alone.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
};
use kube::Client;
use kube::api::{Api, Patch};

use super::api_error;
use super::platform::{apply_params, owned_meta, primary_name};
use crate::canary::{AutoscalerRef, Canary};
use crate::ports::PortError;

/// Apply the primary's HPA from the target's current one; nothing when the
/// Canary names no autoscaler.
pub async fn apply_primary_autoscaler(client: &Client, canary: &Canary) -> Result<(), PortError> {
    let Some(reference) = &canary.spec.autoscaler_ref else {
        return Ok(());
    };
    let api: Api<HorizontalPodAutoscaler> =
        Api::namespaced(client.clone(), &canary.metadata.namespace);
    let target = api
        .get_opt(&reference.name)
        .await
        .map_err(api_error(
            "platform",
            format!("cannot read HorizontalPodAutoscaler {}", reference.name),
        ))?
        .ok_or_else(|| PortError {
            port: "platform",
            message: format!(
                "HorizontalPodAutoscaler {} (spec.autoscalerRef) not found in {}; create it or fix spec.autoscalerRef.name",
                reference.name, canary.metadata.namespace
            ),
        })?;
    let primary = primary_autoscaler(canary, reference, &target);
    let name = format!("{}-primary", reference.name);
    api.patch(&name, &apply_params(), &Patch::Apply(&primary))
        .await
        .map(drop)
        .map_err(api_error(
            "platform",
            format!("cannot apply HorizontalPodAutoscaler {name}"),
        ))
}

/// The primary's copy of `target`, the HPA `reference` names.
fn primary_autoscaler(
    canary: &Canary,
    reference: &AutoscalerRef,
    target: &HorizontalPodAutoscaler,
) -> HorizontalPodAutoscaler {
    let mut spec: HorizontalPodAutoscalerSpec = target.spec.clone().unwrap_or_default();
    spec.scale_target_ref = CrossVersionObjectReference {
        api_version: Some("apps/v1".to_owned()),
        kind: "Deployment".to_owned(),
        name: primary_name(canary),
    };
    if let Some(bounds) = reference.primary_scaler_replicas {
        if let Some(min) = bounds.min_replicas {
            spec.min_replicas = Some(min);
        }
        if let Some(max) = bounds.max_replicas {
            spec.max_replicas = max;
        }
    }
    let mut metadata = owned_meta(canary, &format!("{}-primary", reference.name));
    metadata.labels = target.metadata.labels.clone();
    HorizontalPodAutoscaler {
        metadata,
        spec: Some(spec),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn canary(replicas: &str) -> Canary {
        let text = format!(
            "apiVersion: warbler.dev/v1alpha1\nkind: Canary\nmetadata: {{name: web, namespace: team}}\nspec:\n  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}\n  autoscalerRef: {{apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, name: web-hpa{replicas}}}\n  service: {{port: 80}}\n  analysis: {{}}\n"
        );
        Canary::from_yaml("test", &text).unwrap()
    }

    fn target_hpa() -> HorizontalPodAutoscaler {
        HorizontalPodAutoscaler {
            metadata: ObjectMeta {
                name: Some("web-hpa".to_owned()),
                ..ObjectMeta::default()
            },
            spec: Some(HorizontalPodAutoscalerSpec {
                scale_target_ref: CrossVersionObjectReference {
                    api_version: Some("apps/v1".to_owned()),
                    kind: "Deployment".to_owned(),
                    name: "web".to_owned(),
                },
                min_replicas: Some(2),
                max_replicas: 4,
                ..HorizontalPodAutoscalerSpec::default()
            }),
            status: None,
        }
    }

    fn primary_of(canary: &Canary) -> HorizontalPodAutoscaler {
        let reference = canary.spec.autoscaler_ref.as_ref().unwrap();
        primary_autoscaler(canary, reference, &target_hpa())
    }

    #[test]
    fn the_primary_autoscaler_scales_the_primary_deployment() {
        let primary = primary_of(&canary(""));
        assert_eq!(primary.metadata.name.as_deref(), Some("web-hpa-primary"));
        let spec = primary.spec.unwrap();
        assert_eq!(spec.scale_target_ref.name, "web-primary");
        assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 4));
    }

    #[test]
    fn primary_scaler_replicas_replace_the_targets_bounds() {
        let primary = primary_of(&canary(
            ", primaryScalerReplicas: {minReplicas: 3, maxReplicas: 6}",
        ));
        let spec = primary.spec.unwrap();
        assert_eq!((spec.min_replicas, spec.max_replicas), (Some(3), 6));
    }
}
