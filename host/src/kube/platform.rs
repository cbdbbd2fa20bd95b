//! [`Platform`] for Kubernetes Deployments, Flagger's way: the target
//! Deployment is the canary; `<target>-primary` is a copy of it with its
//! selector labels suffixed `-primary`; Services `<svc>`, `<svc>-primary` and
//! `<svc>-canary` select them. Everything Warbler writes is server-side
//! applied with field manager `warbler` and owned by the Canary, so a
//! repeated call changes nothing and deleting the Canary removes it.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource};
use serde_json::{Value, json};

use super::api_error;
use super::autoscaler::apply_primary_autoscaler;
use super::template::canonical_pod_template;
use super::tracked_config::{CHECKSUM_ANNOTATION, TrackedConfigs};
use crate::canary::{Canary, CanaryResource};
use crate::ports::{Platform, PortError, Readiness};

/// The field manager of everything Warbler applies.
pub const FIELD_MANAGER: &str = "warbler";

/// The labels whose value tells a workload's pods apart, in Flagger's order
/// (its `-selector-labels` default).
pub const SELECTOR_LABELS: [&str; 3] = ["app", "name", "app.kubernetes.io/name"];

/// Deployments and Services through the API server.
#[derive(Clone)]
pub struct KubePlatform {
    client: Client,
}

impl KubePlatform {
    /// A platform acting through `client`.
    pub fn new(client: Client) -> Self {
        KubePlatform { client }
    }

    fn deployments(&self, canary: &Canary) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &canary.metadata.namespace)
    }

    async fn get(&self, canary: &Canary, name: &str) -> Result<Option<Deployment>, PortError> {
        self.deployments(canary)
            .get_opt(name)
            .await
            .map_err(api_error(
                "platform",
                format!("cannot read Deployment {name}"),
            ))
    }

    async fn target(&self, canary: &Canary) -> Result<Deployment, PortError> {
        let name = &canary.spec.target_ref.name;
        self.get(canary, name).await?.ok_or_else(|| PortError {
            port: "platform",
            message: format!(
                "Deployment {name} (spec.targetRef) not found in {}; create it or fix spec.targetRef",
                canary.metadata.namespace
            ),
        })
    }

    /// The configs the target's pods use.
    async fn tracked_configs(
        &self,
        canary: &Canary,
        target: &Deployment,
    ) -> Result<TrackedConfigs, PortError> {
        let spec = target
            .spec
            .as_ref()
            .and_then(|spec| spec.template.spec.clone())
            .unwrap_or_default();
        TrackedConfigs::read(&self.client, canary, &spec).await
    }

    /// Apply the primary for `target`'s current pod template and configs.
    async fn apply_primary(
        &self,
        canary: &Canary,
        target: &Deployment,
        replicas: i32,
    ) -> Result<(), PortError> {
        let tracked = self.tracked_configs(canary, target).await?;
        tracked.apply_primary_copies(&self.client, canary).await?;
        let primary = primary_object(canary, target, replicas, &tracked)?;
        self.apply(&self.deployments(canary), &primary_name(canary), &primary)
            .await
    }

    async fn apply<K>(&self, api: &Api<K>, name: &str, object: &K) -> Result<(), PortError>
    where
        K: Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        api.patch(name, &apply_params(), &Patch::Apply(object))
            .await
            .map(drop)
            .map_err(api_error("platform", format!("cannot apply {name}")))
    }

    async fn apply_services(&self, canary: &Canary, target: &Deployment) -> Result<(), PortError> {
        let selector = selector_label(target).map_err(|message| PortError {
            port: "platform",
            message,
        })?;
        let api: Api<Service> = Api::namespaced(self.client.clone(), &canary.metadata.namespace);
        let service = service_name(canary);
        let primary_selector = BTreeMap::from([(selector.0.clone(), primary_value(&selector.1))]);
        let canary_selector = BTreeMap::from([selector]);
        for (name, selects) in [
            (service.clone(), &primary_selector),
            (format!("{service}-primary"), &primary_selector),
            (format!("{service}-canary"), &canary_selector),
        ] {
            let object = Service {
                metadata: owned_meta(canary, &name),
                spec: Some(ServiceSpec {
                    selector: Some(selects.clone()),
                    ports: Some(vec![service_port(canary)]),
                    ..ServiceSpec::default()
                }),
                status: None,
            };
            self.apply(&api, &name, &object).await?;
        }
        Ok(())
    }

    /// Point the apex Service at the target's pods again and release it
    /// from the Canary (`revertOnDeletion`), so it outlives the Canary.
    pub async fn restore_service(&self, canary: &Canary) -> Result<(), PortError> {
        let target = self.target(canary).await?;
        let selector = selector_label(&target).map_err(|message| PortError {
            port: "platform",
            message,
        })?;
        let name = service_name(canary);
        let mut metadata = owned_meta(canary, &name);
        metadata.owner_references = None;
        let object = Service {
            metadata,
            spec: Some(ServiceSpec {
                selector: Some(BTreeMap::from([selector])),
                ports: Some(vec![service_port(canary)]),
                ..ServiceSpec::default()
            }),
            status: None,
        };
        let api: Api<Service> = Api::namespaced(self.client.clone(), &canary.metadata.namespace);
        self.apply(&api, &name, &object).await
    }

    async fn scale(&self, canary: &Canary, replicas: i32) -> Result<(), PortError> {
        let name = &canary.spec.target_ref.name;
        self.deployments(canary)
            .patch_scale(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": replicas}})),
            )
            .await
            .map(drop)
            .map_err(api_error(
                "platform",
                format!("cannot scale Deployment {name}"),
            ))
    }
}

/// Server-side apply as `warbler`, taking over fields another manager set
/// (the apex Service's selector, which Flagger takes over the same way).
pub fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

/// The Service name Flagger uses: `spec.service.name`, else the target's.
pub fn service_name(canary: &Canary) -> String {
    canary
        .spec
        .service
        .name
        .clone()
        .unwrap_or_else(|| canary.spec.target_ref.name.clone())
}

/// `<target>-primary`, the primary Deployment's name.
pub fn primary_name(canary: &Canary) -> String {
    format!("{}-primary", canary.spec.target_ref.name)
}

fn primary_value(value: &str) -> String {
    format!("{value}-primary")
}

/// Metadata of an object the Canary owns (garbage-collected with it).
pub fn owned_meta(canary: &Canary, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(canary.metadata.namespace.clone()),
        owner_references: canary.metadata.uid.as_ref().map(|uid| {
            vec![OwnerReference {
                api_version: CanaryResource::api_version(&()).into_owned(),
                kind: CanaryResource::kind(&()).into_owned(),
                name: canary.metadata.name.clone(),
                uid: uid.clone(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]
        }),
        ..ObjectMeta::default()
    }
}

fn service_port(canary: &Canary) -> ServicePort {
    let service = &canary.spec.service;
    let target_port = match &service.target_port {
        Some(Value::Number(n)) => n.as_i64().map(|n| IntOrString::Int(n as i32)),
        Some(Value::String(s)) => Some(IntOrString::String(s.clone())),
        _ => None,
    }
    .unwrap_or(IntOrString::Int(i32::from(service.port)));
    ServicePort {
        name: Some(
            service
                .port_name
                .clone()
                .unwrap_or_else(|| "http".to_owned()),
        ),
        port: i32::from(service.port),
        target_port: Some(target_port),
        protocol: Some("TCP".to_owned()),
        app_protocol: service.app_protocol.clone(),
        ..ServicePort::default()
    }
}

/// The target's selector label (Flagger's first of [`SELECTOR_LABELS`])
/// and its value.
fn selector_label(target: &Deployment) -> Result<(String, String), String> {
    let labels = target
        .spec
        .as_ref()
        .and_then(|spec| spec.selector.match_labels.as_ref());
    SELECTOR_LABELS
        .iter()
        .find_map(|key| {
            labels
                .and_then(|labels| labels.get(*key))
                .map(|value| (key.to_string(), value.clone()))
        })
        .ok_or_else(|| {
            format!(
                "Deployment {}: spec.selector.matchLabels needs one of {} to tell primary and canary pods apart; add `app: <name>` to the selector and the pod labels",
                target.metadata.name.as_deref().unwrap_or_default(),
                SELECTOR_LABELS.join(", ")
            )
        })
}

/// `labels` with the selector label's value suffixed `-primary`.
fn primary_labels(labels: &BTreeMap<String, String>, key: &str) -> BTreeMap<String, String> {
    let mut labels = labels.clone();
    if let Some(value) = labels.get_mut(key) {
        *value = primary_value(value);
    }
    labels
}

/// The primary Deployment for `target`'s current pod template, with
/// `replicas`, its pods using the copies of the `tracked` configs.
fn primary_object(
    canary: &Canary,
    target: &Deployment,
    replicas: i32,
    tracked: &TrackedConfigs,
) -> Result<Deployment, PortError> {
    let (key, _) = selector_label(target).map_err(|message| PortError {
        port: "platform",
        message,
    })?;
    let spec = target.spec.clone().unwrap_or_default();
    let mut template = spec.template;
    let mut template_meta = template.metadata.take().unwrap_or_default();
    template_meta.labels = template_meta
        .labels
        .map(|labels| primary_labels(&labels, &key));
    if let Some(checksum) = tracked.checksum() {
        template_meta
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(CHECKSUM_ANNOTATION.to_owned(), checksum);
    }
    template.metadata = Some(template_meta);
    if let Some(pod) = template.spec.as_mut() {
        tracked.use_primary_copies(pod);
    }
    let selector = LabelSelector {
        match_labels: spec
            .selector
            .match_labels
            .map(|labels| primary_labels(&labels, &key)),
        match_expressions: None,
    };
    let mut meta = owned_meta(canary, &primary_name(canary));
    meta.labels = target
        .metadata
        .labels
        .as_ref()
        .map(|labels| primary_labels(labels, &key));
    Ok(Deployment {
        metadata: meta,
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector,
            template,
            strategy: spec.strategy,
            min_ready_seconds: spec.min_ready_seconds,
            revision_history_limit: spec.revision_history_limit,
            progress_deadline_seconds: spec.progress_deadline_seconds,
            paused: None,
        }),
        status: None,
    })
}

fn replicas_of(deployment: &Deployment) -> i32 {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1)
}

/// Whether a Deployment has rolled out its current template and has
/// `threshold` percent of its replicas available.
pub fn readiness(deployment: &Deployment, threshold: u32) -> Readiness {
    let name = deployment.metadata.name.as_deref().unwrap_or_default();
    let desired = replicas_of(deployment);
    let status = deployment.status.clone().unwrap_or_default();
    let generation = deployment.metadata.generation.unwrap_or_default();
    if status.observed_generation.unwrap_or_default() < generation {
        return Readiness::NotReady(format!(
            "Deployment {name}: waiting for the rollout to be observed"
        ));
    }
    let stalled = status.conditions.iter().flatten().any(|condition| {
        condition.type_ == "Progressing"
            && condition.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    if stalled {
        return Readiness::NotReady(format!("Deployment {name} exceeded its progress deadline"));
    }
    if desired == 0 {
        return Readiness::NotReady(format!("Deployment {name} is scaled to zero"));
    }
    let updated = status.updated_replicas.unwrap_or_default();
    let available = status.available_replicas.unwrap_or_default();
    let total = status.replicas.unwrap_or_default();
    let needed = ((i64::from(desired) * i64::from(threshold) + 99) / 100) as i32;
    if updated < desired {
        return Readiness::NotReady(format!(
            "Deployment {name}: {updated} of {desired} replicas updated"
        ));
    }
    if total > updated {
        return Readiness::NotReady(format!(
            "Deployment {name}: {} old replicas pending termination",
            total - updated
        ));
    }
    if available < needed {
        return Readiness::NotReady(format!(
            "Deployment {name}: {available} of {desired} replicas available, {needed} needed"
        ));
    }
    Readiness::Ready
}

fn threshold(value: Option<u32>) -> u32 {
    value.unwrap_or(100).clamp(1, 100)
}

impl Platform for KubePlatform {
    async fn target_template(&self, canary: &Canary) -> Result<Option<Value>, PortError> {
        let Some(target) = self.get(canary, &canary.spec.target_ref.name).await? else {
            return Ok(None);
        };
        let Some(spec) = &target.spec else {
            return Ok(None);
        };
        let mut template = canonical_pod_template(&spec.template);
        // A change of a tracked config's data is a new revision; a target
        // without configs keeps the revision of its template alone.
        if let Some(checksum) = self.tracked_configs(canary, &target).await?.checksum()
            && let Some(object) = template.as_object_mut()
        {
            object.insert("trackedConfigs".to_owned(), Value::String(checksum));
        }
        Ok(Some(template))
    }

    async fn ensure_primary(&self, canary: &Canary) -> Result<Readiness, PortError> {
        let target = self.target(canary).await?;
        let primary = match self.get(canary, &primary_name(canary)).await? {
            Some(primary) => primary,
            None => {
                let replicas = replicas_of(&target).max(1);
                self.apply_primary(canary, &target, replicas).await?;
                return Ok(Readiness::NotReady(format!(
                    "Deployment {} created",
                    primary_name(canary)
                )));
            }
        };
        self.apply_services(canary, &target).await?;
        apply_primary_autoscaler(&self.client, canary).await?;
        let threshold = threshold(canary.spec.analysis.primary_ready_threshold);
        Ok(readiness(&primary, threshold))
    }

    async fn scale_canary(&self, canary: &Canary, up: bool) -> Result<(), PortError> {
        let replicas = if up {
            match self.get(canary, &primary_name(canary)).await? {
                Some(primary) => replicas_of(&primary).max(1),
                None => 1,
            }
        } else {
            0
        };
        self.scale(canary, replicas).await
    }

    async fn canary_readiness(&self, canary: &Canary) -> Result<Readiness, PortError> {
        let target = self.target(canary).await?;
        let threshold = threshold(canary.spec.analysis.canary_ready_threshold);
        Ok(readiness(&target, threshold))
    }

    async fn promote(&self, canary: &Canary) -> Result<(), PortError> {
        let target = self.target(canary).await?;
        let replicas = match self.get(canary, &primary_name(canary)).await? {
            Some(primary) => replicas_of(&primary),
            None => replicas_of(&target).max(1),
        };
        self.apply_primary(canary, &target, replicas).await?;
        apply_primary_autoscaler(&self.client, canary).await
    }

    async fn primary_readiness(&self, canary: &Canary) -> Result<Readiness, PortError> {
        let name = primary_name(canary);
        let Some(primary) = self.get(canary, &name).await? else {
            return Ok(Readiness::NotReady(format!("Deployment {name} not found")));
        };
        let threshold = threshold(canary.spec.analysis.primary_ready_threshold);
        Ok(readiness(&primary, threshold))
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::DeploymentStatus;

    use super::*;

    fn deployment(replicas: i32, status: DeploymentStatus) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                name: Some("frontend".to_owned()),
                generation: Some(2),
                ..ObjectMeta::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                ..DeploymentSpec::default()
            }),
            status: Some(status),
        }
    }

    fn rolled_out(replicas: i32, available: i32) -> DeploymentStatus {
        DeploymentStatus {
            observed_generation: Some(2),
            replicas: Some(replicas),
            updated_replicas: Some(replicas),
            available_replicas: Some(available),
            ..DeploymentStatus::default()
        }
    }

    #[test]
    fn a_rolled_out_deployment_is_ready() {
        assert_eq!(
            readiness(&deployment(2, rolled_out(2, 2)), 100),
            Readiness::Ready
        );
    }

    #[test]
    fn a_deployment_whose_new_generation_is_not_observed_is_not_ready() {
        let mut status = rolled_out(2, 2);
        status.observed_generation = Some(1);
        assert!(matches!(
            readiness(&deployment(2, status), 100),
            Readiness::NotReady(why) if why.contains("observed")
        ));
    }

    #[test]
    fn the_ready_threshold_is_a_percentage_of_replicas() {
        let half = deployment(4, rolled_out(4, 2));
        assert_eq!(readiness(&half, 50), Readiness::Ready);
        assert!(matches!(readiness(&half, 100), Readiness::NotReady(_)));
    }

    #[test]
    fn a_deployment_scaled_to_zero_is_not_ready() {
        assert!(matches!(
            readiness(&deployment(0, rolled_out(0, 0)), 100),
            Readiness::NotReady(why) if why.contains("zero")
        ));
    }

    #[test]
    fn old_replicas_still_running_keep_a_deployment_unready() {
        let mut status = rolled_out(2, 2);
        status.replicas = Some(3);
        assert!(matches!(
            readiness(&deployment(2, status), 100),
            Readiness::NotReady(why) if why.contains("old replicas")
        ));
    }

    #[test]
    fn the_primary_selects_its_own_pods() {
        let labels = BTreeMap::from([
            ("app".to_owned(), "frontend".to_owned()),
            ("tier".to_owned(), "web".to_owned()),
        ]);
        let primary = primary_labels(&labels, "app");
        assert_eq!(primary["app"], "frontend-primary");
        assert_eq!(primary["tier"], "web");
    }
}
