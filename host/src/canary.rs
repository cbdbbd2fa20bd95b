//! The Canary resource: Flagger's spec (plus `analysis.policy`), the status
//! the reconciler keeps, and parsing of manifests.

mod duration;
mod revision;
mod spec;
mod status;

use serde::{Deserialize, Serialize};

pub use duration::{format as format_duration, parse as parse_duration};
pub use revision::revision_of;
pub use spec::{
    AnalysisSpec, CanarySpec, MetricSpec, OnPolicyError, PolicySpec, RangeSpec, ServiceSpec,
    TargetRef, TemplateRef, WebhookSpec,
};
pub use status::{CanaryStatus, HISTORY_LEN};
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
        "{source_name}: expected kind Canary with apiVersion {API_VERSION}, found kind {kind} with apiVersion {api_version}"
    )]
    WrongKind {
        /// The file or stream it came from.
        source_name: String,
        /// The kind found.
        kind: String,
        /// The apiVersion found.
        api_version: String,
    },
}

impl Canary {
    /// Parse a Canary from YAML (or JSON). `source_name` names the input in
    /// errors, which give the path of the offending field.
    pub fn from_yaml(source_name: &str, text: &str) -> Result<Canary, ManifestError> {
        let invalid = |message: String| ManifestError::Invalid {
            source_name: source_name.to_owned(),
            message,
        };
        let deserializer = serde_norway::Deserializer::from_str(text);
        let canary: Canary = serde_path_to_error::deserialize(deserializer).map_err(|err| {
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
        })?;
        if canary.api_version == FLAGGER_API_VERSION && canary.kind == "Canary" {
            return Err(ManifestError::FlaggerApiVersion {
                source_name: source_name.to_owned(),
                found: canary.api_version,
            });
        }
        if canary.api_version != API_VERSION || canary.kind != "Canary" {
            return Err(ManifestError::WrongKind {
                source_name: source_name.to_owned(),
                kind: canary.kind,
                api_version: canary.api_version,
            });
        }
        Ok(canary)
    }

    /// `namespace/name`, for logs and events.
    pub fn key(&self) -> String {
        format!("{}/{}", self.metadata.namespace, self.metadata.name)
    }
}
