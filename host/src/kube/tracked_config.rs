//! Tracked configs, Flagger's way: the ConfigMaps and Secrets the target's
//! pods use are copied as `<name>-primary`, and the primary's pods use the
//! copies. A change to one of them is a change of the target's revision, so
//! it is analysed on the canary before the primary sees it, like a change
//! of the pod template.
//!
//! A config annotated `warbler.dev/config-tracking: disabled` (or Flagger's
//! `flagger.app/config-tracking`) is shared by both, as before.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, PodSpec, Secret};
use kube::Client;
use kube::api::{Api, Patch};
use sha2::{Digest, Sha256};

use super::api_error;
use super::platform::{apply_params, owned_meta};
use crate::canary::Canary;
use crate::ports::PortError;

/// The annotations that leave a config out of tracking.
const OPT_OUT: [&str; 2] = ["warbler.dev/config-tracking", "flagger.app/config-tracking"];

/// The primary pod template's annotation holding [`TrackedConfigs::checksum`]:
/// a change of a config's data then rolls the primary's pods at promotion,
/// also those that read it as environment variables.
pub const CHECKSUM_ANNOTATION: &str = "warbler.dev/tracked-configs";

/// What a pod spec refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    ConfigMap,
    Secret,
}

/// The configs the target's pods use, as read now.
#[derive(Debug, Default)]
pub struct TrackedConfigs {
    config_maps: BTreeMap<String, ConfigMap>,
    secrets: BTreeMap<String, Secret>,
}

impl TrackedConfigs {
    /// Read the configs `spec` refers to in the Canary's namespace; those
    /// that do not exist (the pods will say so) or opt out are left alone.
    pub async fn read(
        client: &Client,
        canary: &Canary,
        spec: &PodSpec,
    ) -> Result<TrackedConfigs, PortError> {
        let namespace = &canary.metadata.namespace;
        let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let mut tracked = TrackedConfigs::default();
        for (kind, name) in references(spec) {
            let unreadable =
                |what: &str| api_error("platform", format!("cannot read {what} {name}"));
            match kind {
                Kind::ConfigMap => {
                    if let Some(config) = config_maps
                        .get_opt(&name)
                        .await
                        .map_err(unreadable("ConfigMap"))?
                        && !opted_out(config.metadata.annotations.as_ref())
                    {
                        tracked.config_maps.insert(name, config);
                    }
                }
                Kind::Secret => {
                    if let Some(secret) =
                        secrets.get_opt(&name).await.map_err(unreadable("Secret"))?
                        && !opted_out(secret.metadata.annotations.as_ref())
                    {
                        tracked.secrets.insert(name, secret);
                    }
                }
            }
        }
        Ok(tracked)
    }

    /// A digest of every tracked config's name and data; `None` when there
    /// are none, so a target without configs keeps the revision it had.
    pub fn checksum(&self) -> Option<String> {
        if self.config_maps.is_empty() && self.secrets.is_empty() {
            return None;
        }
        let mut hash = Sha256::new();
        for (name, config) in &self.config_maps {
            hash.update(format!("configmap/{name}\n"));
            hash_entries(
                &mut hash,
                config.data.iter().flatten().map(|(k, v)| (k, v.as_bytes())),
            );
            hash_entries(
                &mut hash,
                config
                    .binary_data
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k, &v.0[..])),
            );
        }
        for (name, secret) in &self.secrets {
            hash.update(format!("secret/{name}\n"));
            hash_entries(
                &mut hash,
                secret.data.iter().flatten().map(|(k, v)| (k, &v.0[..])),
            );
            hash_entries(
                &mut hash,
                secret
                    .string_data
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k, v.as_bytes())),
            );
        }
        Some(
            hash.finalize()[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    }

    /// Apply the `-primary` copies, owned by the Canary.
    pub async fn apply_primary_copies(
        &self,
        client: &Client,
        canary: &Canary,
    ) -> Result<(), PortError> {
        let namespace = &canary.metadata.namespace;
        let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        for (name, config) in &self.config_maps {
            let copy_name = primary_copy(name);
            let copy = ConfigMap {
                metadata: copied_meta(canary, &copy_name, config.metadata.labels.clone()),
                data: config.data.clone(),
                binary_data: config.binary_data.clone(),
                immutable: None,
            };
            config_maps
                .patch(&copy_name, &apply_params(), &Patch::Apply(&copy))
                .await
                .map_err(api_error(
                    "platform",
                    format!("cannot apply ConfigMap {copy_name}"),
                ))?;
        }
        let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
        for (name, secret) in &self.secrets {
            let copy_name = primary_copy(name);
            let copy = Secret {
                metadata: copied_meta(canary, &copy_name, secret.metadata.labels.clone()),
                data: merged_secret_data(secret),
                type_: secret.type_.clone(),
                immutable: None,
                string_data: None,
            };
            secrets
                .patch(&copy_name, &apply_params(), &Patch::Apply(&copy))
                .await
                .map_err(api_error(
                    "platform",
                    format!("cannot apply Secret {copy_name}"),
                ))?;
        }
        Ok(())
    }

    /// Point `spec`'s references to tracked configs at their `-primary`
    /// copies.
    pub fn use_primary_copies(&self, spec: &mut PodSpec) {
        visit_references(spec, &mut |kind, name| {
            let tracked = match kind {
                Kind::ConfigMap => self.config_maps.contains_key(name.as_str()),
                Kind::Secret => self.secrets.contains_key(name.as_str()),
            };
            if tracked {
                *name = primary_copy(name);
            }
        });
    }
}

fn primary_copy(name: &str) -> String {
    format!("{name}-primary")
}

fn copied_meta(
    canary: &Canary,
    name: &str,
    labels: Option<BTreeMap<String, String>>,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    let mut meta = owned_meta(canary, name);
    meta.labels = labels;
    meta
}

/// A Secret's `data` with its write-only `stringData` folded in, as the API
/// server would store them.
fn merged_secret_data(secret: &Secret) -> Option<BTreeMap<String, ByteString>> {
    let mut data = secret.data.clone().unwrap_or_default();
    for (key, value) in secret.string_data.iter().flatten() {
        data.insert(key.clone(), ByteString(value.clone().into_bytes()));
    }
    (!data.is_empty()).then_some(data)
}

fn hash_entries<'a>(hash: &mut Sha256, entries: impl Iterator<Item = (&'a String, &'a [u8])>) {
    for (key, value) in entries {
        hash.update(key.as_bytes());
        hash.update((value.len() as u64).to_le_bytes());
        hash.update(value);
    }
}

fn opted_out(annotations: Option<&BTreeMap<String, String>>) -> bool {
    annotations.is_some_and(|annotations| {
        OPT_OUT
            .iter()
            .any(|key| annotations.get(*key).map(String::as_str) == Some("disabled"))
    })
}

/// Every config `spec` refers to, each once.
fn references(spec: &PodSpec) -> Vec<(Kind, String)> {
    let mut found = Vec::new();
    visit_references(&mut spec.clone(), &mut |kind, name| {
        found.push((kind, name.clone()));
    });
    found.sort();
    found.dedup();
    found
}

/// Call `visit` with every ConfigMap and Secret name `spec` refers to: in
/// volumes (projected ones too), and in containers' and init containers'
/// `env` and `envFrom`.
fn visit_references(spec: &mut PodSpec, visit: &mut impl FnMut(Kind, &mut String)) {
    for volume in spec.volumes.iter_mut().flatten() {
        if let Some(source) = &mut volume.config_map {
            visit(Kind::ConfigMap, &mut source.name);
        }
        if let Some(name) = volume.secret.as_mut().and_then(|s| s.secret_name.as_mut()) {
            visit(Kind::Secret, name);
        }
        let sources = volume.projected.as_mut().and_then(|p| p.sources.as_mut());
        for source in sources.into_iter().flatten() {
            if let Some(config) = &mut source.config_map {
                visit(Kind::ConfigMap, &mut config.name);
            }
            if let Some(secret) = &mut source.secret {
                visit(Kind::Secret, &mut secret.name);
            }
        }
    }
    let containers = spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten());
    for container in containers {
        for from in container.env_from.iter_mut().flatten() {
            if let Some(config) = &mut from.config_map_ref {
                visit(Kind::ConfigMap, &mut config.name);
            }
            if let Some(secret) = &mut from.secret_ref {
                visit(Kind::Secret, &mut secret.name);
            }
        }
        let sources = container
            .env
            .iter_mut()
            .flatten()
            .filter_map(|var| var.value_from.as_mut());
        for source in sources {
            if let Some(key) = &mut source.config_map_key_ref {
                visit(Kind::ConfigMap, &mut key.name);
            }
            if let Some(key) = &mut source.secret_key_ref {
                visit(Kind::Secret, &mut key.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pod spec using configs every way a pod can.
    fn pod_spec() -> PodSpec {
        serde_json::from_value(serde_json::json!({
            "containers": [{
                "name": "app",
                "envFrom": [{ "configMapRef": { "name": "env" } }, { "secretRef": { "name": "creds" } }],
                "env": [
                    { "name": "A", "valueFrom": { "configMapKeyRef": { "name": "settings", "key": "a" } } },
                    { "name": "B", "valueFrom": { "secretKeyRef": { "name": "creds", "key": "b" } } },
                    { "name": "C", "value": "plain" }
                ]
            }],
            "initContainers": [{
                "name": "init",
                "envFrom": [{ "configMapRef": { "name": "init-env" } }]
            }],
            "volumes": [
                { "name": "v1", "configMap": { "name": "files" } },
                { "name": "v2", "secret": { "secretName": "tls" } },
                { "name": "v3", "projected": { "sources": [
                    { "configMap": { "name": "projected" } },
                    { "secret": { "name": "projected-secret" } }
                ] } },
                { "name": "v4", "emptyDir": {} }
            ]
        }))
        .unwrap()
    }

    #[test]
    fn every_config_a_pod_uses_is_found_once() {
        let names: Vec<String> = references(&pod_spec())
            .into_iter()
            .map(|(kind, name)| format!("{kind:?}/{name}"))
            .collect();
        assert_eq!(
            names,
            [
                "ConfigMap/env",
                "ConfigMap/files",
                "ConfigMap/init-env",
                "ConfigMap/projected",
                "ConfigMap/settings",
                "Secret/creds",
                "Secret/projected-secret",
                "Secret/tls",
            ]
        );
    }

    fn tracked(config_maps: &[&str], secrets: &[&str]) -> TrackedConfigs {
        TrackedConfigs {
            config_maps: config_maps
                .iter()
                .map(|name| (name.to_string(), ConfigMap::default()))
                .collect(),
            secrets: secrets
                .iter()
                .map(|name| (name.to_string(), Secret::default()))
                .collect(),
        }
    }

    #[test]
    fn the_primary_uses_the_copies_of_tracked_configs_only() {
        let mut spec = pod_spec();
        tracked(&["files", "settings"], &["creds"]).use_primary_copies(&mut spec);
        let names: Vec<String> = references(&spec).into_iter().map(|(_, n)| n).collect();
        assert!(names.contains(&"files-primary".to_owned()), "{names:?}");
        assert!(names.contains(&"settings-primary".to_owned()), "{names:?}");
        assert!(names.contains(&"creds-primary".to_owned()), "{names:?}");
        assert!(
            names.contains(&"env".to_owned()),
            "untracked stays: {names:?}"
        );
        assert!(!names.contains(&"creds".to_owned()), "{names:?}");
    }

    #[test]
    fn the_checksum_changes_with_a_configs_data() {
        let mut configs = tracked(&["settings"], &[]);
        let before = configs.checksum();
        configs.config_maps.get_mut("settings").unwrap().data =
            Some(BTreeMap::from([("a".to_owned(), "2".to_owned())]));
        assert_ne!(configs.checksum(), before);
        assert!(before.is_some());
    }

    #[test]
    fn a_target_without_configs_has_no_checksum() {
        assert_eq!(tracked(&[], &[]).checksum(), None);
    }

    #[test]
    fn a_config_annotated_disabled_is_not_tracked() {
        let flagger = BTreeMap::from([(
            "flagger.app/config-tracking".to_owned(),
            "disabled".to_owned(),
        )]);
        assert!(opted_out(Some(&flagger)));
        assert!(!opted_out(None));
    }
}
