//! The artifact layouts a policy travels in: the CNCF Wasm OCI artifact
//! Warbler pushes, and the layouts of Kubewarden's `kwctl push` and the
//! older Wasm module artifacts, which it reads so existing artifacts load.

use std::collections::BTreeMap;

use oci_client::manifest::{OciDescriptor, OciImageManifest};
use serde_json::{Value, json};
use warbler_guest_sdk::PolicyInfo;

use super::OciError;
use super::digest::sha256;
use crate::policy::World;

/// An OCI image manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker's image manifest, which some older tools write.
const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The CNCF Wasm artifact's config.
pub const CNCF_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The CNCF Wasm artifact's one layer.
pub const CNCF_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// Kubewarden's (`kwctl push`) layer.
const KUBEWARDEN_LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";
/// The older Wasm module artifacts' layer (wasm-to-oci, wasmCloud).
const MODULE_LAYER_MEDIA_TYPE: &str = "application/vnd.module.wasm.content.layer.v1+wasm";

/// The manifest media types a pull asks for; an index is asked for too, so
/// that one is refused by name rather than by a registry's 404.
pub const ACCEPTED_MANIFEST_TYPES: &[&str] = &[
    MANIFEST_MEDIA_TYPE,
    DOCKER_MANIFEST_MEDIA_TYPE,
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Which layout an artifact was published in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// The CNCF Wasm OCI artifact (what `warbler policy push` writes).
    Cncf,
    /// Kubewarden's `kwctl push`.
    Kubewarden,
    /// The older `vnd.module.wasm` artifacts.
    WasmModule,
}

/// A manifest read as a policy artifact: its one Wasm layer and its config.
#[derive(Debug, Clone)]
pub struct PolicyArtifact {
    /// The layout it was published in.
    pub layout: Layout,
    /// The config blob's descriptor.
    pub config: OciDescriptor,
    /// The component's descriptor.
    pub layer: OciDescriptor,
    /// The manifest's annotations (`org.opencontainers.image.*`).
    pub annotations: BTreeMap<String, String>,
}

impl PolicyArtifact {
    /// Read `manifest` (of `reference`), refusing whatever is not a single
    /// Wasm layer, with what was found.
    pub fn from_manifest(reference: &str, manifest: &[u8]) -> Result<Self, OciError> {
        let refuse = |message: String| OciError::NotAPolicyArtifact {
            reference: reference.to_owned(),
            message,
        };
        let value: Value = serde_json::from_slice(manifest)
            .map_err(|err| refuse(format!("its manifest is not JSON ({err})")))?;
        let media_type = value["mediaType"].as_str().unwrap_or(MANIFEST_MEDIA_TYPE);
        if value.get("manifests").is_some()
            || media_type.contains("index")
            || media_type.contains("list")
        {
            return Err(refuse(format!(
                "it is an image index (`{media_type}`), a list of images for several platforms; refer to one Wasm artifact, pushed with `warbler policy push`"
            )));
        }
        if media_type != MANIFEST_MEDIA_TYPE && media_type != DOCKER_MANIFEST_MEDIA_TYPE {
            return Err(refuse(format!(
                "its manifest is `{media_type}`, not an OCI image manifest"
            )));
        }
        let manifest: OciImageManifest = serde_json::from_value(value)
            .map_err(|err| refuse(format!("its manifest is malformed ({err})")))?;
        let [layer] = manifest.layers.as_slice() else {
            let types: Vec<&str> = manifest
                .layers
                .iter()
                .map(|l| l.media_type.as_str())
                .collect();
            return Err(refuse(format!(
                "it has {} layers ({}); a policy artifact has exactly one, the component",
                types.len(),
                types.join(", ")
            )));
        };
        let layout = match layer.media_type.as_str() {
            CNCF_LAYER_MEDIA_TYPE => Layout::Cncf,
            KUBEWARDEN_LAYER_MEDIA_TYPE => Layout::Kubewarden,
            MODULE_LAYER_MEDIA_TYPE => Layout::WasmModule,
            other => {
                return Err(refuse(format!(
                    "its layer is `{other}` (a container image?), not Wasm (`{CNCF_LAYER_MEDIA_TYPE}`, `{KUBEWARDEN_LAYER_MEDIA_TYPE}` or `{MODULE_LAYER_MEDIA_TYPE}`)"
                )));
            }
        };
        if layout == Layout::Cncf && manifest.config.media_type != CNCF_CONFIG_MEDIA_TYPE {
            return Err(refuse(format!(
                "its layer is `{CNCF_LAYER_MEDIA_TYPE}` but its config is `{}`, not `{CNCF_CONFIG_MEDIA_TYPE}`",
                manifest.config.media_type
            )));
        }
        Ok(PolicyArtifact {
            layout,
            config: manifest.config,
            layer: layer.clone(),
            annotations: manifest.annotations.unwrap_or_default(),
        })
    }
}

/// What `warbler policy push` uploads: the config and the manifest that
/// tie the component's bytes to its description.
#[derive(Debug, Clone)]
pub struct ArtifactToPush {
    /// The config blob (`application/vnd.wasm.config.v0+json`).
    pub config: Vec<u8>,
    /// The image manifest.
    pub manifest: Vec<u8>,
}

/// Where the component came from and when it was made, for annotations.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// RFC 3339 creation time.
    pub created: String,
    /// `org.opencontainers.image.source`: the policy's repository.
    pub source: Option<String>,
}

impl ArtifactToPush {
    /// The CNCF Wasm artifact for `wasm`, whose imports and exports are
    /// `world` and whose `describe()` gave `info`.
    pub fn new(wasm: &[u8], world: &World, info: &PolicyInfo, provenance: &Provenance) -> Self {
        let layer_digest = sha256(wasm);
        // The contract the component was built for, which a newer host may
        // well run: the version of its analysis export.
        let contract = world
            .exports
            .iter()
            .find_map(|name| name.strip_prefix("warbler:policy/analysis@"))
            .unwrap_or(crate::policy::CONTRACT_VERSION);
        let config = json!({
            "created": provenance.created,
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [layer_digest],
            "component": {
                "exports": world.exports,
                "imports": world.imports,
                "target": format!("warbler:policy/policy@{contract}"),
            },
        });
        let config = serde_json::to_vec(&config).expect("json serializes");
        let mut annotations = BTreeMap::from([
            ("org.opencontainers.image.title", info.name.clone()),
            ("org.opencontainers.image.version", info.version.clone()),
            (
                "org.opencontainers.image.description",
                info.description.clone(),
            ),
            (
                "org.opencontainers.image.created",
                provenance.created.clone(),
            ),
        ]);
        if let Some(source) = &provenance.source {
            annotations.insert("org.opencontainers.image.source", source.clone());
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": CNCF_CONFIG_MEDIA_TYPE,
            "config": {
                "mediaType": CNCF_CONFIG_MEDIA_TYPE,
                "digest": sha256(&config),
                "size": config.len(),
            },
            "layers": [{
                "mediaType": CNCF_LAYER_MEDIA_TYPE,
                "digest": layer_digest,
                "size": wasm.len(),
                "annotations": { "org.opencontainers.image.title": format!("{}.wasm", info.name) },
            }],
            "annotations": annotations,
        });
        ArtifactToPush {
            config,
            manifest: serde_json::to_vec(&manifest).expect("json serializes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(layers: &[(&str, &str)], config: &str) -> Vec<u8> {
        let layers: Vec<Value> = layers
            .iter()
            .map(|(media_type, digest)| json!({ "mediaType": media_type, "digest": digest, "size": 8 }))
            .collect();
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": { "mediaType": config, "digest": sha256(b"{}"), "size": 2 },
            "layers": layers,
        }))
        .unwrap()
    }

    fn info() -> PolicyInfo {
        PolicyInfo {
            name: "zscore".into(),
            version: "1.2.0".into(),
            description: "Rolls back on outliers.".into(),
            required_metrics: vec![],
            needs_baseline: true,
            config_schema: "{}".into(),
        }
    }

    #[test]
    fn a_pushed_artifact_reads_back_as_a_cncf_policy() {
        let world = World {
            imports: vec!["warbler:policy/log@0.1.0".into()],
            exports: vec!["warbler:policy/analysis@0.1.0".into()],
        };
        let pushed = ArtifactToPush::new(
            b"\0asm\x0d\0\x01\0",
            &world,
            &info(),
            &Provenance::default(),
        );
        let artifact = PolicyArtifact::from_manifest("x", &pushed.manifest).unwrap();
        assert_eq!(artifact.layout, Layout::Cncf);
        assert_eq!(artifact.config.digest, sha256(&pushed.config));
        assert_eq!(artifact.layer.digest, sha256(b"\0asm\x0d\0\x01\0"));
        assert_eq!(
            artifact.annotations["org.opencontainers.image.version"],
            "1.2.0"
        );
        let config: Value = serde_json::from_slice(&pushed.config).unwrap();
        assert_eq!(config["os"], "wasip2");
        assert_eq!(config["layerDigests"][0], json!(artifact.layer.digest));
        assert_eq!(
            config["component"]["exports"][0],
            "warbler:policy/analysis@0.1.0"
        );
        assert_eq!(
            config["component"]["target"], "warbler:policy/policy@0.1.0",
            "the contract the component was built for, not the host's"
        );
    }

    #[test]
    fn kubewarden_and_module_layouts_are_read() {
        let d = sha256(b"w");
        let kw = manifest(
            &[(KUBEWARDEN_LAYER_MEDIA_TYPE, &d)],
            "application/vnd.wasm.config.v1+json",
        );
        let module = manifest(
            &[(MODULE_LAYER_MEDIA_TYPE, &d)],
            "application/vnd.oci.image.config.v1+json",
        );
        assert_eq!(
            PolicyArtifact::from_manifest("x", &kw).unwrap().layout,
            Layout::Kubewarden
        );
        assert_eq!(
            PolicyArtifact::from_manifest("x", &module).unwrap().layout,
            Layout::WasmModule
        );
    }

    #[test]
    fn an_artifact_with_two_layers_is_refused_naming_them() {
        let d = sha256(b"w");
        let m = manifest(
            &[(CNCF_LAYER_MEDIA_TYPE, &d), ("text/plain", &d)],
            CNCF_CONFIG_MEDIA_TYPE,
        );
        let err = PolicyArtifact::from_manifest("x", &m)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("2 layers (application/wasm, text/plain)"),
            "{err}"
        );
    }

    #[test]
    fn a_container_image_is_refused_naming_its_layer() {
        let d = sha256(b"w");
        let m = manifest(
            &[("application/vnd.oci.image.layer.v1.tar+gzip", &d)],
            "application/vnd.oci.image.config.v1+json",
        );
        let err = PolicyArtifact::from_manifest("x", &m)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("layer.v1.tar+gzip` (a container image?)"),
            "{err}"
        );
    }

    #[test]
    fn an_image_index_is_refused_as_one() {
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [],
        }))
        .unwrap();
        let err = PolicyArtifact::from_manifest("x", &index)
            .unwrap_err()
            .to_string();
        assert!(err.contains("image index"), "{err}");
    }
}
