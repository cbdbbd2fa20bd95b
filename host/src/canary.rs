//! The Canary resource: Flagger's spec (plus `analysis.policy`), the status
//! the reconciler keeps, and parsing of manifests.

mod analysis_policy;
mod duration;
mod local;
mod revision;
mod schema;
mod spec;
mod status;
mod template;
mod validate;

use serde::{Deserialize, Serialize};

pub use analysis_policy::{
    AnalysisPolicy, AnalysisPolicyResource, AnalysisPolicySpec, ClusterAnalysisPolicyResource,
    ClusterAnalysisPolicySpec, PolicyKind, PolicyObjectRef,
};
pub use duration::{format as format_duration, parse as parse_duration};
pub use local::{BackendKind, LocalBackend, LocalSpec, ProxyLimits};
pub use revision::revision_of;
pub use spec::{
    AnalysisSpec, AutoscalerRef, CanaryResource, CanarySpec, DEFAULT_MAX_HOLDS, MetricSpec,
    OnPolicyError, PolicySpec, PolicyVerification, RangeSpec, ScalerReplicas, ServiceSpec,
    ShadowPolicySpec, TargetRef, TemplateRef, WebhookSpec,
};
pub use status::{CanaryResourceStatus, CanaryStatus, HISTORY_LEN, ShadowVerdict};
pub use template::{MetricProvider, MetricTemplate, MetricTemplateResource, MetricTemplateSpec};
pub use validate::BUILTIN_METRICS;
pub use warbler_guest_sdk::WebhookKind;

/// The API group and version of Warbler's Canary kind.
pub const API_VERSION: &str = "warbler.dev/v1alpha1";
/// Flagger's, which Warbler's spec is compatible with.
pub const FLAGGER_API_VERSION: &str = "flagger.app/v1beta1";

/// A Canary: identity, spec and status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Canary {
    /// Must be [`API_VERSION`].
    pub api_version: String,
    /// Must be `Canary`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: Metadata,
    /// What to release and how to analyse it.
    pub spec: CanarySpec,
    /// Where the current run stands.
    #[serde(default)]
    pub status: CanaryStatus,
}

/// The parts of Kubernetes object metadata Warbler reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// The Canary's name.
    pub name: String,
    /// Its namespace; `default` when unset.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The object's UID in a cluster, which owner references name; none in
    /// local mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

impl Metadata {
    /// The name and namespace of a cluster object.
    pub fn of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Metadata {
        Metadata {
            name: meta.name.clone().unwrap_or_default(),
            namespace: meta.namespace.clone().unwrap_or_else(default_namespace),
            uid: meta.uid.clone(),
        }
    }
}

fn default_namespace() -> String {
    "default".to_owned()
}

/// A manifest that is not a valid Canary.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not YAML, or a field has the wrong type or name.
    #[error("{source_name}: {message}")]
    Invalid {
        /// The file or stream it came from.
        source_name: String,
        /// What is wrong, with the field's path.
        message: String,
    },
    /// A Flagger manifest that still says `flagger.app/v1beta1`.
    #[error(
        "{source_name}: apiVersion is {found}; change it to {API_VERSION}: the spec is compatible with Flagger's and needs no other change"
    )]
    FlaggerApiVersion {
        /// The file or stream it came from.
        source_name: String,
        /// The apiVersion found.
        found: String,
    },
    /// Another kind or API version.
    #[error(
        "{source_name}: expected kind {expected} with apiVersion {API_VERSION}, found kind {kind} with apiVersion {api_version}"
    )]
    WrongKind {
        /// The file or stream it came from.
        source_name: String,
        /// The kind expected there.
        expected: &'static str,
        /// The kind found.
        kind: String,
        /// The apiVersion found.
        api_version: String,
    },
    /// A file of documents without a Canary, or with two.
    #[error("{source_name}: {message}")]
    Documents {
        /// The file or stream it came from.
        source_name: String,
        /// What is wrong with the set of documents.
        message: String,
    },
}

/// Deserialize one YAML (or JSON) document; the error gives the path of the
/// offending field.
fn parse_document<T: serde::de::DeserializeOwned>(
    source_name: &str,
    text: &str,
) -> Result<T, ManifestError> {
    let invalid = |message: String| ManifestError::Invalid {
        source_name: source_name.to_owned(),
        message,
    };
    let deserializer = serde_norway::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        // serde_norway prefixes its message with the enclosing mapping's
        // path; the exact field's path replaces it.
        let message = err.inner().to_string();
        let message = match message.split_once(": ") {
            Some((prefix, rest)) if !prefix.contains(' ') => rest.to_owned(),
            _ => message,
        };
        match err.path().to_string().as_str() {
            "." => invalid(message),
            path => invalid(format!("{path}: {message}")),
        }
    })
}

/// Refuse a document that is not `expected` in Warbler's API version, with
/// a dedicated hint for Flagger's.
fn check_kind(
    source_name: &str,
    expected: &'static str,
    kind: &str,
    api_version: &str,
) -> Result<(), ManifestError> {
    if api_version == FLAGGER_API_VERSION && kind == expected {
        return Err(ManifestError::FlaggerApiVersion {
            source_name: source_name.to_owned(),
            found: api_version.to_owned(),
        });
    }
    if api_version != API_VERSION || kind != expected {
        return Err(ManifestError::WrongKind {
            source_name: source_name.to_owned(),
            expected,
            kind: kind.to_owned(),
            api_version: api_version.to_owned(),
        });
    }
    Ok(())
}

impl Canary {
    /// Parse a Canary from YAML (or JSON). `source_name` names the input in
    /// errors, which give the path of the offending field.
    pub fn from_yaml(source_name: &str, text: &str) -> Result<Canary, ManifestError> {
        let canary: Canary = parse_document(source_name, text)?;
        check_kind(source_name, "Canary", &canary.kind, &canary.api_version)?;
        Ok(canary)
    }

    /// The Canary a cluster's `canaries.warbler.dev` object describes.
    pub fn from_resource(resource: &CanaryResource) -> Canary {
        Canary {
            api_version: API_VERSION.to_owned(),
            kind: "Canary".to_owned(),
            metadata: Metadata::of(&resource.metadata),
            spec: resource.spec.clone(),
            status: resource
                .status
                .as_ref()
                .map(|status| status.run.clone())
                .unwrap_or_default(),
        }
    }

    /// `namespace/name`, for logs and events.
    pub fn key(&self) -> String {
        format!("{}/{}", self.metadata.namespace, self.metadata.name)
    }
}

impl MetricTemplate {
    /// The MetricTemplate a cluster's `metrictemplates.warbler.dev` object
    /// describes.
    pub fn from_resource(resource: &MetricTemplateResource) -> MetricTemplate {
        MetricTemplate {
            api_version: API_VERSION.to_owned(),
            kind: "MetricTemplate".to_owned(),
            metadata: Metadata::of(&resource.metadata),
            spec: resource.spec.clone(),
        }
    }

    /// Parse a MetricTemplate from YAML (or JSON); errors give the field's
    /// path.
    pub fn from_yaml(source_name: &str, text: &str) -> Result<MetricTemplate, ManifestError> {
        let template: MetricTemplate = parse_document(source_name, text)?;
        check_kind(
            source_name,
            "MetricTemplate",
            &template.kind,
            &template.api_version,
        )?;
        Ok(template)
    }
}

impl AnalysisPolicy {
    /// Parse an AnalysisPolicy or ClusterAnalysisPolicy from YAML (or
    /// JSON); errors give the field's path.
    pub fn from_yaml(source_name: &str, text: &str) -> Result<AnalysisPolicy, ManifestError> {
        let policy: AnalysisPolicy = parse_document(source_name, text)?;
        let expected = if policy.kind == "ClusterAnalysisPolicy" {
            "ClusterAnalysisPolicy"
        } else {
            "AnalysisPolicy"
        };
        check_kind(source_name, expected, &policy.kind, &policy.api_version)?;
        Ok(policy)
    }
}

/// A file of YAML documents: one Canary, the MetricTemplates its metrics
/// refer to and the shared policy it names (what `warbler run` reads). The
/// shared policy is adopted into the Canary as the file is read.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The Canary.
    pub canary: Canary,
    /// The MetricTemplates, in file order.
    pub templates: Vec<MetricTemplate>,
}

impl Manifest {
    /// Parse documents separated by `---`; errors name the document.
    pub fn from_yaml(source_name: &str, text: &str) -> Result<Manifest, ManifestError> {
        #[derive(serde::Deserialize)]
        struct Head {
            #[serde(default)]
            kind: String,
        }
        let mut canaries = Vec::new();
        let mut templates = Vec::new();
        let mut policies = Vec::new();
        for (index, document) in split_documents(text).into_iter().enumerate() {
            let name = format!("{source_name} (document {})", index + 1);
            let head: Option<Head> = parse_document(&name, document)?;
            match head.map(|h| h.kind).as_deref() {
                None => {}
                Some("MetricTemplate") => {
                    templates.push(MetricTemplate::from_yaml(&name, document)?)
                }
                Some("AnalysisPolicy" | "ClusterAnalysisPolicy") => {
                    policies.push(AnalysisPolicy::from_yaml(&name, document)?)
                }
                Some(_) => canaries.push(Canary::from_yaml(&name, document)?),
            }
        }
        let documents_error = |message: &str| ManifestError::Documents {
            source_name: source_name.to_owned(),
            message: message.to_owned(),
        };
        let mut canary = match canaries.len() {
            0 => {
                return Err(documents_error(
                    "no Canary found; the file needs one document of kind Canary",
                ));
            }
            1 => canaries.remove(0),
            _ => {
                return Err(documents_error(
                    "more than one Canary; `warbler run` runs one Canary per file",
                ));
            }
        };
        let namespace = canary.metadata.namespace.clone();
        let shared = |reference: &PolicyObjectRef, field: &str| {
            policies
                .iter()
                .find(|p| p.is(reference, &namespace))
                .map(|p| p.spec.clone())
                .ok_or_else(|| {
                    documents_error(&format!(
                        "{field}.policyRef: no {} in this file; add it as a document after the Canary (`---`) or fix the name",
                        reference.describe(&namespace)
                    ))
                })
        };
        if let Some(reference) = canary.policy_object().cloned() {
            let spec = shared(&reference, "spec.analysis.policy")?;
            canary
                .adopt_policy(&spec)
                .map_err(|message| documents_error(&message))?;
        }
        for (index, shadow) in canary.spec.analysis.shadow_policies.iter_mut().enumerate() {
            let Some(reference) = shadow.policy_ref.clone() else {
                continue;
            };
            let field = format!("spec.analysis.shadowPolicies[{index}]");
            let spec = shared(&reference, &field)?;
            shadow
                .adopt(&spec, &field)
                .map_err(|message| documents_error(&message))?;
        }
        Ok(Manifest { canary, templates })
    }
}

/// The documents of a YAML stream (separated by `---` lines).
fn split_documents(text: &str) -> Vec<&str> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end();
        if bare == "---" || bare.starts_with("--- ") {
            documents.push(&text[start..offset]);
            start = offset + line.len();
        }
        offset += line.len();
    }
    documents.push(&text[start..]);
    documents
}
