//! Where local mode's metrics come from: the proxy's own counters for the
//! built-in metrics, or Prometheus (`--prometheus`) for those and for custom
//! queries, and MetricTemplates' own providers (Prometheus or a direct
//! scrape) for `templateRef`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::traffic::{Backend, TrafficMetric, TrafficStats};
use crate::canary::{Canary, MetricSpec, MetricTemplate};
use crate::metrics::{PrometheusSource, ScrapeSource, measure_templated};
use crate::ports::{Clock, Measurement, MetricSource};

/// The metric sources of a local run.
#[derive(Debug, Clone)]
pub struct LocalMetrics {
    traffic: Arc<TrafficStats>,
    prometheus: Option<PrometheusSource>,
    scrape: ScrapeSource,
    /// `namespace/name` → the template and its provider.
    templates: BTreeMap<String, (MetricTemplate, Option<PrometheusSource>)>,
}

impl LocalMetrics {
    /// Answer built-in metrics from `traffic`, or from `prometheus` when
    /// given; resolve `templateRef`s against `templates`.
    pub fn new(
        traffic: Arc<TrafficStats>,
        prometheus: Option<PrometheusSource>,
        templates: Vec<MetricTemplate>,
    ) -> Self {
        let templates = templates
            .into_iter()
            .map(|template| {
                let key = format!("{}/{}", template.metadata.namespace, template.metadata.name);
                let source = template
                    .spec
                    .provider
                    .address
                    .as_deref()
                    .filter(|_| template.spec.provider.kind == "prometheus")
                    .map(PrometheusSource::new);
                (key, (template, source))
            })
            .collect();
        LocalMetrics {
            traffic,
            prometheus,
            scrape: ScrapeSource::default(),
            templates,
        }
    }

    fn measure_traffic(&self, canary: &Canary, metric: &MetricSpec, now_ms: i64) -> Measurement {
        let Some(kind) = TrafficMetric::from_name(&metric.name) else {
            return Measurement::missing(format!(
                "metric {} is not built in (request-success-rate, request-duration); give it a `query:` and run with --prometheus URL",
                metric.name
            ));
        };
        let window = metric.interval.unwrap_or(canary.spec.analysis.interval);
        self.traffic.snapshot(now_ms);
        let (canary_value, canary_series) =
            self.traffic.measure(kind, Backend::Canary, window, now_ms);
        let (primary, primary_series) =
            self.traffic.measure(kind, Backend::Primary, window, now_ms);
        Measurement {
            canary: canary_value,
            primary,
            canary_series,
            primary_series,
            note: if canary_value.is_some() {
                String::new()
            } else {
                format!(
                    "no request reached the canary through the proxy in the last {}: is load flowing through it?",
                    crate::canary::format_duration(window)
                )
            },
        }
    }
}

impl MetricSource for LocalMetrics {
    async fn measure(&self, canary: &Canary, metric: &MetricSpec, now_ms: i64) -> Measurement {
        if let Some(reference) = &metric.template_ref {
            let namespace = reference
                .namespace
                .as_deref()
                .unwrap_or(&canary.metadata.namespace);
            let key = format!("{namespace}/{}", reference.name);
            let Some((template, own_source)) = self.templates.get(&key) else {
                return Measurement::missing(format!(
                    "metric {}: MetricTemplate {key} not found; add it to the Canary's file as another YAML document",
                    metric.name
                ));
            };
            return measure_templated(
                template,
                own_source.as_ref().or(self.prometheus.as_ref()),
                &self.scrape,
                canary,
                metric,
                now_ms,
            )
            .await;
        }
        match (&self.prometheus, &metric.query) {
            (Some(prometheus), _) => prometheus.measure(canary, metric, now_ms).await,
            (None, Some(_)) => Measurement::missing(format!(
                "metric {} has a query; run with --prometheus URL to answer it",
                metric.name
            )),
            (None, None) => self.measure_traffic(canary, metric, now_ms),
        }
    }
}

/// Take a snapshot of `traffic` every second until the task is aborted, so
/// that windows and series have one-second resolution.
pub fn spawn_sampler(traffic: Arc<TrafficStats>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            traffic.snapshot(crate::ports::SystemClock.now_ms());
        }
    })
}
