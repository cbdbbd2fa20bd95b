//! Metric sources: the Prometheus HTTP API with Flagger's built-in queries and
//! custom queries.

mod prometheus;
mod query;

pub use prometheus::PrometheusSource;
pub use query::{BuiltinQueries, QueryContext, render};
