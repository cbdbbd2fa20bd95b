//! PromQL for a metric: Flagger's built-in queries per provider, and
//! rendering of Flagger's template variables.

use std::collections::BTreeMap;

use crate::canary::{Canary, MetricSpec};

/// Which built-in queries answer `request-success-rate` and
/// `request-duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinQueries {
    /// Linkerd's proxy metrics (`response_total`,
    /// `response_latency_ms_bucket`); Warbler's embedded router exports the
    /// same names.
    Linkerd,
    /// The application's own `http_request_duration_seconds` histogram.
    AppHistogram,
}

impl BuiltinQueries {
    /// The queries for a Canary's `spec.provider` (Linkerd's by default).
    pub fn for_provider(provider: Option<&str>) -> Self {
        match provider {
            Some("kubernetes") | Some("prometheus") => BuiltinQueries::AppHistogram,
            _ => BuiltinQueries::Linkerd,
        }
    }

    /// The template of a built-in metric, if `name` is one.
    pub fn template(self, name: &str) -> Option<&'static str> {
        match (self, name) {
            (BuiltinQueries::Linkerd, "request-success-rate") => Some(
                r#"sum(rate(response_total{namespace="{{ namespace }}", deployment=~"{{ target }}", classification!="failure", direction="inbound"}[{{ interval }}])) / sum(rate(response_total{namespace="{{ namespace }}", deployment=~"{{ target }}", direction="inbound"}[{{ interval }}])) * 100"#,
            ),
            (BuiltinQueries::Linkerd, "request-duration") => Some(
                r#"histogram_quantile(0.99, sum(rate(response_latency_ms_bucket{namespace="{{ namespace }}", deployment=~"{{ target }}", direction="inbound"}[{{ interval }}])) by (le))"#,
            ),
            (BuiltinQueries::AppHistogram, "request-success-rate") => Some(
                r#"sum(rate(http_request_duration_seconds_count{namespace="{{ namespace }}", app="{{ target }}", status!~"5.*"}[{{ interval }}])) / sum(rate(http_request_duration_seconds_count{namespace="{{ namespace }}", app="{{ target }}"}[{{ interval }}])) * 100"#,
            ),
            (BuiltinQueries::AppHistogram, "request-duration") => Some(
                r#"histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{namespace="{{ namespace }}", app="{{ target }}"}[{{ interval }}])) by (le)) * 1000"#,
            ),
            _ => None,
        }
    }
}

/// The values Flagger's templates may use.
#[derive(Debug, Clone)]
pub struct QueryContext<'a> {
    /// `{{ namespace }}`: the Canary's namespace.
    pub namespace: &'a str,
    /// `{{ target }}`: the workload measured (`NAME` or `NAME-primary`).
    pub target: &'a str,
    /// `{{ service }}`: the Canary's service name.
    pub service: &'a str,
    /// `{{ interval }}`: the metric's window, as a Go duration.
    pub interval: String,
    /// `{{ variables.NAME }}`: the metric's `templateVariables`.
    pub variables: &'a BTreeMap<String, String>,
}

/// Replace `{{ name }}` placeholders; an unknown one is an error that lists
/// the known ones.
pub fn render(template: &str, context: &QueryContext<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed `{{{{` in query `{template}`"))?;
        let name = after[..end].trim().trim_start_matches('.');
        let value = match name {
            "namespace" => context.namespace.to_owned(),
            "target" | "name" => context.target.to_owned(),
            "service" => context.service.to_owned(),
            "interval" => context.interval.clone(),
            _ => match name.strip_prefix("variables.") {
                Some(var) => context.variables.get(var).cloned().ok_or_else(|| {
                    format!("the query uses `{{{{ variables.{var} }}}}` but templateVariables has no `{var}`")
                })?,
                None => {
                    return Err(format!(
                        "the query uses `{{{{ {name} }}}}`, which Warbler does not know; use namespace, target, service, interval or variables.NAME"
                    ));
                }
            },
        };
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Renders a metric's templates for the canary (`NAME`) and for its primary
/// (`NAME-primary`), the two workloads every source measures.
pub struct Targets<'a> {
    canary: &'a Canary,
    metric: &'a MetricSpec,
    primary: String,
    interval: String,
}

impl<'a> Targets<'a> {
    /// The targets of `metric` of `canary`, over the metric's window.
    pub fn new(canary: &'a Canary, metric: &'a MetricSpec) -> Self {
        let window = metric.interval.unwrap_or(canary.spec.analysis.interval);
        Targets {
            canary,
            metric,
            primary: format!("{}-primary", canary.spec.target_ref.name),
            interval: crate::canary::format_duration(window),
        }
    }

    fn render(&self, template: &str, target: &str) -> Result<String, String> {
        let context = QueryContext {
            namespace: &self.canary.metadata.namespace,
            target,
            service: self.canary.spec.service.name.as_deref().unwrap_or(target),
            interval: self.interval.clone(),
            variables: &self.metric.template_variables,
        };
        render(template, &context)
    }

    /// `template` rendered for the canary and for the primary.
    pub fn both(&self, template: &str) -> Result<(String, String), String> {
        Ok((
            self.render(template, &self.canary.spec.target_ref.name)?,
            self.render(template, &self.primary)?,
        ))
    }
}

/// The query template for `metric`: its inline `query`, or the built-in one.
pub fn template_of(metric: &MetricSpec, builtins: BuiltinQueries) -> Result<&str, String> {
    if let Some(query) = &metric.query {
        return Ok(query);
    }
    if metric.template_ref.is_some() {
        return Err(format!(
            "metric {} uses templateRef, which this source cannot resolve; in local mode add the MetricTemplate to the Canary's file as another YAML document",
            metric.name
        ));
    }
    builtins.template(&metric.name).ok_or_else(|| {
        format!(
            "metric {} is not built in (request-success-rate, request-duration); give it a `query:`",
            metric.name
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(variables: &BTreeMap<String, String>) -> QueryContext<'_> {
        QueryContext {
            namespace: "podinfo",
            target: "frontend",
            service: "frontend",
            interval: "1m".to_owned(),
            variables,
        }
    }

    #[test]
    fn renders_flaggers_variables() {
        let vars = BTreeMap::from([("path".to_owned(), "/api".to_owned())]);
        let query = render(
            r#"rate(x{ns="{{ namespace }}",d="{{target}}",p="{{ variables.path }}"}[{{ interval }}])"#,
            &context(&vars),
        )
        .unwrap();
        assert_eq!(query, r#"rate(x{ns="podinfo",d="frontend",p="/api"}[1m])"#);
    }

    #[test]
    fn an_unknown_variable_is_named() {
        let vars = BTreeMap::new();
        let err = render("{{ ingress }}", &context(&vars)).unwrap_err();
        assert!(err.contains("`{{ ingress }}`"), "{err}");
        let err = render("{{ variables.path }}", &context(&vars)).unwrap_err();
        assert!(err.contains("templateVariables has no `path`"), "{err}");
    }

    #[test]
    fn the_linkerd_success_rate_query_matches_flaggers() {
        let vars = BTreeMap::new();
        let template = BuiltinQueries::Linkerd
            .template("request-success-rate")
            .unwrap();
        let query = render(template, &context(&vars)).unwrap();
        assert!(query.starts_with(r#"sum(rate(response_total{namespace="podinfo", deployment=~"frontend", classification!="failure", direction="inbound"}[1m]))"#));
    }
}
