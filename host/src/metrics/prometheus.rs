//! The Prometheus HTTP API as a [`MetricSource`]: an instant query for the
//! value and a range query for the samples, for the canary and the primary.

use std::time::Duration;

use serde::Deserialize;
use warbler_guest_sdk::Series;

use super::query::{BuiltinQueries, Targets, template_of};
use crate::canary::{Canary, MetricSpec};
use crate::ports::{Measurement, MetricSource};

/// Samples per window in the series given to policies.
const SAMPLES_PER_WINDOW: u32 = 60;

/// A Prometheus server.
#[derive(Debug, Clone)]
pub struct PrometheusSource {
    address: String,
    client: reqwest::Client,
}

impl PrometheusSource {
    /// A source querying the server at `address`, e.g.
    /// `http://prometheus.monitoring:9090`.
    pub fn new(address: &str) -> Self {
        PrometheusSource {
            address: address.trim_end_matches('/').to_owned(),
            client: crate::http::client(Duration::from_secs(10)),
        }
    }

    /// The value of `query` at `at_ms`; `Ok(None)` when it returned no data.
    pub async fn instant(&self, query: &str, at_ms: i64) -> Result<Option<f64>, String> {
        let time = format!("{:.3}", at_ms as f64 / 1000.0);
        let data = self
            .get("query", &[("query", query), ("time", &time)])
            .await?;
        Ok(data
            .result
            .first()
            .and_then(|series| series.value.as_ref())
            .map(|sample| sample.value()))
    }

    /// Evenly spaced samples of `query` over the `window` ending at `end_ms`;
    /// gaps are NaN. `Ok(None)` when it returned no data.
    pub async fn range(
        &self,
        query: &str,
        end_ms: i64,
        window: Duration,
    ) -> Result<Option<Series>, String> {
        let step_ms = (window.as_millis() as u32 / SAMPLES_PER_WINDOW).max(1000);
        let start_ms = end_ms - i64::from(step_ms) * i64::from(SAMPLES_PER_WINDOW - 1);
        let seconds = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
        let step = format!("{:.3}", f64::from(step_ms) / 1000.0);
        let data = self
            .get(
                "query_range",
                &[
                    ("query", query),
                    ("start", &seconds(start_ms)),
                    ("end", &seconds(end_ms)),
                    ("step", &step),
                ],
            )
            .await?;
        let Some(samples) = data.result.first().and_then(|s| s.values.as_ref()) else {
            return Ok(None);
        };
        let mut values = vec![f64::NAN; SAMPLES_PER_WINDOW as usize];
        for sample in samples {
            let offset = (sample.millis() - start_ms) / i64::from(step_ms);
            if let Some(slot) = usize::try_from(offset).ok().and_then(|i| values.get_mut(i)) {
                *slot = sample.value();
            }
        }
        Ok(Some(Series {
            start_ms,
            step_ms,
            values,
        }))
    }

    async fn get(&self, endpoint: &str, params: &[(&str, &str)]) -> Result<QueryData, String> {
        let url = format!("{}/api/v1/{endpoint}", self.address);
        let response = self
            .client
            .get(&url)
            .query(params)
            .send()
            .await
            .map_err(|err| format!("Prometheus at {} is unreachable: {err}", self.address))?;
        let status = response.status();
        let body: ApiResponse = response.json().await.map_err(|err| {
            format!(
                "Prometheus at {} answered {status} with an unreadable body: {err}",
                self.address
            )
        })?;
        match (body.status.as_str(), body.data) {
            ("success", Some(data)) => Ok(data),
            _ => Err(format!(
                "Prometheus at {} rejected the query: {}",
                self.address,
                body.error.unwrap_or_else(|| status.to_string())
            )),
        }
    }
}

impl MetricSource for PrometheusSource {
    async fn measure(&self, canary: &Canary, metric: &MetricSpec, now_ms: i64) -> Measurement {
        let builtins = BuiltinQueries::for_provider(canary.spec.provider.as_deref());
        match template_of(metric, builtins) {
            Ok(template) => self.measure_query(canary, metric, template, now_ms).await,
            Err(note) => Measurement {
                note,
                ..Measurement::default()
            },
        }
    }
}

impl PrometheusSource {
    /// Measure `metric` with the query `template` (Flagger's variables not
    /// yet rendered), e.g. one read from a MetricTemplate.
    pub async fn measure_query(
        &self,
        canary: &Canary,
        metric: &MetricSpec,
        template: &str,
        now_ms: i64,
    ) -> Measurement {
        let window = metric.interval.unwrap_or(canary.spec.analysis.interval);
        let (canary_query, primary_query) = match Targets::new(canary, metric).both(template) {
            Ok(queries) => queries,
            Err(note) => {
                return Measurement {
                    note: format!("metric {}: {note}", metric.name),
                    ..Measurement::default()
                };
            }
        };
        // Only a query that names its target can tell canary from primary.
        let has_baseline = canary_query != primary_query;
        let mut notes = Vec::new();
        let mut value = |result: Result<Option<f64>, String>, query: &str| match result {
            Ok(Some(v)) => Some(v),
            Ok(None) => {
                notes.push(format!("query returned no data: {query}"));
                None
            }
            Err(err) => {
                notes.push(err);
                None
            }
        };
        let canary_value = value(self.instant(&canary_query, now_ms).await, &canary_query);
        let canary_series = self
            .range(&canary_query, now_ms, window)
            .await
            .ok()
            .flatten();
        let (primary_value, primary_series) = if has_baseline {
            (
                self.instant(&primary_query, now_ms).await.ok().flatten(),
                self.range(&primary_query, now_ms, window)
                    .await
                    .ok()
                    .flatten(),
            )
        } else {
            (None, None)
        };
        Measurement {
            canary: canary_value,
            primary: primary_value,
            canary_series,
            primary_series,
            note: if canary_value.is_some_and(|v| !v.is_nan()) {
                String::new()
            } else if notes.is_empty() {
                format!("query returned NaN (no traffic in the window?): {canary_query}")
            } else {
                notes.join("; ")
            },
        }
    }
}

#[derive(Debug, Deserialize)]
struct ApiResponse {
    status: String,
    data: Option<QueryData>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct QueryData {
    result: Vec<ResultSeries>,
}

#[derive(Debug, Deserialize)]
struct ResultSeries {
    value: Option<Sample>,
    values: Option<Vec<Sample>>,
}

/// `[unix seconds, "value"]`.
#[derive(Debug, Deserialize)]
struct Sample(f64, String);

impl Sample {
    fn value(&self) -> f64 {
        // Prometheus writes NaN, +Inf and -Inf as strings Rust parses too.
        self.1.parse().unwrap_or(f64::NAN)
    }

    fn millis(&self) -> i64 {
        (self.0 * 1000.0).round() as i64
    }
}
