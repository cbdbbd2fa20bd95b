//! What Linkerd's proxies would export for the frontend's pods, on
//! 127.0.0.1: `response_total` and `response_latency_ms` for the deployments
//! `frontend` (the canary) and `frontend-primary`, growing at 10 requests a
//! second each, with the canary's health set by the test. Prometheus scrapes
//! it; the controller sees only Prometheus. It also answers the load test's
//! requests with 200.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::http_server::{self, TestServer};

/// Latency bucket bounds of `response_latency_ms`, as Linkerd's.
const BUCKETS: [f64; 7] = [10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, f64::INFINITY];
/// Requests a second each deployment serves.
const RATE: f64 = 10.0;

/// How a deployment serves.
#[derive(Debug, Clone, Copy)]
pub struct Health {
    /// Fraction of requests that succeed.
    pub success: f64,
    /// Latency of every request, ms.
    pub latency_ms: f64,
}

impl Health {
    /// 100% success in 30 ms.
    pub const GOOD: Health = Health {
        success: 1.0,
        latency_ms: 30.0,
    };
    /// Half the requests fail, in 700 ms.
    pub const BAD: Health = Health {
        success: 0.5,
        latency_ms: 700.0,
    };
}

#[derive(Default, Clone)]
struct Counters {
    success: f64,
    failure: f64,
    buckets: [f64; 7],
}

impl Counters {
    fn add(&mut self, health: Health, requests: f64) {
        self.success += requests * health.success;
        self.failure += requests * (1.0 - health.success);
        for (count, bound) in self.buckets.iter_mut().zip(BUCKETS) {
            if health.latency_ms <= bound {
                *count += requests;
            }
        }
    }
}

struct State {
    canary: Health,
    counters: [Counters; 2],
}

/// The exporter; stops counting when dropped.
pub struct Exporter {
    server: TestServer,
    state: Arc<Mutex<State>>,
    running: Arc<AtomicBool>,
}

impl Exporter {
    /// Start exporting for `namespace`, the canary healthy.
    pub fn start(namespace: &str) -> Exporter {
        let state = Arc::new(Mutex::new(State {
            canary: Health::GOOD,
            counters: [Counters::default(), Counters::default()],
        }));
        let running = Arc::new(AtomicBool::new(true));
        let (ticking, alive) = (state.clone(), running.clone());
        std::thread::spawn(move || {
            let tick = Duration::from_millis(100);
            while alive.load(Ordering::Relaxed) {
                std::thread::sleep(tick);
                let mut state = ticking.lock().unwrap();
                let canary = state.canary;
                state.counters[0].add(canary, RATE * tick.as_secs_f64());
                state.counters[1].add(Health::GOOD, RATE * tick.as_secs_f64());
            }
        });
        let (serving, namespace) = (state.clone(), namespace.to_owned());
        let server = http_server::serve(move |request| {
            if request.path != "/metrics" {
                return (200, "ok".to_owned());
            }
            let state = serving.lock().unwrap();
            (200, exposition(&namespace, &state.counters))
        });
        Exporter {
            server,
            state,
            running,
        }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// Where the load test sends its requests.
    pub fn url(&self) -> String {
        self.server.url("/")
    }

    /// From now on the canary serves with `health`.
    pub fn set_canary(&self, health: Health) {
        self.state.lock().unwrap().canary = health;
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
    }
}

fn exposition(namespace: &str, counters: &[Counters; 2]) -> String {
    let mut text = String::new();
    text.push_str("# TYPE response_total counter\n# TYPE response_latency_ms histogram\n");
    for (deployment, counters) in ["frontend", "frontend-primary"].iter().zip(counters) {
        let labels =
            format!(r#"namespace="{namespace}",deployment="{deployment}",direction="inbound""#);
        for (classification, value) in
            [("success", counters.success), ("failure", counters.failure)]
        {
            let _ = writeln!(
                text,
                "response_total{{{labels},classification=\"{classification}\"}} {value}"
            );
        }
        for (bound, count) in BUCKETS.iter().zip(counters.buckets) {
            let le = if bound.is_infinite() {
                "+Inf".to_owned()
            } else {
                bound.to_string()
            };
            let _ = writeln!(
                text,
                "response_latency_ms_bucket{{{labels},le=\"{le}\"}} {count}"
            );
        }
        let total = counters.success + counters.failure;
        let _ = writeln!(text, "response_latency_ms_count{{{labels}}} {total}");
    }
    text
}
