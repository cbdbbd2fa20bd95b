//! The built-in load generator: `hey`'s model (workers, a per-worker rate
//! limit, a duration or a request count) over keep-alive HTTP/1.1.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// `hey`'s flags, with its defaults: what `warbler loadtest` and the
/// load tester's `hey …` commands accept.
#[derive(Debug, Clone, clap::Args)]
pub struct HeyArgs {
    /// The URL to load (http).
    pub url: String,
    /// Stop after this long, e.g. `30s` or `1m` (overrides -n).
    #[arg(short = 'z', value_parser = crate::canary::parse_duration)]
    pub duration: Option<Duration>,
    /// Number of requests to send.
    #[arg(short = 'n', default_value_t = 200)]
    pub requests: u64,
    /// Number of workers sending at once.
    #[arg(short = 'c', default_value_t = 50)]
    pub concurrency: usize,
    /// Rate limit per worker, in requests per second.
    #[arg(short = 'q')]
    pub rate: Option<f64>,
    /// HTTP method.
    #[arg(short = 'm', default_value = "GET")]
    pub method: String,
    /// Timeout of each request, in seconds.
    #[arg(short = 't', default_value_t = 20)]
    pub timeout: u64,
}

/// A `hey` command line, as the load tester receives it.
#[derive(Debug, clap::Parser)]
#[command(name = "hey", disable_help_flag = true)]
struct HeyCommand {
    #[command(flatten)]
    args: HeyArgs,
}

impl HeyArgs {
    /// Parse a `hey …` command line (as in a Flagger load-test webhook's
    /// `cmd`); the error says what is wrong.
    pub fn parse_command(command: &str) -> Result<HeyArgs, String> {
        let words: Vec<&str> = command.split_whitespace().collect();
        if words.first() != Some(&"hey") {
            return Err(format!(
                "`{command}` is not a hey command; Warbler's load tester runs `hey …` natively and nothing else"
            ));
        }
        <HeyCommand as clap::Parser>::try_parse_from(words)
            .map(|c| c.args)
            .map_err(|err| {
                format!(
                    "`{command}`: {}",
                    err.to_string().lines().next().unwrap_or_default()
                )
            })
    }

    /// The load these flags describe.
    pub fn into_spec(self) -> Result<LoadSpec, String> {
        if self.url.starts_with("https:") {
            return Err(format!(
                "{}: the built-in load generator speaks plain HTTP only",
                self.url
            ));
        }
        Ok(LoadSpec {
            url: self
                .url
                .parse()
                .map_err(|err| format!("`{}` is not a URL: {err}", self.url))?,
            method: self
                .method
                .parse()
                .map_err(|_| format!("`{}` is not an HTTP method", self.method))?,
            concurrency: self.concurrency,
            rate_per_worker: self.rate.filter(|q| *q > 0.0),
            duration: self.duration,
            requests: self.requests,
            timeout: Duration::from_secs(self.timeout),
        })
    }
}

/// What load to send.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// The target (http only).
    pub url: Uri,
    /// The method.
    pub method: Method,
    /// Concurrent workers (`hey -c`).
    pub concurrency: usize,
    /// Requests per second per worker (`hey -q`); unlimited when `None`.
    pub rate_per_worker: Option<f64>,
    /// Stop after this long (`hey -z`).
    pub duration: Option<Duration>,
    /// Stop after this many requests (`hey -n`); used when no duration is set.
    pub requests: u64,
    /// Per-request timeout (`hey -t`).
    pub timeout: Duration,
}

/// What the load did.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Responses by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no response (connection errors, timeouts).
    pub errors: u64,
    /// Every response's latency, sorted.
    pub latencies: Vec<Duration>,
}

impl LoadReport {
    /// Requests sent, answered or not.
    pub fn total(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.errors
    }

    /// Requests per second over the run.
    pub fn rate(&self) -> f64 {
        self.total() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// One report of every request in `reports`, over `elapsed`.
    pub fn merge(reports: impl IntoIterator<Item = LoadReport>, elapsed: Duration) -> LoadReport {
        let mut total = LoadReport {
            elapsed,
            ..LoadReport::default()
        };
        for report in reports {
            for (status, count) in report.statuses {
                *total.statuses.entry(status).or_default() += count;
            }
            total.errors += report.errors;
            total.latencies.extend(report.latencies);
        }
        total.latencies.sort();
        total
    }

    /// The latency at quantile `q` (0..=1).
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[index]
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = |d: Duration| d.as_secs_f64();
        writeln!(f, "Summary:")?;
        writeln!(f, "  Total:\t{:.4} secs", secs(self.elapsed))?;
        writeln!(f, "  Slowest:\t{:.4} secs", secs(self.quantile(1.0)))?;
        writeln!(f, "  Fastest:\t{:.4} secs", secs(self.quantile(0.0)))?;
        writeln!(f, "  Requests/sec:\t{:.4}", self.rate())?;
        writeln!(f, "\nLatency distribution:")?;
        for q in [0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99] {
            writeln!(
                f,
                "  {}% in {:.4} secs",
                (q * 100.0) as u32,
                secs(self.quantile(q))
            )?;
        }
        writeln!(f, "\nStatus code distribution:")?;
        for (status, count) in &self.statuses {
            writeln!(f, "  [{status}]\t{count} responses")?;
        }
        if self.errors > 0 {
            writeln!(f, "\nError distribution:\n  [{}]\tno response", self.errors)?;
        }
        Ok(())
    }
}

/// When rate-limited `worker` (of `concurrency`) sends its first request,
/// after the start: workers are spread evenly over one `gap`, so the load is
/// an even stream rather than every worker's request in the same instant (a
/// burst the size of `-c` every gap, which measures queueing at the target
/// instead of its latency).
fn stagger(gap: Duration, worker: usize, concurrency: usize) -> Duration {
    gap.mul_f64(worker as f64 / concurrency.max(1) as f64)
}

/// Send the load and report.
pub async fn run(spec: &LoadSpec) -> LoadReport {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(spec.concurrency)
        .build_http();
    let started = Instant::now();
    let deadline = spec.duration.map(|d| started + d);
    let remaining = Arc::new(AtomicU64::new(if deadline.is_some() {
        u64::MAX
    } else {
        spec.requests
    }));
    // A JoinSet aborts the workers when this future is dropped: cancelling
    // `run` stops the load.
    let mut workers = tokio::task::JoinSet::new();
    let concurrency = spec.concurrency.max(1);
    for worker in 0..concurrency {
        let client = client.clone();
        let spec = spec.clone();
        let remaining = remaining.clone();
        workers.spawn(async move {
            let mut report = LoadReport::default();
            let gap = spec
                .rate_per_worker
                .map(|q| Duration::from_secs_f64(1.0 / q));
            let mut next =
                started + gap.map_or(Duration::ZERO, |gap| stagger(gap, worker, concurrency));
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d)
                    || remaining
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                        .is_err()
                {
                    break;
                }
                if let Some(gap) = gap {
                    if let Some(d) = deadline.filter(|d| next >= *d) {
                        tokio::time::sleep_until(d.into()).await;
                        break;
                    }
                    tokio::time::sleep_until(next.into()).await;
                    next += gap;
                }
                let request = Request::builder()
                    .method(spec.method.clone())
                    .uri(spec.url.clone())
                    .body(Empty::new())
                    .expect("a request from a valid URI and method");
                let sent = Instant::now();
                let outcome = tokio::time::timeout(spec.timeout, async {
                    let response = client.request(request).await.ok()?;
                    let status = response.status().as_u16();
                    response.into_body().collect().await.ok()?;
                    Some(status)
                })
                .await;
                match outcome {
                    Ok(Some(status)) => {
                        report.latencies.push(sent.elapsed());
                        *report.statuses.entry(status).or_default() += 1;
                    }
                    _ => report.errors += 1,
                }
            }
            report
        });
    }
    let mut reports = Vec::with_capacity(concurrency);
    while let Some(report) = workers.join_next().await {
        reports.push(report.expect("load workers do not panic"));
    }
    LoadReport::merge(reports, started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limited_workers_start_spread_evenly_over_one_gap() {
        let gap = Duration::from_millis(10);
        let starts: Vec<Duration> = (0..5).map(|worker| stagger(gap, worker, 5)).collect();
        assert_eq!(
            starts,
            [0, 2, 4, 6, 8].map(Duration::from_millis),
            "one worker every gap/concurrency, all within the first gap"
        );
    }
}
