//! The built-in load generator against the sample app.

use std::time::Duration;

use warbler::load::{LoadSpec, run};
use warbler::sample_app::SampleApp;

async fn app(error_rate: f64, latency: Duration) -> String {
    let app = SampleApp {
        version: "1.0.0".to_owned(),
        error_rate,
        latency,
    };
    let (address, _) = app.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
    format!("http://{address}/")
}

fn spec(url: &str) -> LoadSpec {
    LoadSpec {
        url: url.parse().unwrap(),
        method: hyper::Method::GET,
        concurrency: 4,
        rate_per_worker: None,
        duration: None,
        requests: 300,
        timeout: Duration::from_secs(5),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generator_sends_exactly_the_requested_count() {
    let url = app(0.0, Duration::ZERO).await;
    let report = run(&spec(&url)).await;
    assert_eq!(report.total(), 300);
    assert_eq!(report.statuses.get(&200), Some(&300));
    assert_eq!(report.latencies.len(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_app_fails_exactly_its_error_rate() {
    let url = app(0.1, Duration::ZERO).await;
    let report = run(&LoadSpec {
        requests: 1000,
        ..spec(&url)
    })
    .await;
    assert_eq!(report.statuses.get(&500), Some(&100));
    assert_eq!(report.statuses.get(&200), Some(&900));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_app_adds_its_latency() {
    let url = app(0.0, Duration::from_millis(40)).await;
    let report = run(&LoadSpec {
        requests: 20,
        ..spec(&url)
    })
    .await;
    assert!(
        report.quantile(0.0) >= Duration::from_millis(40),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_caps_requests_per_worker() {
    let url = app(0.0, Duration::ZERO).await;
    let report = run(&LoadSpec {
        concurrency: 2,
        rate_per_worker: Some(20.0),
        duration: Some(Duration::from_secs(1)),
        ..spec(&url)
    })
    .await;
    // 2 workers × 20/s × 1 s, plus each worker's first request at t=0.
    assert!(report.total() <= 42, "{} requests", report.total());
    assert!(report.total() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_counts_errors() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let report = run(&LoadSpec {
        requests: 10,
        ..spec(&format!("http://127.0.0.1:{port}/"))
    })
    .await;
    assert_eq!(report.errors, 10);
    assert!(report.statuses.is_empty());
}
