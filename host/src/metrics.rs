//! Metric sources: the Prometheus HTTP API with Flagger's built-in queries and
//! custom queries, and direct scrapes of `/metrics` endpoints.

mod prometheus;
mod query;
mod scrape;
mod template;

pub use prometheus::PrometheusSource;
pub use query::{BuiltinQueries, QueryContext, render};
pub use scrape::{ScrapeSource, Selector};
pub use template::measure_templated;
