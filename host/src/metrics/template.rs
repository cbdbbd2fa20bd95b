//! A metric measured through the provider of its MetricTemplate, wherever
//! the template came from (the Canary's file or the cluster).

use super::{PrometheusSource, ScrapeSource};
use crate::canary::{Canary, MetricSpec, MetricTemplate};
use crate::ports::Measurement;

/// Measure `metric` with `template`'s query: on `prometheus` (the
/// template's own address, else the default server) or by scraping the
/// template's `/metrics` address.
pub async fn measure_templated(
    template: &MetricTemplate,
    prometheus: Option<&PrometheusSource>,
    scrape: &ScrapeSource,
    canary: &Canary,
    metric: &MetricSpec,
    now_ms: i64,
) -> Measurement {
    let key = format!("{}/{}", template.metadata.namespace, template.metadata.name);
    match template.spec.provider.kind.as_str() {
        "prometheus" => match prometheus {
            Some(source) => {
                source
                    .measure_query(canary, metric, &template.spec.query, now_ms)
                    .await
            }
            None => Measurement::missing(format!(
                "MetricTemplate {key} has no spec.provider.address; set it, or give Warbler a Prometheus (--prometheus / --metrics-server)"
            )),
        },
        "scrape" => match template.spec.provider.address.as_deref() {
            Some(address) => {
                scrape
                    .measure_query(canary, metric, address, &template.spec.query)
                    .await
            }
            None => Measurement::missing(format!(
                "MetricTemplate {key}: a scrape provider needs spec.provider.address, the /metrics URL"
            )),
        },
        other => Measurement::missing(format!(
            "MetricTemplate {key}: provider type {other} is not supported; use `prometheus` or `scrape`"
        )),
    }
}
