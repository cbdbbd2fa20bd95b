//! Where the controller's metrics come from: the Prometheus server it was
//! given (`--metrics-server`, Flagger's flag) for built-in and inline
//! queries, and MetricTemplates read from the API server for `templateRef`.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::Client;
use kube::api::Api;

use crate::canary::{Canary, MetricSpec, MetricTemplate, MetricTemplateResource};
use crate::metrics::{PrometheusSource, ScrapeSource, measure_templated};
use crate::ports::{Measurement, MetricSource};

/// Metric sources of the cluster.
pub struct ClusterMetrics {
    client: Client,
    prometheus: Option<PrometheusSource>,
    scrape: ScrapeSource,
    /// One client per template address, kept for its connection pool.
    template_sources: Mutex<HashMap<String, PrometheusSource>>,
}

impl ClusterMetrics {
    /// Read templates through `client`; answer built-in metrics from
    /// `prometheus`.
    pub fn new(client: Client, prometheus: Option<PrometheusSource>) -> Self {
        ClusterMetrics {
            client,
            prometheus,
            scrape: ScrapeSource::default(),
            template_sources: Mutex::new(HashMap::new()),
        }
    }

    fn source_for(&self, template: &MetricTemplate) -> Option<PrometheusSource> {
        let Some(address) = template.spec.provider.address.as_deref() else {
            return self.prometheus.clone();
        };
        let mut sources = self.template_sources.lock().expect("not poisoned");
        Some(
            sources
                .entry(address.to_owned())
                .or_insert_with(|| PrometheusSource::new(address))
                .clone(),
        )
    }
}

impl MetricSource for ClusterMetrics {
    async fn measure(&self, canary: &Canary, metric: &MetricSpec, now_ms: i64) -> Measurement {
        if let Some(reference) = &metric.template_ref {
            let namespace = reference
                .namespace
                .as_deref()
                .unwrap_or(&canary.metadata.namespace);
            let api: Api<MetricTemplateResource> = Api::namespaced(self.client.clone(), namespace);
            let template = match api.get_opt(&reference.name).await {
                Ok(Some(resource)) => MetricTemplate::from_resource(&resource),
                Ok(None) => {
                    return Measurement::missing(format!(
                        "metric {}: MetricTemplate {namespace}/{} not found; create it (kind MetricTemplate, apiVersion warbler.dev/v1alpha1) or fix templateRef",
                        metric.name, reference.name
                    ));
                }
                Err(err) => {
                    return Measurement::missing(format!(
                        "metric {}: cannot read MetricTemplate {namespace}/{}: {err}",
                        metric.name, reference.name
                    ));
                }
            };
            let source = self.source_for(&template);
            return measure_templated(
                &template,
                source.as_ref(),
                &self.scrape,
                canary,
                metric,
                now_ms,
            )
            .await;
        }
        match &self.prometheus {
            Some(prometheus) => prometheus.measure(canary, metric, now_ms).await,
            None => Measurement::missing(format!(
                "metric {}: the controller has no Prometheus; start it with --metrics-server URL",
                metric.name
            )),
        }
    }
}
