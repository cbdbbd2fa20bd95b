//! A direct scrape of a `/metrics` endpoint (Prometheus text format, parsed
//! with `prometheus-parse`), for services with no Prometheus server nearby.
//! A MetricTemplate with `provider.type: scrape` names the endpoint in
//! `address` (Flagger's template variables allowed, so the canary and the
//! primary can be scraped apart) and a selector in `query`:
//! `NAME{label="value",...}`, whose matching samples are summed. Values are
//! read as they are at the scrape: gauges, or counters a policy compares
//! over its history.

use std::time::Duration;

use prometheus_parse::{Scrape, Value};

use super::query::Targets;
use crate::canary::{Canary, MetricSpec};
use crate::ports::Measurement;

/// Scrapes `/metrics` endpoints.
#[derive(Debug, Clone)]
pub struct ScrapeSource {
    client: reqwest::Client,
}

impl Default for ScrapeSource {
    fn default() -> Self {
        ScrapeSource {
            client: crate::http::client(Duration::from_secs(5)),
        }
    }
}

/// `NAME{label="value", ...}`, exact label matches only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    name: String,
    labels: Vec<(String, String)>,
}

impl std::str::FromStr for Selector {
    type Err = String;

    fn from_str(query: &str) -> Result<Self, String> {
        let query = query.trim();
        let invalid = |why: &str| {
            format!(
                "`{query}` is not a scrape selector ({why}); write NAME or NAME{{label=\"value\",...}}"
            )
        };
        let (name, rest) = match query.split_once('{') {
            Some((name, rest)) => (name.trim(), Some(rest)),
            None => (query, None),
        };
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if !valid_name {
            return Err(invalid("bad metric name"));
        }
        let mut labels = Vec::new();
        if let Some(rest) = rest {
            let inner = rest
                .strip_suffix('}')
                .ok_or_else(|| invalid("missing `}`"))?;
            for matcher in inner.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                let (label, value) = matcher
                    .split_once('=')
                    .filter(|(label, _)| !label.ends_with(['!', '=']))
                    .ok_or_else(|| invalid("only `label=\"value\"` matchers are supported"))?;
                let value = value
                    .trim()
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .filter(|v| !v.starts_with('~'))
                    .ok_or_else(|| invalid("label values are quoted strings"))?;
                labels.push((label.trim().to_owned(), value.to_owned()));
            }
        }
        Ok(Selector {
            name: name.to_owned(),
            labels,
        })
    }
}

impl Selector {
    /// The sum of the scalar samples `scrape` has for this selector; `None`
    /// when none matches.
    pub fn sum(&self, scrape: &Scrape) -> Option<f64> {
        let mut matched = false;
        let mut sum = 0.0;
        for sample in &scrape.samples {
            if sample.metric != self.name
                || !self
                    .labels
                    .iter()
                    .all(|(label, value)| sample.labels.get(label) == Some(value.as_str()))
            {
                continue;
            }
            if let Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) = sample.value {
                matched = true;
                sum += v;
            }
        }
        matched.then_some(sum)
    }
}

impl ScrapeSource {
    async fn scrape(&self, url: &str) -> Result<Scrape, String> {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|err| format!("cannot scrape {url}: {err}"))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        let text = response
            .text()
            .await
            .map_err(|err| format!("cannot read {url}: {err}"))?;
        Scrape::parse(text.lines().map(|line| Ok(line.to_owned())))
            .map_err(|err| format!("{url} is not in the Prometheus text format: {err}"))
    }

    /// Measure `metric` by scraping `address` and summing the samples
    /// `query` selects (both templates), for the canary and, when either
    /// names the target, for the primary.
    pub async fn measure_query(
        &self,
        canary: &Canary,
        metric: &MetricSpec,
        address: &str,
        query: &str,
    ) -> Measurement {
        let missing = |note: String| Measurement {
            note: format!("metric {}: {note}", metric.name),
            ..Measurement::default()
        };
        let targets = Targets::new(canary, metric);
        let scrapes = targets.both(address).and_then(|(canary_url, primary_url)| {
            let (canary_query, primary_query) = targets.both(query)?;
            Ok((
                (canary_url, canary_query.parse::<Selector>()?),
                (primary_url, primary_query.parse::<Selector>()?),
            ))
        });
        let (canary_scrape, primary_scrape) = match scrapes {
            Ok(scrapes) => scrapes,
            Err(note) => return missing(note),
        };
        let ((canary_url, canary_selector), (primary_url, primary_selector)) =
            (canary_scrape, primary_scrape);
        let page = self.scrape(&canary_url).await;
        let (value, note) = match &page {
            Ok(page) => match canary_selector.sum(page) {
                Some(v) => (Some(v), String::new()),
                None => (
                    None,
                    format!("no sample of {} at {canary_url}", canary_selector.name),
                ),
            },
            Err(note) => (None, note.clone()),
        };
        // Only an address or a selector naming the target tells them apart;
        // one page serves both when only the selector does.
        let primary = if (&primary_url, &primary_selector) == (&canary_url, &canary_selector) {
            None
        } else if primary_url == canary_url {
            page.ok().and_then(|page| primary_selector.sum(&page))
        } else {
            let page = self.scrape(&primary_url).await.ok();
            page.and_then(|page| primary_selector.sum(&page))
        };
        Measurement {
            canary: value,
            primary,
            note,
            ..Measurement::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# TYPE http_requests_total counter
http_requests_total{code="200",method="get"} 90
http_requests_total{code="500",method="get"} 7
http_requests_total{code="500",method="post"} 3
# TYPE queue_depth gauge
queue_depth 12
"#;

    fn scrape() -> Scrape {
        Scrape::parse(TEXT.lines().map(|l| Ok(l.to_owned()))).unwrap()
    }

    fn sum(query: &str) -> Option<f64> {
        query.parse::<Selector>().unwrap().sum(&scrape())
    }

    #[test]
    fn a_selector_sums_the_samples_whose_labels_match() {
        assert_eq!(sum(r#"http_requests_total{code="500"}"#), Some(10.0));
        assert_eq!(
            sum(r#"http_requests_total{code="500", method="get"}"#),
            Some(7.0)
        );
        assert_eq!(sum("http_requests_total"), Some(100.0));
        assert_eq!(sum("queue_depth"), Some(12.0));
    }

    #[test]
    fn a_selector_matching_nothing_has_no_value() {
        assert_eq!(sum(r#"http_requests_total{code="404"}"#), None);
        assert_eq!(sum("no_such_metric"), None);
    }

    #[test]
    fn promql_beyond_exact_matchers_is_refused_with_the_syntax() {
        for query in [
            r#"rate(http_requests_total[1m])"#,
            r#"http_requests_total{code=~"5.."}"#,
            r#"http_requests_total{code!="200"}"#,
        ] {
            let err = query.parse::<Selector>().unwrap_err();
            assert!(err.contains("NAME{label=\"value\""), "{query}: {err}");
        }
    }
}
