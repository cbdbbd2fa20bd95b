//! MetricTemplate: Flagger's reusable metric query with its provider.

use serde::{Deserialize, Serialize};

use super::Metadata;

/// A MetricTemplate (`spec.analysis.metrics[].templateRef` points at one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricTemplate {
    /// `warbler.dev/v1alpha1`.
    pub api_version: String,
    /// `MetricTemplate`.
    pub kind: String,
    /// Name and namespace.
    pub metadata: Metadata,
    /// The provider and the query.
    pub spec: MetricTemplateSpec,
}

/// `spec` of a MetricTemplate; in a cluster, of the
/// `metrictemplates.warbler.dev` custom resource, [`MetricTemplateResource`].
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema, kube::CustomResource,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[kube(
    group = "warbler.dev",
    version = "v1alpha1",
    kind = "MetricTemplate",
    root = "MetricTemplateResource",
    doc = "A reusable metric query and where it runs, as Flagger's MetricTemplate",
    namespaced,
    printcolumn = r#"{"name":"Provider","type":"string","jsonPath":".spec.provider.type"}"#
)]
pub struct MetricTemplateSpec {
    /// Where the query runs.
    pub provider: MetricProvider,
    /// The query, with Flagger's template variables.
    pub query: String,
}

/// `spec.provider` of a MetricTemplate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricProvider {
    /// The provider type; Warbler runs `prometheus`.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["prometheus", "scrape"]))]
    pub kind: String,
    /// The provider's address, e.g. `http://prometheus.monitoring:9090`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Credentials (in-cluster only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "super::schema::any_value")]
    pub secret_ref: Option<serde_json::Value>,
    /// Skip TLS verification of the provider.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}
