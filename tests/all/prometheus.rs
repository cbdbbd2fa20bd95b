//! The Prometheus metric source against a real Prometheus server (Debian
//! package `prometheus`, started on loopback by this test) scraping an
//! exporter of Linkerd's proxy metrics.

use std::time::{Duration, Instant};

use warbler::canary::Canary;
use warbler::metrics::PrometheusSource;
use warbler::ports::MetricSource;

use crate::common;
use crate::http_server::{self, TestServer};
use crate::prometheus_server::{free_port, start_prometheus};

/// Serves Linkerd-style counters that grow with time: the canary answers
/// 95% of requests successfully in 50 ms, the primary all of them in 10 ms.
fn start_exporter() -> TestServer {
    let started = Instant::now();
    http_server::serve(move |_| {
        let t = started.elapsed().as_secs_f64();
        let mut body = String::new();
        for (deployment, ok, failed, latency_le) in [
            ("frontend", 95.0, 5.0, 50),
            ("frontend-primary", 100.0, 0.0, 10),
        ] {
            let labels =
                format!(r#"namespace="podinfo",deployment="{deployment}",direction="inbound""#);
            body.push_str(&format!(
                "response_total{{{labels},classification=\"success\"}} {}\n",
                (ok * t).floor()
            ));
            body.push_str(&format!(
                "response_total{{{labels},classification=\"failure\"}} {}\n",
                (failed * t).floor()
            ));
            for le in [10, 50, 100] {
                let count = if le >= latency_le {
                    ((ok + failed) * t).floor()
                } else {
                    0.0
                };
                body.push_str(&format!(
                    "response_latency_ms_bucket{{{labels},le=\"{le}\"}} {count}\n"
                ));
            }
            body.push_str(&format!(
                "response_latency_ms_bucket{{{labels},le=\"+Inf\"}} {}\n",
                ((ok + failed) * t).floor()
            ));
        }
        (200, body)
    })
}

fn frontend() -> Canary {
    common::frontend_canary(
        r#"  analysis:
    interval: 5s
    stepWeight: 10
    metrics:
    - { name: request-success-rate, interval: 5s, thresholdRange: { min: 99 } }
    - { name: request-duration, interval: 5s, thresholdRange: { max: 500 } }
    - { name: errors-per-second, interval: 5s, query: 'sum(rate(response_total{namespace="{{ namespace }}", deployment="{{ target }}", classification="failure"}[{{ interval }}]))' }
    - { name: nothing-here, interval: 5s, query: 'sum(rate(no_such_metric_total[{{ interval }}]))' }
"#,
    )
}

fn now_ms() -> i64 {
    warbler::ports::Clock::now_ms(&warbler::ports::SystemClock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_and_custom_queries_measure_canary_and_primary() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = start_exporter();
    let prometheus = start_prometheus(dir.path(), exporter.port);
    let source = PrometheusSource::new(&prometheus.address);
    let canary = frontend();
    let metrics = &canary.spec.analysis.metrics;

    // Wait until rate() over the 5 s window has at least two scrapes.
    let deadline = Instant::now() + Duration::from_secs(40);
    let success = loop {
        let m = source.measure(&canary, &metrics[0], now_ms()).await;
        if m.canary.is_some_and(|v| !v.is_nan()) && m.primary.is_some_and(|v| !v.is_nan()) {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "no data from Prometheus: {}",
            m.note
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let canary_rate = success.canary.unwrap();
    assert!(
        (90.0..=99.0).contains(&canary_rate),
        "canary success rate {canary_rate}"
    );
    assert!(
        success.primary.unwrap() > 99.9,
        "primary {:?}",
        success.primary
    );
    let series = success.canary_series.expect("a series over the window");
    assert_eq!(series.values.len(), 60);
    assert!(series.present().count() > 0);

    let duration = source.measure(&canary, &metrics[1], now_ms()).await;
    let p99 = duration.canary.unwrap();
    assert!((10.0..=50.0).contains(&p99), "canary p99 {p99}");
    assert!(duration.primary.unwrap() <= 10.0);

    let errors = source.measure(&canary, &metrics[2], now_ms()).await;
    assert!(errors.canary.unwrap() > 0.5, "{errors:?}");
    assert_eq!(errors.primary, Some(0.0), "the primary has no failures");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_without_data_names_the_query() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = start_exporter();
    let prometheus = start_prometheus(dir.path(), exporter.port);
    let source = PrometheusSource::new(&prometheus.address);
    let canary = frontend();
    let m = source
        .measure(&canary, &canary.spec.analysis.metrics[3], now_ms())
        .await;
    assert_eq!(m.canary, None);
    assert!(m.note.contains("no_such_metric_total"), "{}", m.note);
}

#[tokio::test]
async fn an_unreachable_prometheus_is_a_missing_value_with_a_note() {
    let source = PrometheusSource::new(&format!("http://127.0.0.1:{}", free_port()));
    let canary = frontend();
    let m = source
        .measure(&canary, &canary.spec.analysis.metrics[0], now_ms())
        .await;
    assert_eq!(m.canary, None);
    assert!(m.note.contains("is unreachable"), "{}", m.note);
}
