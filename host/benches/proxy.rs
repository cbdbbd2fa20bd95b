//! Latency the embedded weighted proxy adds, at 5,000 requests per second on
//! loopback: the same load sent to a sample app directly and through the
//! proxy. Target: p99 added ≤ 1 ms.
//!
//! `cargo bench -p warbler --bench proxy` (release build; prints figures).

use std::sync::Arc;
use std::time::Duration;

use warbler::load::{LoadReport, LoadSpec, run};
use warbler::local::{TrafficStats, WeightedProxy};
use warbler::sample_app::SampleApp;

const RATE: f64 = 5000.0;
const WORKERS: usize = 50;
const MEASURE: Duration = Duration::from_secs(10);
const WARM_UP: Duration = Duration::from_secs(2);

fn spec(url: &str, duration: Duration) -> LoadSpec {
    LoadSpec {
        url: url.parse().expect("a valid URL"),
        method: hyper::Method::GET,
        concurrency: WORKERS,
        rate_per_worker: Some(RATE / WORKERS as f64),
        duration: Some(duration),
        requests: 0,
        timeout: Duration::from_secs(5),
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn print(label: &str, report: &LoadReport) {
    println!(
        "{label:<7} {:>7.0} req/s  p50 {:>6.3} ms  p99 {:>6.3} ms  p99.9 {:>6.3} ms  errors {}",
        report.rate(),
        ms(report.quantile(0.5)),
        ms(report.quantile(0.99)),
        ms(report.quantile(0.999)),
        report.errors
            + report
                .statuses
                .iter()
                .filter(|(s, _)| **s >= 500)
                .map(|(_, n)| n)
                .sum::<u64>()
    );
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let app = SampleApp {
            version: "bench".to_owned(),
            error_rate: 0.0,
            latency: Duration::ZERO,
        };
        let (app_address, _app) = app
            .spawn("127.0.0.1:0".parse().expect("an address"))
            .await
            .expect("the sample app binds");
        let proxy = WeightedProxy::new(Arc::new(TrafficStats::new("bench", "app")));
        proxy.set_primary(Some(app_address.to_string().parse().expect("an authority")));
        let (proxy_address, _proxy) = proxy
            .spawn("127.0.0.1:0".parse().expect("an address"))
            .await
            .expect("the proxy binds");
        let direct = format!("http://{app_address}/");
        let proxied = format!("http://{proxy_address}/");
        println!(
            "{RATE} req/s from {WORKERS} workers for {}s each, after {}s of warm-up",
            MEASURE.as_secs(),
            WARM_UP.as_secs()
        );
        run(&spec(&direct, WARM_UP)).await;
        let direct_report = run(&spec(&direct, MEASURE)).await;
        run(&spec(&proxied, WARM_UP)).await;
        let proxy_report = run(&spec(&proxied, MEASURE)).await;
        print("direct", &direct_report);
        print("proxy", &proxy_report);
        println!(
            "added   p50 {:.3} ms  p99 {:.3} ms  (target: p99 added <= 1 ms)",
            ms(proxy_report.quantile(0.5)) - ms(direct_report.quantile(0.5)),
            ms(proxy_report.quantile(0.99)) - ms(direct_report.quantile(0.99)),
        );
    });
}
