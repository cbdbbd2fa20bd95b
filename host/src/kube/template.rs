//! The pod template a revision is computed from, without what the API
//! server fills in by itself. A template as written and the same template as
//! stored (with every default the API server added) give one revision, so a
//! Kubernetes upgrade that adds a default does not start a rollout: the weak
//! spot of a hash over the stored spec.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::{Map, Value};

/// `template` as JSON, with the API server's defaults and empty values
/// removed.
pub fn canonical_pod_template(template: &PodTemplateSpec) -> Value {
    let mut value = serde_json::to_value(template).expect("a pod template serializes");
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("creationTimestamp");
    }
    if let Some(spec) = value.get_mut("spec").and_then(Value::as_object_mut) {
        strip_pod_defaults(spec);
    }
    prune_empty(&mut value);
    value
}

fn remove_if(map: &mut Map<String, Value>, key: &str, default: Value) {
    if map.get(key) == Some(&default) {
        map.remove(key);
    }
}

fn strip_pod_defaults(spec: &mut Map<String, Value>) {
    remove_if(spec, "restartPolicy", "Always".into());
    remove_if(spec, "terminationGracePeriodSeconds", 30.into());
    remove_if(spec, "dnsPolicy", "ClusterFirst".into());
    remove_if(spec, "schedulerName", "default-scheduler".into());
    remove_if(spec, "enableServiceLinks", true.into());
    for list in ["containers", "initContainers"] {
        for container in objects(spec.get_mut(list)) {
            strip_container_defaults(container);
        }
    }
    for volume in objects(spec.get_mut("volumes")) {
        for source in ["configMap", "secret", "downwardAPI", "projected"] {
            if let Some(source) = volume.get_mut(source).and_then(Value::as_object_mut) {
                remove_if(source, "defaultMode", 420.into());
            }
        }
    }
}

fn strip_container_defaults(container: &mut Map<String, Value>) {
    remove_if(
        container,
        "terminationMessagePath",
        "/dev/termination-log".into(),
    );
    remove_if(container, "terminationMessagePolicy", "File".into());
    let image = container
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or_default();
    remove_if(
        container,
        "imagePullPolicy",
        default_pull_policy(image).into(),
    );
    for port in objects(container.get_mut("ports")) {
        remove_if(port, "protocol", "TCP".into());
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = container.get_mut(probe).and_then(Value::as_object_mut) {
            remove_if(probe, "timeoutSeconds", 1.into());
            remove_if(probe, "periodSeconds", 10.into());
            remove_if(probe, "successThreshold", 1.into());
            remove_if(probe, "failureThreshold", 3.into());
            if let Some(get) = probe.get_mut("httpGet").and_then(Value::as_object_mut) {
                remove_if(get, "scheme", "HTTP".into());
            }
        }
    }
    for variable in objects(container.get_mut("env")) {
        if let Some(field) = variable
            .get_mut("valueFrom")
            .and_then(|from| from.get_mut("fieldRef"))
            .and_then(Value::as_object_mut)
        {
            remove_if(field, "apiVersion", "v1".into());
        }
    }
}

/// The API server's pull policy for an image: `Always` for `:latest` or no
/// tag, `IfNotPresent` otherwise.
fn default_pull_policy(image: &str) -> &'static str {
    let name = image.split('@').next().unwrap_or(image);
    let last = name.rsplit('/').next().unwrap_or(name);
    if image.contains('@') {
        return "IfNotPresent";
    }
    match last.split_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn objects(list: Option<&mut Value>) -> impl Iterator<Item = &mut Map<String, Value>> {
    list.and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// Remove nulls, empty objects and empty lists, innermost first.
fn prune_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for item in map.values_mut() {
                prune_empty(item);
            }
            map.retain(|_, item| !is_empty(item));
        }
        Value::Array(items) => items.iter_mut().for_each(prune_empty),
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::canary::revision_of;

    fn template(value: Value) -> PodTemplateSpec {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_api_servers_defaults_do_not_change_the_revision() {
        let written = template(json!({
            "metadata": {"labels": {"app": "frontend"}},
            "spec": {"containers": [{
                "name": "frontend",
                "image": "ghcr.io/stefanprodan/podinfo:6.0.0",
                "ports": [{"containerPort": 9898, "name": "http"}],
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": 9898}},
            }]},
        }));
        let stored = template(json!({
            "metadata": {"labels": {"app": "frontend"}, "creationTimestamp": null},
            "spec": {
                "containers": [{
                    "name": "frontend",
                    "image": "ghcr.io/stefanprodan/podinfo:6.0.0",
                    "imagePullPolicy": "IfNotPresent",
                    "ports": [{"containerPort": 9898, "name": "http", "protocol": "TCP"}],
                    "readinessProbe": {
                        "httpGet": {"path": "/readyz", "port": 9898, "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 10,
                        "successThreshold": 1, "failureThreshold": 3,
                    },
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                }],
                "dnsPolicy": "ClusterFirst",
                "restartPolicy": "Always",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "terminationGracePeriodSeconds": 30,
                "enableServiceLinks": true,
            },
        }));
        assert_eq!(
            revision_of(&canonical_pod_template(&written)),
            revision_of(&canonical_pod_template(&stored))
        );
    }

    #[test]
    fn a_value_other_than_the_default_is_kept() {
        let default = template(json!({"spec": {"containers": [{"name": "a", "image": "a:1"}]}}));
        let changed = template(json!({"spec": {
            "containers": [{"name": "a", "image": "a:1"}],
            "terminationGracePeriodSeconds": 5,
        }}));
        assert_ne!(
            revision_of(&canonical_pod_template(&default)),
            revision_of(&canonical_pod_template(&changed))
        );
    }

    #[test]
    fn a_new_image_is_a_new_revision() {
        let one = template(json!({"spec": {"containers": [{"name": "a", "image": "a:1"}]}}));
        let two = template(json!({"spec": {"containers": [{"name": "a", "image": "a:2"}]}}));
        assert_ne!(
            revision_of(&canonical_pod_template(&one)),
            revision_of(&canonical_pod_template(&two))
        );
    }

    #[test]
    fn an_untagged_or_latest_image_is_pulled_always() {
        assert_eq!(default_pull_policy("nginx"), "Always");
        assert_eq!(default_pull_policy("nginx:latest"), "Always");
        assert_eq!(default_pull_policy("registry:5000/nginx"), "Always");
        assert_eq!(
            default_pull_policy("registry:5000/nginx:1.27"),
            "IfNotPresent"
        );
        assert_eq!(default_pull_policy("nginx@sha256:abc"), "IfNotPresent");
    }
}
